"""`inspect`: a table's figures, duplicate rows and quality score, for people, scripts or a page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from dataspoc_lens.cli.app import NO_TABLES, BucketOption, DebugOption, command, resolve
from dataspoc_lens.console import out, say

if TYPE_CHECKING:
    from dataspoc_lens.catalog import Catalog
    from dataspoc_lens.contract.models import Table


@command(
    "dataspoc-lens inspect raw.shop.orders",
    "dataspoc-lens inspect orders --key order_id --json > orders-profile.json",
    "dataspoc-lens inspect raw.shop.orders --html orders.html",
    "dataspoc-lens inspect raw.web.clicks --sample 1000000",
    "dataspoc-lens inspect --all --bucket s3://lake",
)
def inspect(
    table: Annotated[
        str | None, typer.Argument(help="The table: layer.namespace.name, or a unique shorter name.")
    ] = None,
    bucket: BucketOption = "./bucket",
    all_tables: Annotated[
        bool,
        typer.Option("--all", help="One line per table: rows, columns, null share, duplicate rows, quality score."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON on stdout.")] = False,
    html: Annotated[
        str | None,
        typer.Option(
            "--html",
            metavar="FILE",
            help="Also write one self-contained HTML page (inline charts, nothing fetched) to FILE.",
        ),
    ] = None,
    sample: Annotated[
        int | None,
        typer.Option(
            "--sample",
            metavar="N",
            min=1,
            help="Profile a random sample of about N rows: faster on huge tables, the figures are estimates.",
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", metavar="COL,COL", help="Count duplicate rows on these columns [default: all columns]."),
    ] = None,
    exact: Annotated[
        bool,
        typer.Option("--exact", help="Exact distinct counts on tables over 1,000,000 rows too (slower)."),
    ] = False,
    debug: DebugOption = False,
) -> None:
    """Profile a table: per column its type, nulls (count and %), distinct values, min, max,
    mean, standard deviation and quartiles of numbers, range of dates, top values and lengths
    of text; duplicate rows; freshness; and a 0-100 quality score with its components.

    The score is the mean of completeness (non-null cells), uniqueness (rows that are not
    duplicates), freshness (100 up to a day after the last run, 0 from 30 days) and, when
    checks ran on the table (dataspoc-pipe, dataspoc-lens test), their score. Distinct counts
    are exact up to 1,000,000 rows (and for text and booleans), approximate (HyperLogLog) above
    unless --exact.
    """
    import json

    from dataspoc_lens import catalog as catalogs
    from dataspoc_lens import inspect as inspecting
    from dataspoc_lens import report_text
    from dataspoc_lens.bucket import Bucket
    from dataspoc_lens.errors import UsageError
    from dataspoc_lens.session import Session

    if (table is None) == (not all_tables):
        raise UsageError("name one TABLE, or pass --all for every table")
    if all_tables and (key is not None or html is not None):
        raise UsageError("--key and --html take one TABLE; leave out --all")
    keys = [k.strip() for k in key.split(",")] if key is not None else None
    if keys is not None and not all(keys):
        raise UsageError(f"--key {key}: name the columns separated by commas, e.g. --key order_id,dt")
    found = catalogs.load(Bucket(resolve(bucket)))
    if all_tables:
        _all(found, sample, exact, as_json)
        return
    assert table is not None
    chosen = found.resolve(table)
    with Session(found) as session:
        profile = inspecting.profile(session, chosen, key=keys, sample=sample, exact=exact)
    if html is not None:
        from dataspoc_lens import report_html

        written = report_html.write(html, profile)
        say(f"wrote {written}")
    if as_json:
        out(json.dumps(inspecting.as_dict(profile), indent=2))
    else:
        report_text.report(profile)


def _all(found: Catalog[Table], sample: int | None, exact: bool, as_json: bool) -> None:
    """Every table's one-line summary; a table that cannot be read gets its error in its line,
    the others still run, and the command then fails."""
    import json

    from dataspoc_lens import diagnostics, report_text
    from dataspoc_lens import inspect as inspecting
    from dataspoc_lens.errors import ExitCode, LensError
    from dataspoc_lens.session import Session

    if not found.tables:
        say(NO_TABLES)
    rows: list[dict] = []
    failed = ExitCode.OK
    with Session(found) as session:
        for table in sorted(found.tables, key=lambda t: t.qualified):
            try:
                rows.append(inspecting.summary(inspecting.profile(session, table, sample=sample, exact=exact)))
            except LensError as exc:
                rows.append({"table": table.qualified, "error": diagnostics.one_line(str(exc))})
                failed = max(failed, diagnostics.report(exc, prefix=f"{table.qualified}: "))
    if as_json:
        out(json.dumps(rows, indent=2))
    elif rows:
        report_text.summaries(rows)
    if failed:
        raise typer.Exit(int(failed))

"""`transform list|run|show|vacuum` and `test`: gold tables from the transforms folder."""

from __future__ import annotations

from typing import Annotated

import typer

from dataspoc_lens import diagnostics
from dataspoc_lens.cli.app import BucketOption, DebugOption, app, command, resolve
from dataspoc_lens.console import out, say
from dataspoc_lens.diagnostics import EXIT_CODES_HELP, epilog

transform_app = typer.Typer(
    help="Gold tables from SQL: one .sql file per table in transforms/<domain>/<name>.sql, run in "
    "dependency order, written to gold/<domain>/<name>/ in the bucket.\n\n"
    "Example: dataspoc-lens transform run --select +sales.customer_value --bucket s3://lake\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
app.add_typer(transform_app, name="transform")

ProjectOption = Annotated[
    str | None,
    typer.Option("--project", help="The transforms folder [default: ./transforms].", show_default=False),
]
SelectOption = Annotated[
    list[str] | None,
    typer.Option(
        "--select",
        "-s",
        help="Models to take: NAME (domain.name or a unique name), +NAME (with what it reads), "
        "NAME+ (with what reads it), tag:TAG; repeat or separate with commas. Default: all.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]


def transform_command(*examples: str, name: str | None = None):
    return lambda fn: transform_app.command(name, epilog=epilog(*examples))(diagnostics.reporting(fn))


def _graph(project: str | None, bucket: str):
    from dataspoc_lens import catalog as catalogs
    from dataspoc_lens.bucket import Bucket
    from dataspoc_lens.gold import dag
    from dataspoc_lens.gold import project as projects

    target = Bucket(resolve(bucket))
    return target, dag.build(projects.load(projects.folder(project)), catalogs.load(target))


@transform_command(
    "dataspoc-lens transform list", "dataspoc-lens transform list --select tag:daily --json", name="list"
)
def list_models(
    select: SelectOption = None,
    project: ProjectOption = None,
    bucket: BucketOption = "./bucket",
    as_json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """List the models in run order, each with how it is materialized and what it reads."""
    import json

    from dataspoc_lens import render

    _, graph = _graph(project, bucket)
    rows = []
    for position, model in enumerate(graph.select(select or []), 1):
        node = graph.nodes[model.qualified]
        rows.append(
            {
                "order": position,
                "model": model.key,
                "table": model.qualified,
                "file": model.path,
                "materialized": model.settings.materialized,
                "partition_by": model.settings.partition_by,
                "unique_key": model.settings.unique_key,
                "tags": model.settings.tags,
                "tests": len(model.settings.tests),
                "reads": node.upstream_tables + node.upstream_models,
            }
        )
    if as_json:
        out(json.dumps(rows, indent=2))
        return
    if not rows:
        say("no models in the transforms folder")
        return
    names = ["order", "model", "materialized", "reads"]
    render.records(
        names,
        [[r["order"], r["model"], r["materialized"], ", ".join(r["reads"])] for r in rows],
        "table",
    )


@transform_command(
    "dataspoc-lens transform run",
    "dataspoc-lens transform run --select +sales.customer_value --bucket s3://lake",
    "dataspoc-lens transform run --select tag:daily --full",
)
def run(
    select: SelectOption = None,
    full: Annotated[bool, typer.Option("--full", help="Rebuild every selected model whole, changed or not.")] = False,
    project: ProjectOption = None,
    bucket: BucketOption = "./bucket",
    as_json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Build the selected models in dependency order and publish each to gold/.

    A model whose inputs and SQL did not change since its last run is left as it is; an
    incremental model rebuilds only the partitions whose inputs changed, or merges on its
    unique_key. Readers see a table's old version or its new one, never a mix. A model that
    fails keeps its old version, the models that read it are skipped, and the run exits 1.
    """
    import json

    from dataspoc_lens.bucket import Bucket
    from dataspoc_lens.errors import ModelFailed
    from dataspoc_lens.gold import project as projects
    from dataspoc_lens.gold import report as reporting
    from dataspoc_lens.gold import run as runner

    outcome = runner.run(
        Bucket(resolve(bucket)),
        projects.folder(project),
        select or [],
        full,
        on_done=reporting.done,
    )
    if as_json:
        out(json.dumps([o.document() for o in outcome.outcomes], indent=2))
    say(reporting.summary(outcome))
    if outcome.failed:
        raise ModelFailed(reporting.failure(outcome))


@transform_command(
    "dataspoc-lens transform show sales.daily_revenue", "dataspoc-lens transform show daily_revenue --incremental"
)
def show(
    model: Annotated[str, typer.Argument(help="The model: domain.name, or a unique name.")],
    incremental: Annotated[
        bool, typer.Option("--incremental", help="Show the SQL of an incremental run (is_incremental() blocks kept).")
    ] = False,
    project: ProjectOption = None,
    bucket: BucketOption = "./bucket",
    debug: DebugOption = False,
) -> None:
    """Print a model's compiled SQL: what DuckDB runs, with {{ this }} named."""
    _, graph = _graph(project, bucket)
    out(graph.find(model).compiled(incremental) + ";")


@transform_command("dataspoc-lens transform vacuum", "dataspoc-lens transform vacuum --retain 0 --dry-run")
def vacuum(
    retain: Annotated[str, typer.Option("--retain", help="Keep replaced files this long (7d, 12h, 30m, 0).")] = "7d",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")] = False,
    bucket: BucketOption = "./bucket",
    as_json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Delete the files that later runs of gold models replaced, once older than the retention.

    They leave the manifest first, then the bucket: a query that planned on them before still
    finds them until the retention has passed.
    """
    import json

    from dataspoc_lens.bucket import Bucket
    from dataspoc_lens.gold import vacuum as cleaner

    report = cleaner.vacuum(Bucket(resolve(bucket)), cleaner.retention(retain), dry_run)
    if as_json:
        out(
            json.dumps(
                {"deleted": report.deleted, "kept": report.kept, "bytes": report.bytes, "dry_run": dry_run}, indent=2
            )
        )
    verb = "would delete" if dry_run else "deleted"
    say(f"{verb} {len(report.deleted)} replaced file(s) of gold tables; {report.kept} kept within the retention")


@command(
    "dataspoc-lens test",
    "dataspoc-lens test --select sales.daily_revenue --bucket s3://lake",
    "dataspoc-lens test --json --show 20",
)
def test(
    select: SelectOption = None,
    show_rows: Annotated[int, typer.Option("--show", min=0, help="Failing rows to show per check.")] = 5,
    project: ProjectOption = None,
    bucket: BucketOption = "./bucket",
    as_json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Run the checks the selected models declare (`tests:`) on their gold tables.

    One line per check, with the first failing rows; each table's results and 0–100 score go to
    its manifest entry (the score is the one contract/QUALITY.md defines). Exits 1 when a check
    of severity error fails.
    """
    import json

    from dataspoc_lens.bucket import Bucket
    from dataspoc_lens.errors import ChecksFailed
    from dataspoc_lens.gold import check_run
    from dataspoc_lens.gold import project as projects
    from dataspoc_lens.gold import report as reporting

    reports = check_run.run(Bucket(resolve(bucket)), projects.folder(project), select or [], show_rows)
    if as_json:
        out(json.dumps([r.document() for r in reports], indent=2, default=str))
    else:
        reporting.checks(reports)
    failing = [(r.model, c.name) for r in reports for c in r.results if c.status == "fail" and c.severity == "error"]
    missing = [r.model for r in reports if r.missing]
    if failing:
        first = f"{failing[0][0]}: {failing[0][1]}"
        more = f" (and {len(failing) - 1} more)" if len(failing) > 1 else ""
        raise ChecksFailed(f"check {first} failed{more}; see the rows above")
    if missing:
        raise ChecksFailed(f"{missing[0]} has never been built: run `dataspoc-lens transform run` first")

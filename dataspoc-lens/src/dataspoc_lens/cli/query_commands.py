"""`query`, `shell` and `cache`: running SQL."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from dataspoc_lens.cli import handlers
from dataspoc_lens.cli.app import (
    BucketOption,
    DebugOption,
    Format,
    command,
    resolve,
)
from dataspoc_lens.console import out, say


@command(
    "dataspoc-lens query 'SELECT dt, count(*) FROM raw.shop.orders GROUP BY dt' --format csv > counts.csv",
    "dataspoc-lens query -f report.sql --output report.parquet",
    "echo 'SELECT * FROM orders LIMIT 5' | dataspoc-lens query --format jsonl",
)
def query(
    sql: Annotated[
        str | None, typer.Argument(help="The SQL to run; - or nothing reads it from stdin (or use --file).")
    ] = None,
    file: Annotated[str | None, typer.Option("--file", "-f", help="Read the SQL from this file.")] = None,
    bucket: Annotated[
        list[str] | None,
        typer.Option(
            "--bucket",
            help="Bucket: a saved name or a URL [default: $DATASPOC_BUCKET, else ./bucket]. Give it again to "
            "query several buckets at once, each a database named after it: finance.gold.revenue.",
        ),
    ] = None,
    fmt: Annotated[
        Format | None,
        typer.Option(
            "--format", help="table, csv, tsv, json, jsonl, markdown, parquet [default: table, or --output's suffix]."
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", help="Write the result to this file (once, streamed; replaced whole at the end)."
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", "--max-rows", min=0, help="At most N rows; 0 for all [default: 100 for table, else all]."
        ),
    ] = None,
    timer: Annotated[bool, typer.Option("--timer", help="Say on stderr how long the query took.")] = False,
    write: Annotated[
        bool, typer.Option("--write", help="Allow COPY ... TO files under the current folder (never the bucket).")
    ] = False,
    write_dir: Annotated[
        str | None, typer.Option("--write-dir", help="Allow COPY ... TO files under this folder (implies --write).")
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Answer from the local cache only; never reach the bucket.")
    ] = False,
    debug: DebugOption = False,
) -> None:
    """Run SQL over the bucket's tables; the result goes to stdout or --output.

    Several statements run in order and only the last one's result is printed. Tables are
    views named layer.namespace.name (raw.shop.orders), or just the name when it is unique.
    Queries are read-only: they read the bucket's tables and nothing else, unless --write lets
    COPY write files into a folder outside the bucket.
    """
    handlers.query(sql, file, bucket, fmt.value if fmt else None, output, limit, timer, write, write_dir, offline)


@command("dataspoc-lens shell", "dataspoc-lens shell --bucket finance")
def shell(bucket: BucketOption = "./bucket", debug: DebugOption = False) -> None:
    """An interactive SQL prompt over the bucket: multi-line SQL ending at `;`, highlighting,
    completion of keywords, tables, columns and dot commands, history, a pager, and Ctrl-C
    that cancels the running query. `.help` lists the dot commands."""
    from dataspoc_lens import catalog as catalogs
    from dataspoc_lens import shell as shells
    from dataspoc_lens.bucket import Bucket
    from dataspoc_lens.errors import UsageError
    from dataspoc_lens.session import Session

    if not sys.stdin.isatty():
        raise UsageError("the shell needs a terminal; pipe SQL to `dataspoc-lens query` instead")

    def open_session(uri: str) -> Session:
        return Session(catalogs.load(Bucket(uri)))

    shells.run(shells.Shell(resolve(bucket), open_session))


@command(
    "dataspoc-lens cache raw.shop.orders --bucket s3://lake",
    "dataspoc-lens cache --all",
    "dataspoc-lens cache list",
    "dataspoc-lens cache refresh",
    "dataspoc-lens cache clear raw.shop.orders",
)
def cache(
    args: Annotated[
        list[str] | None,
        typer.Argument(help="Tables to copy; or list, refresh [TABLE], clear [TABLE]."),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Copy every table of the bucket.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
    bucket: BucketOption = "./bucket",
    debug: DebugOption = False,
) -> None:
    """Keep a local copy of remote tables (partition folders kept); queries use it while the
    manifest says the table has not changed, and `query --offline` answers from it alone.
    Bounded by cache_max_bytes in ~/.dataspoc-lens/config.yaml (5 GiB by default): the least
    recently used tables go first."""
    import json

    from dataspoc_lens import cache as caching
    from dataspoc_lens import catalog as catalogs
    from dataspoc_lens import render
    from dataspoc_lens.bucket import Bucket
    from dataspoc_lens.errors import UsageError

    target = Bucket(resolve(bucket))
    words = list(args or [])
    verb = words[0] if words and words[0] in ("list", "refresh", "clear") else None
    if verb == "list":
        rows = caching.listing(catalogs.load(target), target)
        if as_json:
            out(json.dumps(rows, indent=2))
        elif rows:
            render.records(
                ["table", "state", "files", "bytes"],
                [[r[k] for k in ("table", "state", "files", "bytes")] for r in rows],
                "table",
            )
        else:
            say("nothing cached for this bucket")
        return
    if verb == "clear":
        count = caching.clear(target, words[1] if len(words) > 1 else None)
        say(f"cleared {count} cached table{'' if count == 1 else 's'}")
        return
    found = catalogs.load(target)
    if verb == "refresh":
        names = words[1:] or [r["table"] for r in caching.listing(found, target) if r["state"] == "stale"]
    elif all_:
        names = [t.qualified for t in found.tables]
    else:
        names = words
    if not names:
        if verb == "refresh":
            say("every cached table is fresh")
            return
        raise UsageError("name the tables to cache, or pass --all")
    done = caching.add(found, names)
    if as_json:
        out(json.dumps(done, indent=2))
    for item in done:
        say(f"cached {item['table']}: {item['files']} files ({item['fetched']} fetched)")

"""The dataspoc-lens command line: parse, call the core, render. No logic lives here.

Heavy modules (duckdb, pyarrow) are imported inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from dataspoc_lens import diagnostics
from dataspoc_lens.console import out, say
from dataspoc_lens.diagnostics import DEBUG_HELP, EXIT_CODES_HELP, epilog

NO_TABLES = "no tables yet: run dataspoc-pipe first"
LAYERS = ("raw", "curated", "gold", "ml")

app = typer.Typer(
    name="dataspoc-lens",
    help=(
        "Query every table in a DataSpoc bucket with SQL (DuckDB). "
        "Tables are views named layer.namespace.name, e.g. raw.shop.orders.\n\n"
        "Example: dataspoc-lens query 'SELECT count(*) FROM raw.shop.orders' --bucket s3://lake\n\n" + EXIT_CODES_HELP
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
ml_app = typer.Typer(
    help="Train and predict with dataspoc-ml on the same bucket (runs the dataspoc-ml command).\n\n"
    "Example: dataspoc-lens ml predict churn --table curated.crm.customers\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
app.add_typer(ml_app, name="ml")

BucketOption = Annotated[
    str,
    typer.Option(
        "--bucket",
        envvar="DATASPOC_BUCKET",
        help="Bucket: a name saved with `buckets add`, or a URL: a folder, s3://, gs://, az:// "
        "(default: $DATASPOC_BUCKET, else ./bucket).",
    ),
]


def resolve(bucket: str) -> str:
    from dataspoc_lens import settings

    return settings.resolve(bucket)


DebugOption = Annotated[bool, typer.Option("--debug", help=DEBUG_HELP)]


def command(*examples: str):
    """Register a command on the root app: --help ends with examples and the exit codes, and
    whatever ends it becomes one line on stderr and an exit code (diagnostics.py)."""
    return lambda fn: app.command(epilog=epilog(*examples))(diagnostics.reporting(fn))


def ml_command(*examples: str):
    """Register a command on the `ml` sub-app, like command()."""
    return lambda fn: ml_app.command(epilog=epilog(*examples))(diagnostics.reporting(fn))


class Format(str, Enum):
    table = "table"
    csv = "csv"
    tsv = "tsv"
    json = "json"
    jsonl = "jsonl"
    markdown = "markdown"
    parquet = "parquet"


@app.callback()
def root(
    debug: DebugOption = False,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=diagnostics.show_version, is_eager=True, help="Show the version."),
    ] = None,
) -> None:
    """Query every table in a DataSpoc bucket with SQL."""


@command("dataspoc-lens catalog --bucket s3://lake --json", "dataspoc-lens catalog --layer curated")
def catalog(
    bucket: BucketOption = "./bucket",
    layer: Annotated[str | None, typer.Option("--layer", help="Only this layer: raw, curated, gold or ml.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON on stdout.")] = False,
    debug: DebugOption = False,
) -> None:
    """List the bucket's tables: name, rows, files, partitions, columns, quality, last run, writer."""
    import json

    from dataspoc_lens import catalog as catalogs
    from dataspoc_lens import render
    from dataspoc_lens.bucket import Bucket
    from dataspoc_lens.errors import UsageError

    if layer is not None and layer not in LAYERS:
        raise UsageError(f"--layer {layer}: use one of {', '.join(LAYERS)}")
    found = catalogs.load(Bucket(resolve(bucket)))
    rows = [r for r in found.rows() if layer is None or r["layer"] == layer]
    if not rows:
        say(NO_TABLES if not found.tables else f"no tables in the {layer} layer")
    if as_json:
        out(json.dumps(rows, indent=2))
        return
    if rows:
        names = ["name", "alias", "rows", "files", "partitions", "columns", "score", "last_run_at", "writer"]
        render.records(names, [["" if r[n] is None else r[n] for n in names] for r in rows], "table")


@command("dataspoc-lens schema raw.shop.orders", "dataspoc-lens schema orders --json")
def schema(
    table: Annotated[str, typer.Argument(help="The table: layer.namespace.name, or a unique shorter name.")],
    bucket: BucketOption = "./bucket",
    as_json: Annotated[bool, typer.Option("--json", help="Print the table's description as JSON on stdout.")] = False,
    debug: DebugOption = False,
) -> None:
    """Describe one table: columns (types, nullability, partition columns), files, rows,
    schema history, lineage, and its quality score and last checks when Pipe checked it."""
    import json

    from dataspoc_lens import catalog as catalogs
    from dataspoc_lens import render
    from dataspoc_lens.bucket import Bucket

    described = catalogs.load(Bucket(resolve(bucket))).schema(table)
    if as_json:
        out(json.dumps(described, indent=2))
    else:
        render.schema(described)


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
    bucket: BucketOption = "./bucket",
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
    import time

    from dataspoc_lens import catalog as catalogs
    from dataspoc_lens import output as outputs
    from dataspoc_lens.bucket import Bucket
    from dataspoc_lens.session import Session

    text = outputs.sql_text(sql, file)
    chosen = outputs.choose_format(fmt.value if fmt else None, output)
    rows = limit if limit is not None else (100 if chosen == "table" else 0)
    if offline:
        from dataspoc_lens import cache

        found, missing = cache.offline_catalog(Bucket(resolve(bucket)))
        if missing:
            say(f"offline: not cached, so not queryable: {', '.join(missing)}")
        if not found.tables:
            say("offline: no cached tables for this bucket; run `dataspoc-lens cache --all` while online")
    else:
        found = catalogs.load(Bucket(resolve(bucket)))
        if not found.found:
            say(NO_TABLES)
    started = time.monotonic()
    folder = Path(write_dir).expanduser() if write_dir else (Path.cwd() if write else None)
    with Session(found, write_dir=folder) as session:
        result = outputs.run(session, text, chosen, rows or None, output)
    if result.statements > 1:
        say(f"ran {result.statements} statements; the result shown is the last one's")
    if result.cut:
        say(f"showing the first {rows} rows; use --limit N (0 for all) to see more")
    if timer:
        say(f"run time: {time.monotonic() - started:.3f} s")


@command(
    "dataspoc-lens ddl --dialect spark --bucket s3://lake > lake.sql",
    "dataspoc-lens ddl --dialect trino --layer gold",
)
def ddl(
    dialect: Annotated[str, typer.Option("--dialect", help="duckdb, spark, trino or athena.")] = "duckdb",
    layer: Annotated[str | None, typer.Option("--layer", help="Only this layer's tables.")] = None,
    bucket: BucketOption = "./bucket",
    debug: DebugOption = False,
) -> None:
    """Print CREATE statements over the bucket's tables for another engine (Spark, Trino,
    Athena, or DuckDB itself), so a team that outgrows one machine queries the same bucket.

    Spark, Trino and Athena read every Parquet file in a table's folder: run
    `dataspoc-pipe vacuum` so replaced files and leftovers of killed runs are gone. No
    credentials are written: each engine reaches the bucket with its own configuration.
    """
    from dataspoc_lens import catalog as catalogs
    from dataspoc_lens import ddl as ddls
    from dataspoc_lens.bucket import Bucket

    if layer is not None and layer not in LAYERS:
        from dataspoc_lens.errors import UsageError

        raise UsageError(f"--layer {layer}: use one of {', '.join(LAYERS)}")
    found = catalogs.load(Bucket(resolve(bucket)))
    if not found.tables:
        say(NO_TABLES)
    out("\n\n".join(ddls.statements(found, dialect, layer)))


@command("dataspoc-lens export-catalog lake.duckdb", "dataspoc-lens export-catalog lake.duckdb --bucket s3://lake")
def export_catalog(
    target: Annotated[str, typer.Argument(help="The DuckDB database file to write (replaced whole).")],
    bucket: BucketOption = "./bucket",
    debug: DebugOption = False,
) -> None:
    """Write a DuckDB database file with a view per table, so DBeaver, Metabase, Tableau or any
    DuckDB client opens the lake without DataSpoc.

    Views read the files the manifest lists now: export again after new runs. For a remote
    bucket the client needs DuckDB's httpfs extension and its own credentials (the file holds
    none).
    """
    from dataspoc_lens import catalog as catalogs
    from dataspoc_lens import exporting
    from dataspoc_lens.bucket import Bucket

    found = catalogs.load(Bucket(resolve(bucket)))
    count = exporting.export(found, Path(target).expanduser())
    say(f"wrote {target}: {count} view{'' if count == 1 else 's'}; open it with any DuckDB client")


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


buckets_app = typer.Typer(
    help="Named buckets: `--bucket NAME` on any command. Kept in ~/.dataspoc-lens/config.yaml "
    "($DATASPOC_LENS_HOME); never credentials.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
app.add_typer(buckets_app, name="buckets")


def buckets_command(*examples: str, name: str | None = None):
    return lambda fn: buckets_app.command(name, epilog=epilog(*examples))(diagnostics.reporting(fn))


@buckets_command("dataspoc-lens buckets add finance s3://acme-finance", name="add")
def buckets_add(
    name: Annotated[str, typer.Argument(help="A short name: lowercase letters, digits, underscores.")],
    uri: Annotated[str, typer.Argument(help="The bucket: a folder, s3://, gs://, az://.")],
    replace: Annotated[bool, typer.Option("--replace", help="Change the URI of a name saved already.")] = False,
    debug: DebugOption = False,
) -> None:
    """Save a bucket under a name."""
    from dataspoc_lens import settings
    from dataspoc_lens.bucket import Bucket
    from dataspoc_lens.errors import UsageError

    settings.check(name, uri)
    Bucket(uri)  # a scheme Lens cannot read is refused now, not at the first query
    saved = settings.load()
    if name in saved and not replace and saved[name] != uri:
        raise UsageError(f"bucket '{name}' is saved already as {saved[name]}; pass --replace to change it")
    saved[name] = uri
    settings.save(saved)
    say(f"saved bucket '{name}' -> {uri}")


@buckets_command("dataspoc-lens buckets list --json", name="list")
def buckets_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print them as JSON on stdout.")] = False,
    debug: DebugOption = False,
) -> None:
    """The saved buckets."""
    import json

    from dataspoc_lens import render, settings

    saved = settings.load()
    if as_json:
        out(json.dumps([{"name": k, "uri": v} for k, v in sorted(saved.items())], indent=2))
    elif not saved:
        say("no saved buckets: add one with `dataspoc-lens buckets add NAME URI`")
    else:
        render.records(["name", "uri"], sorted(saved.items()), "table")


@buckets_command("dataspoc-lens buckets remove finance", name="remove")
def buckets_remove(
    name: Annotated[str, typer.Argument(help="The saved name.")],
    debug: DebugOption = False,
) -> None:
    """Forget a saved bucket (its data is untouched)."""
    from dataspoc_lens import settings
    from dataspoc_lens.errors import UsageError

    saved = settings.load()
    if name not in saved:
        raise UsageError(f"no saved bucket '{name}'; saved: {', '.join(sorted(saved)) or 'none'}")
    del saved[name]
    settings.save(saved)
    say(f"removed bucket '{name}'")


@ml_command("dataspoc-lens ml predict churn --table curated.crm.customers")
def predict(
    model: Annotated[str, typer.Argument(help="The model's name, e.g. churn.")],
    table: Annotated[str, typer.Option("--table", help="The table to score, e.g. curated.crm.customers.")],
    bucket: BucketOption = "./bucket",
    debug: DebugOption = False,
) -> None:
    """Score a table with a trained model; predictions land in ml.predictions.MODEL."""
    from dataspoc_lens import mlbridge

    code = mlbridge.predict(model, table, resolve(bucket))
    if code == 0:
        say(f"query the predictions with: dataspoc-lens query 'SELECT * FROM ml.predictions.{model} LIMIT 10'")
    raise typer.Exit(code)


@ml_command("dataspoc-lens ml train churn --table curated.crm.customers --target churned")
def train(
    model: Annotated[str, typer.Argument(help="The model's name, e.g. churn.")],
    table: Annotated[str, typer.Option("--table", help="The training table, e.g. curated.crm.customers.")],
    target: Annotated[str, typer.Option("--target", help="The column to predict.")],
    bucket: BucketOption = "./bucket",
    debug: DebugOption = False,
) -> None:
    """Train a model on a table with dataspoc-ml."""
    from dataspoc_lens import mlbridge

    raise typer.Exit(mlbridge.train(model, table, target, resolve(bucket)))


def main(argv: list[str] | None = None) -> None:
    diagnostics.run(app, argv)

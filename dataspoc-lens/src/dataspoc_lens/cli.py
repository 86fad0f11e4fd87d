"""The dataspoc-lens command line: parse, call the core, render. No logic lives here.

Heavy modules (duckdb, pyarrow) are imported inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import functools
import os
import sys
from enum import Enum
from typing import Annotated, Callable, Optional

import typer

from dataspoc_lens import __version__
from dataspoc_lens.console import err, error, out, say
from dataspoc_lens.errors import EXIT_CODES_HELP, ExitCode, LensError

NO_TABLES = "no tables yet: run dataspoc-pipe first"

app = typer.Typer(
    name="dataspoc-lens",
    help=(
        "Query every table in a DataSpoc bucket with SQL (DuckDB). "
        "Tables are views named layer.namespace.name, e.g. raw.shop.orders.\n\n"
        "Example: dataspoc-lens query 'SELECT count(*) FROM raw.shop.orders' --bucket s3://lake\n\n"
        + EXIT_CODES_HELP
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
        help="Bucket URL: a folder, s3://, gs://, az:// (default: $DATASPOC_BUCKET, else ./bucket).",
    ),
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show the traceback of an error (or DATASPOC_DEBUG=1).")]


def _debug_from_env() -> bool:
    return os.environ.get("DATASPOC_DEBUG", "").lower() in ("1", "true", "yes")


# Set by main() from `--debug` anywhere on the line or DATASPOC_DEBUG; commands' --debug is for --help only.
_debug = _debug_from_env()


def _reporting_errors(fn: Callable) -> Callable:
    """Wrap a command so its failures become one line on stderr and an exit code."""

    @functools.wraps(fn)
    def run_reporting_errors(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except LensError as exc:
            _report(_one_line(str(exc)))
            raise typer.Exit(int(exc.exit_code)) from None
        except BrokenPipeError:
            # The reader went away (`| head`): not an error. Point stdout at devnull so the
            # interpreter's flush at exit does not raise again, and leave quietly.
            _silence_stdout()
            raise typer.Exit(int(ExitCode.OK)) from None
        except KeyboardInterrupt:
            _report("interrupted")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            _report(f"unexpected {type(exc).__name__}: {_one_line(str(exc))} (run with --debug for the traceback)")
            raise typer.Exit(int(ExitCode.DATA)) from None

    return run_reporting_errors


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def command(**settings) -> Callable[[Callable], Callable]:
    """Register a command on the root app, reporting its errors as one line and an exit code."""
    return lambda fn: app.command(**settings)(_reporting_errors(fn))


def ml_command(**settings) -> Callable[[Callable], Callable]:
    """Register a command on the `ml` sub-app, reporting its errors as one line and an exit code."""
    return lambda fn: ml_app.command(**settings)(_reporting_errors(fn))


def _one_line(message: str) -> str:
    return " ".join(message.split("\n"))


def _report(message: str) -> None:
    if _debug:
        err.print_exception(show_locals=False)
    error(message)


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def _version(value: bool) -> None:
    if value:
        out(f"dataspoc-lens {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: DebugOption = False,
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = None,
) -> None:
    """Query every table in a DataSpoc bucket with SQL."""


@command(epilog="Example: dataspoc-lens catalog --bucket s3://lake --json\n\n" + EXIT_CODES_HELP)
def catalog(
    bucket: BucketOption = "./bucket",
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON on stdout.")] = False,
    debug: DebugOption = False,
) -> None:
    """List the bucket's tables: name, rows, files, partitions, columns, last run, writer."""
    import json

    from dataspoc_lens import catalog as catalogs
    from dataspoc_lens import render
    from dataspoc_lens.bucket import Bucket

    found = catalogs.load(Bucket(bucket))
    rows = found.rows()
    if not rows:
        say(NO_TABLES)
    if as_json:
        out(json.dumps(rows, indent=2))
        return
    if rows:
        names = ["name", "alias", "layer", "rows", "files", "partitions", "columns", "last_run_at", "writer"]
        render.records(names, [["" if r[n] is None else r[n] for n in names] for r in rows], "table")


@command(
    epilog=(
        "Examples: dataspoc-lens query 'SELECT dt, count(*) FROM raw.shop.orders GROUP BY dt' --format csv > counts.csv\n\n"
        "echo 'SELECT * FROM orders LIMIT 5' | dataspoc-lens query - --format json\n\n" + EXIT_CODES_HELP
    )
)
def query(
    sql: Annotated[str, typer.Argument(help="The SQL to run, or - to read it from stdin.")],
    bucket: BucketOption = "./bucket",
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    max_rows: Annotated[
        Optional[int],
        typer.Option("--max-rows", min=0, help="Print at most N rows; 0 for all (default: 100 for table, all for csv/json)."),
    ] = None,
    debug: DebugOption = False,
) -> None:
    """Run SQL over the bucket's tables; results go to stdout."""
    from dataspoc_lens import catalog as catalogs
    from dataspoc_lens import engine, render
    from dataspoc_lens.bucket import Bucket

    if sql == "-":
        sql = sys.stdin.read()
    limit = max_rows if max_rows is not None else (100 if fmt is Format.table else 0)
    found = catalogs.load(Bucket(bucket))
    if not found.found:
        say(NO_TABLES)
    con = engine.connect(found, sql=sql)
    try:
        if fmt is Format.table:  # capped by --max-rows (100 by default): fine to hold in memory
            result, cut = engine.run(con, sql, limit or None)
            if result is None:
                return
            render.arrow(result, fmt.value)
        else:  # csv and json stream: each batch is written as it arrives
            rows = engine.stream(con, sql, limit or None)
            if rows is None:
                return
            render.batches(rows.names, rows.batches(), fmt.value)
            cut = rows.cut
    finally:
        con.close()
    if cut:
        say(f"showing the first {limit} rows; use --max-rows N (0 for all) to see more")


@ml_command(epilog="Example: dataspoc-lens ml predict churn --table curated.crm.customers\n\n" + EXIT_CODES_HELP)
def predict(
    model: Annotated[str, typer.Argument(help="The model's name, e.g. churn.")],
    table: Annotated[str, typer.Option("--table", help="The table to score, e.g. curated.crm.customers.")],
    bucket: BucketOption = "./bucket",
    debug: DebugOption = False,
) -> None:
    """Score a table with a trained model; predictions land in ml.predictions.MODEL."""
    from dataspoc_lens import mlbridge

    code = mlbridge.predict(model, table, bucket)
    if code == 0:
        say(
            f"query the predictions with: dataspoc-lens query "
            f"'SELECT * FROM ml.predictions.{model} LIMIT 10'"
        )
    raise typer.Exit(code)


@ml_command(
    epilog="Example: dataspoc-lens ml train churn --table curated.crm.customers --target churned\n\n" + EXIT_CODES_HELP
)
def train(
    model: Annotated[str, typer.Argument(help="The model's name, e.g. churn.")],
    table: Annotated[str, typer.Option("--table", help="The training table, e.g. curated.crm.customers.")],
    target: Annotated[str, typer.Option("--target", help="The column to predict.")],
    bucket: BucketOption = "./bucket",
    debug: DebugOption = False,
) -> None:
    """Train a model on a table with dataspoc-ml."""
    from dataspoc_lens import mlbridge

    raise typer.Exit(mlbridge.train(model, table, target, bucket))


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point: Typer parses (bad flags exit 2); each command reports its own errors."""
    global _debug
    given = list(sys.argv[1:] if argv is None else argv)
    # --debug is accepted anywhere on the line, not only where a command declares it.
    args = [a for a in given if a != "--debug"]
    _debug = _debug_from_env() or len(args) < len(given)
    app(args=args, prog_name="dataspoc-lens")

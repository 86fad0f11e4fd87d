"""The dataspoc-lens command line: the Typer apps, the options every command shares, and how
commands register. One module per command group beside this one; no logic lives in any of them.

Heavy modules (duckdb, pyarrow) are imported inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from dataspoc_lens import diagnostics
from dataspoc_lens.cli.handlers import LAYERS, NO_TABLES  # noqa: F401 - the commands take them from here
from dataspoc_lens.diagnostics import DEBUG_HELP, EXIT_CODES_HELP, epilog

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


buckets_app = typer.Typer(
    help="Named buckets: `--bucket NAME` on any command. Kept in ~/.dataspoc-lens/config.yaml "
    "($DATASPOC_LENS_HOME); never credentials.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
app.add_typer(buckets_app, name="buckets")


def buckets_command(*examples: str, name: str | None = None):
    """Register a command on the `buckets` sub-app, like command()."""
    return lambda fn: buckets_app.command(name, epilog=epilog(*examples))(diagnostics.reporting(fn))


def command(*examples: str):
    """Register a command on the root app: --help ends with examples and the exit codes, and
    whatever ends it becomes one line on stderr and an exit code (diagnostics.py)."""
    return lambda fn: app.command(epilog=epilog(*examples))(diagnostics.reporting(fn))


def ml_command(*examples: str):
    """Register a command on the `ml` sub-app, like command(); options it does not declare are
    passed on to dataspoc-ml as they are (`ctx.args`)."""
    settings = {"allow_extra_args": True, "ignore_unknown_options": True}
    return lambda fn: ml_app.command(epilog=epilog(*examples), context_settings=settings)(diagnostics.reporting(fn))


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

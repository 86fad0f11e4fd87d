"""The dataspoc-ml command line: the Typer app, the options every command shares, and how
commands register. One module per command group beside this one; no logic lives in any of them.

Heavy libraries (scikit-learn, pyarrow, pandas, numpy, joblib) are imported by the core
modules inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import typer

from dataspoc_ml import console, diagnostics
from dataspoc_ml.diagnostics import DEBUG_HELP, EXIT_CODES_HELP, epilog

app = typer.Typer(
    name="dataspoc-ml",
    help=(
        "Train scikit-learn models on tables of a DataSpoc bucket and publish predictions back to it.\n\n"
        "Example: dataspoc-ml train churn --table raw.crm.customers --target churned\n\n" + EXIT_CODES_HELP
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)

BUCKET_HELP = "Bucket URL (local path, s3://, gs://, az://, memory://). Default: $DATASPOC_BUCKET, else ./bucket."
BucketOpt = typer.Option(None, "--bucket", help=BUCKET_HELP, show_default=False)
JsonOpt = typer.Option(False, "--json", help="Print a JSON document on stdout.")
DebugOpt = typer.Option(False, "--debug", help=DEBUG_HELP)


def command(*examples: str) -> Callable[[Callable], Callable]:
    """Register a command: its --help ends with examples and the exit codes, and whatever ends
    it becomes one line on stderr and an exit code (diagnostics.py)."""
    return lambda fn: app.command(epilog=epilog(*examples))(diagnostics.reporting(fn))


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=diagnostics.show_version, is_eager=True, help="Show the version."
    ),
    debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP),
) -> None:
    """Global options."""


def open_bucket(url: str | None):
    from dataspoc_ml.bucket import Bucket

    return Bucket(url or os.environ.get("DATASPOC_BUCKET") or "./bucket")


def print_json(document) -> None:
    console.out(json.dumps(document, indent=2, ensure_ascii=False))

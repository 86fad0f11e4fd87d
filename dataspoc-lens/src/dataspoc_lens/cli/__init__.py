"""The dataspoc-lens command line (see app.py); importing the command modules registers them."""

from __future__ import annotations

from dataspoc_lens import diagnostics
from dataspoc_lens.cli import buckets_commands, catalog_commands, export_commands, inspect_commands, ml_commands, query_commands, transform_commands  # noqa: F401
from dataspoc_lens.cli.app import app

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    diagnostics.run(app, argv)

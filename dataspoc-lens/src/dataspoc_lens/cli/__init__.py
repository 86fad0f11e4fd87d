"""The dataspoc-lens command line (see app.py); importing the command modules registers them.

Importing this package loads no Typer: `main` first offers the line to the direct path
(direct.py), and builds the Typer app only for a line the direct path leaves to it.
`typer_app()`, or `cli.app` (read on first use), is the app with every command registered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataspoc_lens import diagnostics
from dataspoc_lens.cli import direct

if TYPE_CHECKING:
    import typer

    app: typer.Typer

__all__ = ["app", "main", "typer_app"]


def typer_app() -> typer.Typer:
    """The Typer app with every command registered."""
    global app  # importing cli/app.py bound the package's `app` to that module: rebind it to the app
    from dataspoc_lens.cli import (  # noqa: F401
        buckets_commands,
        catalog_commands,
        export_commands,
        inspect_commands,
        ml_commands,
        query_commands,
        transform_commands,
    )
    from dataspoc_lens.cli.app import app

    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        return typer_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    direct.run(argv)  # exits when the direct path takes the line
    diagnostics.run(typer_app(), argv)

"""The dataspoc-ml command line (see common.py); importing the command modules registers them."""

from __future__ import annotations

from dataspoc_ml import diagnostics
from dataspoc_ml.cli import registry_commands, train_commands  # noqa: F401
from dataspoc_ml.cli.common import app

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    diagnostics.run(app, argv)


if __name__ == "__main__":
    main()

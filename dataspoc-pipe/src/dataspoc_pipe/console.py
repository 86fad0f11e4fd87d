"""Narration, warnings and progress go to stderr; stdout carries data only.

rich is imported when stderr is first written to: a command that only prints data never
loads it. The three packages hold this same file (contract/tools/contract_sync.py keeps the
copies alike).
"""

from __future__ import annotations

import sys
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@cache
def err() -> Console:
    """The stderr console, made on first use."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def say(message: str) -> None:
    err().print(message, markup=False)


def warn(message: str) -> None:
    from rich.text import Text

    err().print(Text.assemble(("warning: ", "yellow"), message))


def error(message: str) -> None:
    from rich.text import Text

    err().print(Text.assemble(("error: ", "red"), message))


def out(text: str) -> None:
    """Write data to stdout, unstyled, so it can be piped."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def progress():
    """A progress display on stderr; silent when stderr is not a terminal."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rows]:>12,} rows"),
        TimeElapsedColumn(),
        console=err(),
        disable=not err().is_terminal,
        transient=True,
    )

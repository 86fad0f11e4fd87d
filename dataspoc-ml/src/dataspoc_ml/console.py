"""Narration, warnings and progress go to stderr; stdout carries data only.

rich is imported only when stderr is a terminal (or FORCE_COLOR asks for colour): a cron job,
whose stderr is a file or a pipe, gets the same words as plain lines without paying for rich's
import (about 50 ms of every run), and a command that only prints data never loads it. The
three packages hold this same file (contract/tools/contract_sync.py keeps the copies alike).
"""

from __future__ import annotations

import os
import sys
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


@cache
def err() -> Console:
    """The stderr console, made on first use."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def is_terminal() -> bool:
    """Whether stderr is drawn on (a terminal, or colour forced as rich reads the environment)."""
    if os.environ.get("FORCE_COLOR") or os.environ.get("TTY_COMPATIBLE") == "1":
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced by an object without it, or closed
        return False


def say(message: str) -> None:
    if not is_terminal():
        _plain(message)
        return
    err().print(message, markup=False)


def warn(message: str) -> None:
    _labelled("warning: ", "yellow", message)


def error(message: str) -> None:
    _labelled("error: ", "red", message)


def _labelled(label: str, colour: str, message: str) -> None:
    if not is_terminal():
        _plain(label + message)
        return
    from rich.text import Text

    err().print(Text.assemble((label, colour), message))


def _plain(line: str) -> None:
    if sys.stderr is None:  # closed at start (`2>&-`): nowhere to say it, as rich would not either
        return
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def out(text: str) -> None:
    """Write data to stdout, unstyled, so it can be piped."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


class _Silent:
    """What progress() gives when stderr is not a terminal: the calls a display takes, doing nothing."""

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, *args: Any, **fields: Any) -> int:
        return 0

    def update(self, *args: Any, **fields: Any) -> None:
        return None

    def advance(self, *args: Any, **fields: Any) -> None:
        return None


def progress() -> Any:
    """A progress display on stderr; silent, and without rich, when stderr is not a terminal."""
    if not is_terminal():
        return _Silent()
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rows]:>12,} rows"),
        TimeElapsedColumn(),
        console=err(),
        disable=not err().is_terminal,  # rich's own reading of the environment has the last word
        transient=True,
    )

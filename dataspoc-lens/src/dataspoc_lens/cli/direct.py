"""The direct path: `query` and `catalog` lines in their plain shapes, parsed without Typer.

Scripts run these two commands in loops, and Typer costs about 0.2 s of every run (its import,
and the coercion it builds for each option). A line this module is sure of is parsed here and
run through the same handlers (handlers.py) and the same error reporting (diagnostics.py) as
the Typer commands. Any other line goes to Typer, which parses it, shows --help or reports the
usage error as always: an option this module does not know or that is repeated, `--opt=value`,
a value that starts with '-', `--`, a bad --format or --limit, an extra argument.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dataspoc_lens import diagnostics
from dataspoc_lens.cli.handlers import BUCKET_ENV, DEFAULT_BUCKET

COUNT = re.compile(r"0|[1-9][0-9]*")


def _formats() -> tuple[str, ...]:
    from dataspoc_lens.render import FORMATS

    return FORMATS


@dataclass(frozen=True)
class Shape:
    """A command's options, as the handler's parameter each one sets."""

    values: dict[str, str]  # options that take a value
    flags: dict[str, str] = field(default_factory=dict)
    repeatable: frozenset[str] = frozenset()  # parameters given as a list
    argument: str | None = None  # the one positional argument, when the command has it
    # parameter -> the check its value must pass, and its value for the handler
    checks: dict[str, tuple[Callable[[str], bool], Callable[[str], Any]]] = field(default_factory=dict)
    defaults: dict[str, Callable[[], Any]] = field(default_factory=dict)


SHAPES = {
    "query": Shape(
        values={
            "--file": "file",
            "-f": "file",
            "--bucket": "bucket",
            "--format": "fmt",
            "--output": "output",
            "-o": "output",
            "--limit": "limit",
            "--max-rows": "limit",
            "--write-dir": "write_dir",
        },
        flags={"--timer": "timer", "--write": "write", "--offline": "offline"},
        repeatable=frozenset({"bucket"}),
        argument="sql",
        checks={"fmt": (lambda v: v in _formats(), str), "limit": (lambda v: COUNT.fullmatch(v) is not None, int)},
    ),
    "catalog": Shape(
        values={"--bucket": "bucket", "--layer": "layer"},
        flags={"--json": "as_json"},
        # as Typer reads --bucket's envvar: a value that is set and not empty
        defaults={"bucket": lambda: os.environ.get(BUCKET_ENV) or DEFAULT_BUCKET},
    ),
}


def parse(args: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
    """The command and its handler's arguments; None leaves the line to Typer."""
    if not args or args[0] not in SHAPES:
        return None
    shape = SHAPES[args[0]]
    given: dict[str, Any] = {}
    rest = list(args[1:])
    while rest:
        token = rest.pop(0)
        if token in shape.flags and shape.flags[token] not in given:
            given[shape.flags[token]] = True
        elif token in shape.values and rest and not rest[0].startswith("-"):
            name, value = shape.values[token], rest.pop(0)
            check, convert = shape.checks.get(name, (None, str))
            if check is not None and not check(value):
                return None
            if name in shape.repeatable:
                given.setdefault(name, []).append(convert(value))
            elif name in given:
                return None
            else:
                given[name] = convert(value)
        elif shape.argument and shape.argument not in given and (token == "-" or not token.startswith("-")):
            given[shape.argument] = token
        else:
            return None
    for name, default in shape.defaults.items():
        given.setdefault(name, default())
    return args[0], given


def run(argv: Sequence[str] | None = None) -> None:
    """Run the line when the direct path takes it (and exit); return when Typer must."""
    parsed = parse(diagnostics.take_debug(argv))
    if parsed is None:
        return
    from dataspoc_lens.cli import handlers

    command, kwargs = parsed
    diagnostics.run_parsed(getattr(handlers, command), **kwargs)

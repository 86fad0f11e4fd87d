"""Where a query's SQL comes from and where its result goes: stdout or a file, in a format.

A result written to a file is streamed into a temporary file beside it and moved into place
at the end, so the query runs once and a failure never leaves half a file.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataspoc_lens import render
from dataspoc_lens.errors import QueryError, ReadOnlyRefused, UsageError


@dataclass
class Outcome:
    statements: int = 1
    cut: bool = False


def sql_text(sql: str | None, file: str | None) -> str:
    if file is not None:
        if sql not in (None, "-"):
            raise UsageError("give the SQL as an argument or with --file, not both")
        path = Path(file).expanduser()
        try:
            return path.read_text()
        except FileNotFoundError:
            raise UsageError(f"no SQL file {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read SQL file {path}: {exc}") from None
    if sql is None or sql == "-":
        missing = UsageError("give the SQL as an argument, with --file, or on stdin")
        if sys.stdin is None or (sql is None and sys.stdin.isatty()):
            raise missing
        try:
            text = sys.stdin.read()
        except OSError:
            raise missing from None
        if sql is None and not text.strip():
            raise missing
        return text
    return sql


def choose_format(fmt: str | None, output: str | None) -> str:
    if fmt is not None:
        return fmt
    if output is not None:
        suffix = Path(output).suffix.lower()
        if suffix not in render.SUFFIXES:
            known = ", ".join(sorted(render.SUFFIXES))
            raise UsageError(f"--output {output}: give --format, or a file ending in one of {known}")
        return render.SUFFIXES[suffix]
    return "table"


def statements(con: Any, text: str) -> list[str]:
    """The statements of a SQL text, by the parser of DuckDB connection `con` (a parse error
    is the query's)."""
    import duckdb

    from dataspoc_lens.translate import translate

    if not text.strip():
        raise QueryError("the SQL is empty")
    try:
        return [s.query for s in con.extract_statements(text)] or [text]
    except duckdb.Error as exc:
        raise translate(exc) from exc


def run(
    session: Any,
    text: str,
    fmt: str,
    max_rows: int | None,
    output: str | None,
    stream: Any = None,
    width: int | None = None,
) -> Outcome:
    """Run every statement; write the last one's result to `output`, or `stream` (stdout by
    default); `width`: the table view's width (default: the terminal's, or whole cells when
    not at one)."""
    import duckdb

    from dataspoc_lens.translate import translate

    if output is not None:
        outside_the_buckets(output, session.local_roots)
    parts = statements(session.con, text)
    session.prepare(text)
    for statement in parts[:-1]:
        try:
            session.con.execute(statement)
        except duckdb.Error as exc:
            raise translate(exc) from exc
    last = parts[-1]
    if fmt == "parquet" and output is None and stream is None and sys.stdout.isatty():
        raise UsageError("parquet is binary: write it with --output FILE.parquet, or pipe stdout")
    with _target(output, binary=fmt == "parquet", stream=stream) as stream:
        if fmt == "table":
            result, cut = session.run(last, max_rows)
            if result is not None:
                render.table_view(result, cut, stream, width)
            return Outcome(len(parts), cut)
        rows = session.stream(last, max_rows, arrow=fmt == "parquet")
        if rows is None:
            return Outcome(len(parts), False)
        if fmt == "parquet":
            render.parquet(rows.schema, rows.batches(), stream)
        else:
            render.batches(rows.names, rows.batches(), fmt, stream)
        return Outcome(len(parts), rows.cut)


def outside_the_buckets(output: str, roots: tuple[Path, ...]) -> None:
    """Lens never writes into a bucket: refuse a result file (--output, the shell's .export)
    that would land in a local bucket's folder."""
    target = Path(output).expanduser().resolve()
    for root in roots:
        if target == root or root in target.parents:
            raise ReadOnlyRefused(
                f"{output} is inside the bucket {root}: dataspoc-lens never writes into the bucket; "
                "write the result outside it"
            )


class _target:
    """stdout, or a temporary file moved onto `output` when the block ends without error."""

    def __init__(self, output: str | None, binary: bool, stream: Any = None):
        self.output = Path(output).expanduser() if output else None
        self.binary = binary
        self.stream = stream
        self.tmp: Path | None = None
        self.handle: Any = None

    def __enter__(self) -> Any:
        if self.output is None:
            if self.stream is not None:
                return self.stream
            return sys.stdout.buffer if self.binary else sys.stdout
        if self.output.is_dir():
            raise UsageError(f"--output {self.output} is a folder; name a file")
        if not self.output.parent.is_dir():
            raise UsageError(f"--output {self.output}: folder {self.output.parent} does not exist")
        self.tmp = self.output.with_name(f".{self.output.name}.{os.getpid()}.tmp")
        self.handle = open(self.tmp, "wb") if self.binary else open(self.tmp, "w", encoding="utf-8", newline="")
        return self.handle

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if self.handle is None:
            return
        self.handle.close()
        assert self.tmp is not None and self.output is not None
        if kind is None:
            os.replace(self.tmp, self.output)
        else:
            self.tmp.unlink(missing_ok=True)

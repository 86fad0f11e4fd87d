"""JSON Lines files: one JSON object per line, parsed in bulk by pyarrow's JSON reader.

Typing rules are json_records.py's. Blank lines are skipped; a file that grew is read from its
bookmark; errors name the file and line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field

from dataspoc_pipe.sources import types
from dataspoc_pipe.sources.base import Context, Kind, SourceConfig, Stream
from dataspoc_pipe.sources.files import FileStream, Work, open_bytes
from dataspoc_pipe.sources.json_records import JsonRecords

CHUNK = 16 << 20  # bytes parsed at once; a line longer than this is read whole


class JsonlConfig(SourceConfig):
    kind: Literal["jsonl"] = "jsonl"
    path: Annotated[str, Field(min_length=1, description="A file or a glob, relative to the project file.")]
    nested: Literal["struct", "json"] = "struct"
    columns: dict[str, str] = Field(default_factory=dict)


class JsonlStream(FileStream):
    evolving_columns = True

    def __init__(self, name: str, config: JsonlConfig, context: Context):
        super().__init__(name, config.path, context)
        self.config = config
        where = f"source.columns of {name}"
        self.declared = {column: types.parse(text, f"{where}.{column}") for column, text in config.columns.items()}

    def read_file(self, work: Work) -> Iterator:
        records = JsonRecords(self.declared, self.config.nested)
        line = _first_line(work)
        with open_bytes(work, CHUNK) as handle:
            for chunk in _chunks(handle, skip_bom=work.offset == 0):
                yield from records.table(chunk, _lines(work.file.path, line, chunk.count(b"\n"))).to_batches()
                line += chunk.count(b"\n")


def _lines(path: str, first: int, count: int):
    """Where a record of a chunk is: its line in the file."""

    def where(index: int | None) -> str:
        return f"{path} lines {first}-{first + count - 1}" if index is None else f"{path} line {first + index}"

    return where


def _first_line(work: Work) -> int:
    """The line number in the file of the first byte this run reads."""
    if work.offset == 0:
        return 1
    count = 1
    with open_bytes(Work(work.file, 0, "new"), 1 << 20) as raw:
        left = work.offset
        while left > 0 and (block := raw.read(min(left, 1 << 20))):
            count += block.count(b"\n")
            left -= len(block)
    return count


def _chunks(handle, skip_bom: bool) -> Iterator[bytes]:
    """Whole lines, about CHUNK bytes at a time."""
    pending = b""
    first = True
    while True:
        block = handle.read(CHUNK)
        if first and skip_bom and block.startswith(b"\xef\xbb\xbf"):
            block = block[3:]
        first = False
        if not block:
            if pending.strip():
                yield pending if pending.endswith(b"\n") else pending + b"\n"
            return
        pending += block
        cut = pending.rfind(b"\n")
        if cut < 0:
            continue  # a line longer than CHUNK: read on
        yield pending[: cut + 1]
        pending = pending[cut + 1 :]


def open_streams(config: JsonlConfig, context: Context) -> list[Stream]:
    return [JsonlStream(context.default_table, config, context)]


KIND = Kind(
    name="jsonl",
    config=JsonlConfig,
    open=open_streams,
    summary="JSON Lines files: one object per line; nested objects as structs or JSON text; declared types",
)

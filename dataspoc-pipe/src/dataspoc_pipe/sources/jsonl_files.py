"""JSON Lines files: one JSON object per line, parsed in bulk by pyarrow's JSON reader.

Rules a user can rely on (docs/pipe.md repeats them):
- nested objects become Arrow structs and arrays become lists, so SQL can reach into them
  (`payload.user.id`); with `nested: json` they are kept as JSON text instead;
- strings stay strings (an ISO date in a string is not guessed to be a timestamp) unless the
  column's type is declared in `columns`;
- a key that appears only in later records adds a column (NULL before it); a key whose values
  change kind (number, then text) is an error naming the file and line;
- every line must be a JSON object: a blank line is skipped, anything else (an array, `NaN`,
  text, an integer beyond int64) is an error naming the file and line.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import Field

from dataspoc_pipe.errors import SourceError
from dataspoc_pipe.sources import types
from dataspoc_pipe.sources.base import Context, Kind, SourceConfig, Stream
from dataspoc_pipe.sources.files import FileStream, Work, open_bytes

CHUNK = 16 << 20  # bytes parsed at once; a line longer than this is read whole
INT64_MAX = 2**63 - 1


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
        path = work.file.path
        # Types handed to the parser: the declared ones, and text for fields pyarrow would
        # otherwise turn into timestamps (reformatting the strings).
        known: dict[str, Any] = dict(self.declared)
        order: list[str] = []  # columns in the order records first show them
        line = _first_line(work)
        with open_bytes(work, CHUNK) as handle:
            for chunk in _chunks(handle, skip_bom=work.offset == 0):
                try:
                    chunk.decode("utf-8")
                except UnicodeDecodeError:
                    raise SourceError(_explain(path, line, chunk, "not UTF-8")) from None
                table = _parse(chunk, known, path, line)
                order += [name for name in table.schema.names if name not in order]
                stamped = {
                    f.name: _strings_kept(f.type)
                    for f in table.schema
                    if f.name not in known and not _strings_kept(f.type).equals(f.type)
                }
                if stamped:
                    known.update(stamped)
                    table = _parse(chunk, known, path, line)
                table = table.select(sorted(table.schema.names, key=order.index))
                yield from self._settle(table, path, line, chunk).to_batches()
                line += chunk.count(b"\n")

    def _settle(self, table, path, line: int, chunk: bytes):
        """Apply the rules above to a parsed chunk: no NaN, no lossy integers, nested as asked."""
        import pyarrow as pa
        import pyarrow.compute as pc

        columns, fields = [], []
        for field, column in zip(table.schema, table.columns):
            kind = field.type
            if pa.types.is_floating(kind) and field.name not in self.declared and len(column):
                if pc.any(pc.is_nan(column)).as_py() or pc.any(pc.is_inf(column)).as_py():
                    raise SourceError(_explain(path, line, chunk, "NaN"))
                if (pc.max(pc.abs(column)).as_py() or 0) > INT64_MAX:
                    big = _find(chunk, _is_big_integer)
                    if big is not None:
                        raise SourceError(
                            f"{path} line {line + big[0]}: field '{big[1]}' is an integer beyond int64; "
                            f"declare it in source.columns (e.g. {big[1]}: string or decimal128(38, 0))"
                        )
            if field.name not in self.declared and self.config.nested == "json" and _is_nested(kind):
                column, kind = _as_json_text(column), pa.string()
            columns.append(column)
            fields.append(pa.field(field.name, kind))
        return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _parse(chunk: bytes, known: dict[str, Any], path, line: int):
    import pyarrow as pa
    import pyarrow.json as pajson

    options = pajson.ParseOptions(
        explicit_schema=pa.schema(list(known.items())) if known else None,
        unexpected_field_behavior="infer",
        newlines_in_values=False,
    )
    try:
        return pajson.read_json(
            io.BytesIO(chunk),
            read_options=pajson.ReadOptions(block_size=max(1 << 20, len(chunk) // 8), use_threads=True),
            parse_options=options,
        )
    except pa.ArrowInvalid as exc:
        raise SourceError(_explain(path, line, chunk, str(exc))) from None


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


def _strings_kept(kind):
    """The type with timestamps that pyarrow guessed from strings turned back into strings."""
    import pyarrow as pa

    if pa.types.is_timestamp(kind):
        return pa.string()
    if pa.types.is_struct(kind):
        return pa.struct([pa.field(f.name, _strings_kept(f.type)) for f in kind])
    if pa.types.is_list(kind):
        return pa.list_(_strings_kept(kind.value_type))
    return kind


def _is_nested(kind) -> bool:
    import pyarrow as pa

    return pa.types.is_struct(kind) or pa.types.is_list(kind)


def _as_json_text(column):
    import pyarrow as pa

    return pa.array(
        [
            None if value is None else json.dumps(value, separators=(",", ":"), default=str)
            for value in column.to_pylist()
        ],
        pa.string(),
    )


def _is_big_integer(record: Any) -> str | None:
    if isinstance(record, dict):
        for key, value in record.items():
            if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value <= INT64_MAX:
                return key
    return None


def _find(chunk: bytes, test) -> tuple[int, str] | None:
    for number, raw in enumerate(chunk.split(b"\n")):
        if raw.strip():
            try:
                found = test(json.loads(raw))
            except ValueError:
                continue
            if found:
                return number, found
    return None


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _explain(path, first_line: int, chunk: bytes, message: str) -> str:
    """The first line of a chunk that breaks a rule, found by parsing it line by line."""
    kinds: dict[str, str] = {}
    for number, raw in enumerate(chunk.split(b"\n")):
        if not raw.strip():
            continue
        where = f"{path} line {first_line + number}"
        try:
            record = json.loads(raw, parse_constant=_reject_constant)
        except UnicodeDecodeError:
            return f"{where}: not valid UTF-8; JSON Lines files are UTF-8"
        except ValueError as exc:
            return f"{where}: not valid JSON ({str(exc).split(':')[0]})"
        if not isinstance(record, dict):
            return f"{where}: a {type(record).__name__} where each line must be a JSON object"
        for key, value in record.items():
            if value is None:
                continue
            kind = _kind(value)
            seen = kinds.setdefault(key, kind)
            if seen != kind:
                return (
                    f"{where}: field '{key}' is {kind} where earlier records have {seen}; "
                    f"declare its type in source.columns (e.g. {key}: string), or fix the record"
                )
    detail = message.splitlines()[0].replace("JSON parse error: ", "")
    last = first_line + chunk.count(b"\n")
    return f"{path} lines {first_line}-{last}: {detail}"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "an object" if isinstance(value, dict) else "an array"


def open_streams(config: JsonlConfig, context: Context) -> list[Stream]:
    return [JsonlStream(context.default_table, config, context)]


KIND = Kind(
    name="jsonl",
    config=JsonlConfig,
    open=open_streams,
    summary="JSON Lines files: one object per line; nested objects as structs or JSON text; declared types",
)

"""JSON records into Arrow tables, by one set of rules for every JSON source (JSON Lines files,
HTTP APIs, Singer taps), parsed in bulk by pyarrow's JSON reader, never a Python object per row.

- nested objects become Arrow structs and arrays become lists, so SQL can reach into them
  (`payload.user.id`); with `nested: json` they are kept as JSON text instead;
- strings stay strings (an ISO date in a string is not guessed to be a timestamp) unless the
  column's type is declared;
- a key that appears only in later records adds a column (NULL before it); a key whose values
  change kind (number, then text) is an error naming the record;
- every record must be a JSON object; `NaN`, text that is not JSON and integers beyond int64
  (at any depth: inside objects and arrays too) are errors naming the record.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from typing import Any

from dataspoc_pipe.errors import SourceError

INT64_MAX = 2**63 - 1
NULL_LINE = re.compile(rb"\n[ \t]*null[ \t\r]*(?:\n|$)")  # a line that is JSON null, after the first
NULL_FIRST = re.compile(rb"[ \t]*null[ \t\r]*(?:\n|$)")
Where = Callable[[int | None], str]  # record index in the chunk (None: the whole chunk) -> "file line N"


class JsonRecords:
    """Turns chunks of JSON lines into Arrow tables whose types agree from chunk to chunk."""

    def __init__(self, declared: dict[str, Any], nested: str = "struct", key: str | None = None):
        self.declared = declared
        self.nested = nested
        self.key = key  # each line wraps its record under this key (a Singer RECORD's "record")
        # Types handed to the parser: the declared ones, and text for fields pyarrow would
        # otherwise turn into timestamps (reformatting the strings).
        self.known: dict[str, Any] = dict(declared)
        self.order: list[str] = []  # columns in the order records first show them

    def table(self, chunk: bytes, where: Where):
        key = self.key
        if key is None and (NULL_LINE.search(chunk) or NULL_FIRST.match(chunk)):
            # pyarrow's reader crashes on a first line `null`, and takes a later one for a row of NULLs
            raise SourceError(_explain(where, chunk, "a null record", key))
        table = self._parse(chunk, where, key)
        try:
            table.validate(full=True)  # the JSON reader lets invalid UTF-8 into strings
        except Exception:  # noqa: BLE001 - pyarrow raises ArrowInvalid; its module is imported lazily
            raise SourceError(_explain(where, chunk, "not UTF-8", key)) from None
        self.order += [name for name in table.schema.names if name not in self.order]
        stamped = {
            f.name: _strings_kept(f.type)
            for f in table.schema
            if f.name not in self.known and not _strings_kept(f.type).equals(f.type)
        }
        if stamped:
            self.known.update(stamped)
            table = self._parse(chunk, where, key)
        table = table.select(sorted(table.schema.names, key=self.order.index))
        return self._settle(table, where, chunk, key)

    def _parse(self, chunk: bytes, where: Where, key: str | None):
        import pyarrow as pa
        import pyarrow.compute as pc

        if key is None:
            return _parse(chunk, pa.schema(list(self.known.items())) if self.known else None, where, None)
        explicit = pa.schema([(key, pa.struct(list(self.known.items())))]) if self.known else None
        wrapped = _parse(chunk, explicit, where, key)
        if key not in wrapped.schema.names:
            raise SourceError(f"{where(None)}: a message without its '{key}'")
        struct = wrapped.column(key)
        if not pa.types.is_struct(struct.type) or struct.null_count:
            raise SourceError(_explain(where, chunk, f"a '{key}' that is not an object", key))
        names = [f.name for f in struct.type]
        return pa.table([pc.struct_field(struct, [i]) for i in range(len(names))], names=names)

    def _settle(self, table, where: Where, chunk: bytes, key: str | None):
        """Apply the rules above to a parsed chunk: no NaN, no lossy integers, nested as asked."""
        import pyarrow as pa
        import pyarrow.compute as pc

        columns, fields = [], []
        for field, column in zip(table.schema, table.columns):
            kind = field.type
            # numbers nested in objects and arrays follow the same rules as top-level ones
            for values in _floats(column) if field.name not in self.declared and len(column) else []:
                if pc.any(pc.is_nan(values)).as_py() or pc.any(pc.is_inf(values)).as_py():
                    raise SourceError(_explain(where, chunk, "NaN", key))
                if (pc.max(pc.abs(values)).as_py() or 0) > INT64_MAX:
                    big = _find(chunk, _is_big_integer, key)
                    if big is not None:
                        line, path = big
                        hint = (
                            f"declare it in source.columns (e.g. {path}: string or decimal128(38, 0))"
                            if path in table.schema.names
                            else "a nested value cannot be declared: send it as a string, or fix the record"
                        )
                        raise SourceError(f"{where(line)}: field '{path}' is an integer beyond int64; {hint}")
            # an object with no fields has no Parquet type: such a column is kept as JSON text
            wanted_json = self.nested == "json" or _has_empty_object(kind)
            if field.name not in self.declared and wanted_json and _is_nested(kind):
                column, kind = _as_json_text(column), pa.string()
            columns.append(column)
            fields.append(pa.field(field.name, kind))
        return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _parse(chunk: bytes, explicit, where: Where, key: str | None):
    import pyarrow as pa
    import pyarrow.json as pajson

    options = pajson.ParseOptions(
        explicit_schema=explicit,
        unexpected_field_behavior="infer",
        newlines_in_values=False,
    )
    try:
        return pajson.read_json(
            io.BytesIO(chunk),
            read_options=pajson.ReadOptions(block_size=4 << 20, use_threads=True),
            parse_options=options,
        )
    except pa.ArrowInvalid as exc:
        raise SourceError(_explain(where, chunk, str(exc), key)) from None


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


def _has_empty_object(kind) -> bool:
    import pyarrow as pa

    if pa.types.is_struct(kind):
        return kind.num_fields == 0 or any(_has_empty_object(f.type) for f in kind)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _has_empty_object(kind.value_type)
    return False


def _as_json_text(column):
    import pyarrow as pa

    return pa.array(
        [
            None if value is None else json.dumps(value, separators=(",", ":"), default=str)
            for value in column.to_pylist()
        ],
        pa.string(),
    )


def _floats(column) -> list:
    """The floating-point values a column holds at any depth: itself, struct fields, list items."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_floating(kind):
        return [column]
    if pa.types.is_struct(kind):
        return [leaf for child in column.flatten() for leaf in _floats(child)]
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _floats(pc.list_flatten(column))
    return []


def _is_big_integer(record: Any, path: str = "") -> str | None:
    """The path of the first integer beyond int64 in a record (`a`, `a.b`, `a[2]`), or None."""
    if isinstance(record, dict):
        items = [(f"{path}.{key}" if path else str(key), value) for key, value in record.items()]
    elif isinstance(record, list) and path:
        items = [(f"{path}[{index}]", value) for index, value in enumerate(record)]
    else:
        return None
    for where, value in items:
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value <= INT64_MAX:
            return where
        if (found := _is_big_integer(value, where)) is not None:
            return found
    return None


def _find(chunk: bytes, test, key: str | None) -> tuple[int, str] | None:
    for number, raw in enumerate(chunk.split(b"\n")):
        if raw.strip():
            try:
                record = json.loads(raw)
                found = test(record.get(key) if key and isinstance(record, dict) else record)
            except ValueError:
                continue
            if found:
                return number, found
    return None


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _explain(where: Where, chunk: bytes, message: str, key: str | None = None) -> str:
    """The first line of a chunk that breaks a rule, found by parsing it line by line."""
    kinds: dict[str, str] = {}
    for number, raw in enumerate(chunk.split(b"\n")):
        if not raw.strip():
            continue
        here = where(number)
        try:
            record = json.loads(raw, parse_constant=_reject_constant)
        except UnicodeDecodeError:
            return f"{here}: not valid UTF-8; JSON is UTF-8"
        except ValueError as exc:
            return f"{here}: not valid JSON ({str(exc).split(':')[0]})"
        if key is not None and isinstance(record, dict):
            record = record.get(key)
        if not isinstance(record, dict):
            return f"{here}: {'null' if record is None else _kind(record)} where each record must be a JSON object"
        for name, value in record.items():
            if value is None:
                continue
            kind = _kind(value)
            seen = kinds.setdefault(name, kind)
            if seen != kind:
                return (
                    f"{here}: field '{name}' is {kind} where earlier records have {seen}; "
                    f"declare its type in source.columns (e.g. {name}: string), or fix the record"
                )
    detail = message.splitlines()[0].replace("JSON parse error: ", "")
    return f"{where(None)}: {detail}"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "an object" if isinstance(value, dict) else "an array"

"""Query results and catalog listings on stdout: a rich table for people, CSV or JSON for programs.

JSON: dates and timestamps are ISO 8601 strings, decimals are strings (exact), NaN and
infinities are null, binary is base64. CSV: a header row, empty cells for NULL.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import errno
import json
import math
import os
import sys
import textwrap
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow

FORMATS = ("table", "csv", "json")


def plain(value: Any) -> Any:
    """A JSON-safe version of one cell."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


def cell(value: Any) -> str:
    """The text of one cell in a table or CSV."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def records(names: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str) -> None:
    """Write rows (tuples in the order of `names`) to stdout in the chosen format."""
    rows = list(rows)
    if fmt == "json":
        document = [{name: plain(v) for name, v in zip(names, row)} for row in rows]
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([cell(v) for v in row] for row in rows)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(show_lines=False, header_style="bold")
        for name in names:
            table.add_column(name, overflow="fold")
        for row in rows:
            table.add_row(*(cell(v) if v is not None else "NULL" for v in row))
        # Piped output keeps every column whole rather than squeezing it into 80 characters.
        width = None if sys.stdout.isatty() else 10_000
        Console(file=sys.stdout, highlight=False, soft_wrap=False, width=width).print(table)
    sys.stdout.flush()


def batches(names: Sequence[str], parts: Iterable[pyarrow.RecordBatch], fmt: str) -> None:
    """Write record batches to stdout as CSV or JSON one batch at a time, as they arrive.

    The output is the same as `records` would write for all the rows at once.
    """
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(names)
        sys.stdout.flush()
        sink = _byte_sink()
        for part in parts:
            _write_csv(part, sink)
    elif fmt == "json":
        first = True
        for part in parts:
            for row in _rows(part):
                document = json.dumps({n: plain(v) for n, v in zip(names, row)}, ensure_ascii=False, indent=2)
                sys.stdout.write(("[\n" if first else ",\n") + textwrap.indent(document, "  "))
                first = False
        sys.stdout.write("[]\n" if first else "\n]\n")
    else:
        raise ValueError(f"cannot stream the {fmt} format")
    sys.stdout.flush()


# Cells that need quotes in CSV: a delimiter, a quote or a line break (as Python's csv writes).
NEEDS_QUOTES = r'[",\r\n]'


def _byte_sink() -> Callable[[Any], Any]:
    """Where CSV bytes go: stdout's binary buffer when it is UTF-8 without newline
    translation, else stdout itself as text (its own encoding and newlines, as before)."""
    buffer = getattr(sys.stdout, "buffer", None)
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    if buffer is not None and encoding == "utf8" and os.linesep == "\n":
        return buffer.write
    return lambda data: sys.stdout.write(bytes(data).decode("utf-8"))


def _write_csv(part: pyarrow.RecordBatch, write: Callable[[Any], Any]) -> None:
    """Write one batch's rows (no header) as CSV, built column by column in Arrow (C++).

    The bytes are those Python's csv writer writes for `cell` of every value: NULL is an
    empty cell, booleans true/false, NaN and infinities empty, quotes only where needed.
    Types whose Arrow text differs from `cell` (timestamps, times, binary, nested values, ...)
    go through `cell` one value at a time.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if part.num_rows == 0 or part.num_columns == 0:
        return
    cells = [_csv_text(part.column(i)) for i in range(part.num_columns)]
    if len(cells) == 1:
        # csv writes a row of one empty cell as "", or it would read back as no row at all
        lines = pc.if_else(pc.equal(cells[0], ""), pa.scalar('""'), cells[0])
    else:
        lines = pc.binary_join_element_wise(*cells, pa.scalar(","))
    lines = pc.binary_join_element_wise(lines, pa.scalar(""), pa.scalar("\n"))  # each line + "\n"
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    if pa.types.is_large_string(lines.type):
        lines = lines.cast(pa.string())
    _, offsets, data = lines.buffers()
    offsets = memoryview(offsets).cast("B").cast("i")  # int32 offsets of a string array
    first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
    try:
        write(data.slice(first, last - first) if data is not None else b"")
    except OSError as exc:
        if getattr(exc, "errno", None) == errno.EPIPE:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe") from exc
        raise


def _csv_text(column: pyarrow.Array) -> pyarrow.Array:
    """Each cell of the column as CSV text: no NULLs, quoted where it has to be."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.dictionary_decode(), kind.value_type
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_decimal(kind) or pa.types.is_date(kind):
        return pc.fill_null(column.cast(pa.string()), "")  # never needs quotes
    if pa.types.is_floating(kind):
        return _float_text(column)
    if pa.types.is_null(kind):
        return pa.array([""] * len(column), pa.string())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is_string_view(kind):
        text = column.cast(pa.string())
    else:
        text = pa.array([None if v is None else cell(v) for v in column.to_pylist()], pa.string())
    text = pc.fill_null(text, "")
    needs = pc.match_substring_regex(text, NEEDS_QUOTES)
    if pc.any(needs).as_py():
        quoted = pc.binary_join_element_wise(
            pa.scalar('"'), pc.replace_substring(text, '"', '""'), pa.scalar('"'), pa.scalar("")
        )
        text = pc.if_else(needs, quoted, text)
    return text


def _float_text(column: pyarrow.Array) -> pyarrow.Array:
    """Floats as Python's str() writes them; NaN and infinities empty, like NULL.

    Arrow and Python both print the shortest digits that read back exactly; they differ in
    when to switch to an exponent and in a whole number's ".0". The few values in scientific
    range are printed by Python; the rest are Arrow's text, with ".0" added to whole numbers.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    values = column.cast(pa.float64())  # a float32 prints as the double it widens to, as before
    finite = pc.fill_null(pc.is_finite(values), False)
    text = values.cast(pa.string())
    size = pc.abs(values)
    scientific = pc.or_(
        pc.match_substring(text, "e"),
        pc.or_(pc.and_(pc.less(size, 1e-4), pc.not_equal(size, 0.0)), pc.greater_equal(size, 1e16)),
    )
    scientific = pc.fill_null(pc.and_(scientific, finite), False)
    if pc.any(scientific).as_py():
        picked = pc.filter(values, scientific).to_pylist()
        text = pc.replace_with_mask(text, scientific, pa.array([repr(v) for v in picked], pa.string()))
    whole = pc.match_substring_regex(text, r"^-?[0-9]+$")
    text = pc.if_else(whole, pc.binary_join_element_wise(text, pa.scalar(".0"), pa.scalar("")), text)
    return pc.fill_null(pc.if_else(finite, text, pa.scalar(None, pa.string())), "")


def _is_string_view(kind: Any) -> bool:
    import pyarrow as pa

    check = getattr(pa.types, "is_string_view", None)
    return bool(check and check(kind))


def _rows(part: pyarrow.RecordBatch) -> Iterable[tuple]:
    columns = [part.column(i).to_pylist() for i in range(part.num_columns)]
    return zip(*columns) if columns else []


def arrow(result: pyarrow.Table, fmt: str) -> None:
    names = result.column_names
    columns = [result.column(i).to_pylist() for i in range(result.num_columns)]
    records(names, zip(*columns) if columns else [], fmt)

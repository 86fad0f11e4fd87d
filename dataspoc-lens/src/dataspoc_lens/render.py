"""Query results and catalog listings: a table for people; CSV, TSV, JSON, JSON Lines,
Markdown or Parquet for programs, streamed batch by batch to stdout or a file.

JSON and JSON Lines: dates and timestamps are ISO 8601 strings, decimals are strings (exact),
NaN and infinities are null, binary is base64. CSV and TSV: a header row, empty cells for NULL
(and for NaN). The table view prints NULL, NaN, Infinity and -Infinity as such.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import errno
import io
import json
import math
import os
import sys
import textwrap
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import pyarrow

    from dataspoc_lens.execute import Result

    Batch: TypeAlias = pyarrow.RecordBatch | list[tuple[Any, ...]]  # Arrow's, or rows DuckDB fetched

FORMATS = ("table", "csv", "tsv", "json", "jsonl", "markdown", "parquet")
SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".md": "markdown",
    ".parquet": "parquet",
    ".txt": "table",
}


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


def display(value: Any) -> str:
    """The text of one cell in the table view: NULL, NaN and infinities spelled out."""
    if value is None:
        return "NULL"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return cell(value)


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


def batches(names: Sequence[str], parts: Iterable[Batch], fmt: str, stream: Any = None) -> None:
    """Write batches (Arrow record batches, or lists of row tuples) as CSV, TSV, JSON, JSON
    Lines or Markdown, one batch at a time, as they arrive, to `stream` (a text file; stdout by
    default).

    The output is the same as `records` would write for all the rows at once.
    """
    stream = sys.stdout if stream is None else stream
    if fmt in ("csv", "tsv"):
        delimiter = "," if fmt == "csv" else "\t"
        writer = csv.writer(stream, lineterminator="\n", delimiter=delimiter)
        writer.writerow(names)
        stream.flush()
        sink = _byte_sink(stream)
        for part in parts:
            _write_csv(part, sink, delimiter)
    elif fmt == "json":
        first = True
        for part in parts:
            for row in _rows(part):
                document = json.dumps({n: plain(v) for n, v in zip(names, row)}, ensure_ascii=False, indent=2)
                stream.write(("[\n" if first else ",\n") + textwrap.indent(document, "  "))
                first = False
        stream.write("[]\n" if first else "\n]\n")
    elif fmt == "jsonl":
        for part in parts:
            stream.write(
                "".join(
                    json.dumps({n: plain(v) for n, v in zip(names, row)}, ensure_ascii=False) + "\n"
                    for row in _rows(part)
                )
            )
    elif fmt == "markdown":
        stream.write("| " + " | ".join(_md(n) for n in names) + " |\n")
        stream.write("|" + "|".join(" --- " for _ in names) + "|\n")
        for part in parts:
            stream.write("".join("| " + " | ".join(_md(display(v)) for v in row) + " |\n" for row in _rows(part)))
    else:
        raise ValueError(f"cannot stream the {fmt} format")
    stream.flush()


def _md(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def parquet(schema: pyarrow.Schema, parts: Iterable[pyarrow.RecordBatch], sink: Any) -> None:
    """Write record batches as one Parquet file (zstd) to a binary file."""
    import pyarrow.parquet as pq

    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for part in parts:
            writer.write_batch(part)


# Cells that need quotes in CSV: a delimiter, a quote or a line break (as Python's csv writes).
NEEDS_QUOTES = r'[",\r\n]'


def _byte_sink(stream: Any) -> Callable[[Any], Any]:
    """Where CSV bytes go: the stream's binary buffer when it is UTF-8 without newline
    translation, else the stream itself as text (its own encoding and newlines)."""
    buffer = getattr(stream, "buffer", None)
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    if buffer is not None and encoding == "utf8" and os.linesep == "\n":
        return buffer.write
    return lambda data: stream.write(bytes(data).decode("utf-8"))


# A batch this small is written by Python's csv module: Arrow's compute functions would cost
# more to import (about 50 ms) than the rows take to write.
SMALL_BATCH = 1_000


def _write_csv(part: Batch, write: Callable[[Any], Any], delimiter: str = ",") -> None:
    """Write one batch's rows (no header) as CSV: the bytes Python's csv writer writes for
    `cell` of every value (NULL is an empty cell, booleans true/false, NaN and infinities
    empty, quotes only where needed). Rows DuckDB fetched and a small batch go through that
    writer itself; a larger batch is built column by column in Arrow (C++)."""
    if isinstance(part, list):
        if not part or not part[0]:
            return
    elif part.num_rows == 0 or part.num_columns == 0:
        return
    if isinstance(part, list) or part.num_rows < SMALL_BATCH:
        text = io.StringIO()
        csv.writer(text, lineterminator="\n", delimiter=delimiter).writerows(
            [cell(v) for v in row] for row in _rows(part)
        )
        _write_bytes(write, text.getvalue().encode("utf-8"))
    else:
        _write_arrow_csv(part, write, delimiter)


def _write_bytes(write: Callable[[Any], Any], data: Any) -> None:
    try:
        write(data)
    except OSError as exc:
        if getattr(exc, "errno", None) == errno.EPIPE:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe") from exc
        raise


def _write_arrow_csv(part: pyarrow.RecordBatch, write: Callable[[Any], Any], delimiter: str) -> None:
    """`_write_csv` in Arrow. Types whose Arrow text differs from `cell` (timestamps, times,
    binary, nested values, ...) go through `cell` one value at a time."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cells = [_csv_text(part.column(i), delimiter) for i in range(part.num_columns)]
    if len(cells) == 1:
        # csv writes a row of one empty cell as "", or it would read back as no row at all
        lines = pc.if_else(pc.equal(cells[0], ""), pa.scalar('""'), cells[0])
    else:
        lines = pc.binary_join_element_wise(*cells, pa.scalar(delimiter))
    lines = pc.binary_join_element_wise(lines, pa.scalar(""), pa.scalar("\n"))  # each line + "\n"
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    if pa.types.is_large_string(lines.type):
        lines = lines.cast(pa.string())
    _, offsets, data = lines.buffers()
    offsets = memoryview(offsets).cast("B").cast("i")  # int32 offsets of a string array
    first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
    _write_bytes(write, data.slice(first, last - first) if data is not None else b"")


def _csv_text(column: pyarrow.Array, delimiter: str = ",") -> pyarrow.Array:
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
    needs = pc.match_substring_regex(text, NEEDS_QUOTES if delimiter == "," else r'[\t"\r\n]')
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


def _rows(part: Batch) -> Iterable[tuple]:
    if isinstance(part, list):
        return part
    columns = [part.column(i).to_pylist() for i in range(part.num_columns)]
    return zip(*columns) if columns else []


def arrow(result: pyarrow.Table, fmt: str) -> None:
    names = result.column_names
    columns = [result.column(i).to_pylist() for i in range(result.num_columns)]
    records(names, zip(*columns) if columns else [], fmt)


def table_view(result: Result, cut: bool, stream: Any = None, width: int | None = None) -> None:
    """A query result for people: each column's name over its type, cells cut (never wrapped)
    to fit the terminal, and the row count under the table."""
    import shutil

    from rich.console import Console
    from rich.table import Table

    stream = sys.stdout if stream is None else stream
    tty = width is not None or (stream.isatty() if hasattr(stream, "isatty") else False)
    # piped, every cell stays whole; at a terminal, each column gets a share of its width
    width = width or (shutil.get_terminal_size().columns if tty else 10_000)
    share = max(8, (width - 1) // max(len(result.names), 1) - 3) if tty else None
    table = Table(show_lines=False, header_style="bold")
    for name, kind in zip(result.names, result.types):
        table.add_column(f"{name}\n{kind}", overflow="ellipsis", no_wrap=True, max_width=share)
    for row in result.rows:
        table.add_row(*(display(v) for v in row))
    console = Console(file=stream, highlight=False, soft_wrap=False, width=width)
    console.print(table)
    count = f"{len(result.rows):,} row{'' if len(result.rows) == 1 else 's'}"
    stream.write((f"first {count} shown" if cut else count) + "\n")
    stream.flush()


def type_name(kind: Any) -> str:
    """The DuckDB spelling of an Arrow type, as the DuckDB CLI shows it."""
    import pyarrow as pa

    t = pa.types
    names = [
        (t.is_boolean, "boolean"),
        (t.is_int8, "tinyint"),
        (t.is_int16, "smallint"),
        (t.is_int32, "integer"),
        (t.is_int64, "bigint"),
        (t.is_uint8, "utinyint"),
        (t.is_uint16, "usmallint"),
        (t.is_uint32, "uinteger"),
        (t.is_uint64, "ubigint"),
        (t.is_float32, "float"),
        (t.is_float64, "double"),
        (t.is_date, "date"),
        (t.is_time, "time"),
        (t.is_binary, "blob"),
        (t.is_large_binary, "blob"),
        (t.is_string, "varchar"),
        (t.is_large_string, "varchar"),
        (_is_string_view, "varchar"),
        (t.is_null, "null"),
    ]
    for test, name in names:
        if test(kind):
            return name
    if t.is_timestamp(kind):
        return "timestamp with time zone" if kind.tz else "timestamp"
    if t.is_decimal(kind):
        return f"decimal({kind.precision},{kind.scale})"
    if t.is_duration(kind):
        return "interval"
    return str(kind)


def schema(described: dict[str, Any]) -> None:
    """A table's description for people, on stdout."""
    lines = [f"{described['name']}  ({described['location']})"]
    facts = [f"{described['rows']:,} rows", f"{described['files']} files", f"{len(described['partitions'])} partitions"]
    if described.get("quality"):
        q = described["quality"]
        facts.append(f"quality {q['score']:g}/100 ({q['failed']} of {q['checks']} checks failed, {q['checked_at']})")
    lines.append("  " + ", ".join(facts))
    lines.append(f"  last run {described['last_run_id']} by {described['writer']}")
    if described.get("primary_key"):
        lines.append(f"  primary key: {', '.join(described['primary_key'])}")
    if described.get("derived_from"):
        lines.append(f"  derived from: {', '.join(described['derived_from'])}")
    if described.get("prediction"):
        p = described["prediction"]
        version = f" v{p['version']}" if p.get("version") else ""
        lines.append(
            f"  scored by model {p['model']}{version} ({p['task']}) on {p['input']['location']}"
            f" at run {p['input']['last_run_id']}"
        )
    sys.stdout.write("\n".join(lines) + "\n\n")
    rows = [
        [c["name"], c["type"], "yes" if c["nullable"] else "no", "partition" if c["partition"] else ""]
        for c in described["columns"]
    ]
    records(["column", "type", "nullable", ""], rows, "table")
    history = described["schema_history"]
    if len(history) > 1:
        sys.stdout.write(
            "schema history: " + "; ".join(f"v{h['version']} {h['change']} ({h['at'][:10]})" for h in history) + "\n"
        )
    sys.stdout.flush()

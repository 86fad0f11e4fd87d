"""Query results and catalog listings on stdout: a rich table for people, CSV or JSON for programs.

JSON: dates and timestamps are ISO 8601 strings, decimals are strings (exact), NaN and
infinities are null, binary is base64. CSV: a header row, empty cells for NULL.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import json
import math
import sys
import textwrap
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterable, Sequence

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


def batches(names: Sequence[str], parts: Iterable["pyarrow.RecordBatch"], fmt: str) -> None:
    """Write record batches to stdout as CSV or JSON one batch at a time, as they arrive.

    The output is the same as `records` would write for all the rows at once.
    """
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(names)
        for part in parts:
            writer.writerows([cell(v) for v in row] for row in _rows(part))
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


def _rows(part: "pyarrow.RecordBatch") -> Iterable[tuple]:
    columns = [part.column(i).to_pylist() for i in range(part.num_columns)]
    return zip(*columns) if columns else []


def arrow(result: "pyarrow.Table", fmt: str) -> None:
    names = result.column_names
    columns = [result.column(i).to_pylist() for i in range(result.num_columns)]
    records(names, zip(*columns) if columns else [], fmt)

"""Running SQL: the whole (capped) result for the table view, or a stream of batches.

A result DuckDB can hand over as Python rows with the values Arrow would give (`ROW_TYPES`) is
fetched by DuckDB itself, so pyarrow is not imported for it (25–30 ms of every such query): for
the table view whole (it becomes Python values either way, and DuckDB's fetch is the quicker),
for a stream when it has at most FETCH_ROWS rows. Any other result comes as Arrow record
batches. A stream found longer runs its statement again through Arrow, and no row of the first
run is written: the work of its first rows is done twice (all of it, for a sort or an aggregate).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataspoc_lens.errors import QueryError
from dataspoc_lens.translate import as_duckdb_error, translate

if TYPE_CHECKING:
    import duckdb
    import pyarrow

# DuckDB types whose values DuckDB's fetch and Arrow's to_pylist give alike, with the name the
# table view shows for them (render.type_name of their Arrow type). Not HUGEINT (int against
# Decimal), UUID (UUID against str), INTERVAL, TIMESTAMP WITH TIME ZONE, TIME, nested types.
ROW_TYPES = {
    "BOOLEAN": "boolean",
    "TINYINT": "tinyint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "UTINYINT": "utinyint",
    "USMALLINT": "usmallint",
    "UINTEGER": "uinteger",
    "UBIGINT": "ubigint",
    "FLOAT": "float",
    "DOUBLE": "double",
    "VARCHAR": "varchar",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    '"NULL"': "null",
}
DECIMAL = re.compile(r"DECIMAL\([0-9]+,[0-9]+\)")
# What DuckDB's fetch gives for a date or timestamp Python cannot hold (infinity, a year past
# 9999 or before 1): an extreme value or text, where Arrow's conversion fails. A result holding
# one goes through Arrow, which reports it as before.
EDGES = {dt.date.min, dt.date.max, dt.datetime.min, dt.datetime.max}
FETCH_ROWS = 1_000  # past this, Arrow's batches beat Python's rows even with pyarrow's import


@dataclass
class Result:
    """A whole query result: column names, their types as the table view shows them, rows."""

    names: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]


def run(con: duckdb.DuckDBPyConnection, sql: str, max_rows: int | None) -> tuple[Result | None, bool]:
    """Run SQL; return its result (None for statements without one) and whether it was cut short."""
    import duckdb

    if not sql.strip():
        raise QueryError("the SQL is empty")
    try:
        relation = con.sql(sql)
        if relation is None:
            return None, False
        if max_rows is not None:
            relation = relation.limit(max_rows + 1)
        result = _fetched(relation) or _arrow_rows(relation)
    except duckdb.Error as exc:
        raise translate(exc) from exc
    if max_rows is not None and len(result.rows) > max_rows:
        result.rows = result.rows[:max_rows]
        return result, True
    return result, False


def _fetched(relation: Any) -> Result | None:
    types = row_types(relation)
    if types is None:
        return None
    rows = fetch(relation, types)
    return None if rows is None else Result(list(relation.columns), types, rows)


def _arrow_rows(relation: Any) -> Result:
    from dataspoc_lens.render import type_name

    table = arrow(relation)
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return Result(table.column_names, [type_name(f.type) for f in table.schema], list(zip(*columns)))


def row_types(relation: Any) -> list[str] | None:
    """The table view's names of the result's column types, when DuckDB's own fetch gives the
    values Arrow would; None otherwise."""
    names = []
    for kind in relation.types:
        text = str(kind)
        name = ROW_TYPES.get(text) or (text.lower() if DECIMAL.fullmatch(text) else None)
        if name is None:
            return None
        names.append(name)
    return names


def fetch(relation: Any, types: list[str], limit: int | None = None) -> list[tuple[Any, ...]] | None:
    """The result's rows by DuckDB's fetch; None when it has more than `limit` rows, or a date
    or timestamp DuckDB can only approximate."""
    rows = (relation.limit(limit + 1) if limit is not None else relation).fetchall()
    if limit is not None and len(rows) > limit:
        return None
    dated = [i for i, name in enumerate(types) if name in ("date", "timestamp")]
    if dated and any(isinstance(row[i], str) or row[i] in EDGES for row in rows for i in dated):
        return None
    return rows


BATCH_ROWS = 10_000


@dataclass
class Stream:
    """A query's result as it arrives: column names, then batches (read them once): Arrow
    record batches, or one list of row tuples when DuckDB fetched a small result itself.

    `cut` turns true once the batches stop early because of max_rows.
    """

    names: list[str]
    _reader: Any = field(default=None, repr=False)
    _max_rows: int | None = None
    cut: bool = False
    _rows: list[tuple[Any, ...]] | None = field(default=None, repr=False)

    @property
    def schema(self) -> pyarrow.Schema:
        return self._reader.schema

    def batches(self) -> Iterator[Any]:
        if self._rows is not None:
            if self._rows:
                yield self._rows
            return
        import duckdb

        seen = 0
        while True:
            try:
                batch = self._reader.read_next_batch()
            except StopIteration:
                return
            except duckdb.Error as exc:
                raise translate(exc) from exc
            except OSError as exc:  # Arrow's reader re-raises DuckDB's errors as OSError
                raise translate(as_duckdb_error(exc)) from exc
            if self._max_rows is not None and seen + batch.num_rows > self._max_rows:
                self.cut = True
                if self._max_rows > seen:
                    yield batch.slice(0, self._max_rows - seen)
                return
            seen += batch.num_rows
            yield batch


def stream(con: duckdb.DuckDBPyConnection, sql: str, max_rows: int | None, arrow_only: bool = False) -> Stream | None:
    """Run SQL; its result as a Stream (None for statements without one). `arrow_only`: Arrow
    record batches whatever the result (Parquet output needs them).

    Nothing is materialised: keep `con` open until the batches have been read.
    """
    import duckdb

    if not sql.strip():
        raise QueryError("the SQL is empty")
    try:
        relation = con.sql(sql)
        if relation is None:
            return None
        if max_rows is not None:
            relation = relation.limit(max_rows + 1)
        types = None if arrow_only else row_types(relation)
        rows = fetch(relation, types, FETCH_ROWS) if types is not None else None
        if rows is not None:
            cut = max_rows is not None and len(rows) > max_rows
            return Stream(list(relation.columns), _rows=rows[:max_rows] if cut else rows, cut=cut)
        reader = batch_reader(relation)
        return Stream(list(reader.schema.names), reader, max_rows)
    except duckdb.Error as exc:
        raise translate(exc) from exc


def batch_reader(relation: Any) -> pyarrow.RecordBatchReader:
    # DuckDB 2.0 has to_arrow_reader(); older releases call it fetch_record_batch().
    method = getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch
    return method(BATCH_ROWS)


def arrow(relation: Any) -> pyarrow.Table:
    # DuckDB 2.0 has to_arrow_table(); older releases call it arrow().
    method = getattr(relation, "to_arrow_table", None) or relation.arrow
    return method()

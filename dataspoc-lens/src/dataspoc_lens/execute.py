"""Running SQL: a capped Arrow table for the table view, or a stream of record batches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataspoc_lens.errors import QueryError
from dataspoc_lens.translate import as_duckdb_error, translate

if TYPE_CHECKING:
    import duckdb
    import pyarrow


def run(con: duckdb.DuckDBPyConnection, sql: str, max_rows: int | None) -> tuple[pyarrow.Table | None, bool]:
    """Run SQL; return its result (None for statements without one) and whether it was cut short."""
    import duckdb

    if not sql.strip():
        raise QueryError("the SQL is empty")
    try:
        relation = con.sql(sql)
        if relation is None:
            return None, False
        if max_rows is None:
            return arrow(relation), False
        result = arrow(relation.limit(max_rows + 1))
    except duckdb.Error as exc:
        raise translate(exc) from exc
    if result.num_rows > max_rows:
        return result.slice(0, max_rows), True
    return result, False


BATCH_ROWS = 10_000


@dataclass
class Stream:
    """A query's result as it arrives: column names, then record batches (read them once).

    `cut` turns true once the batches stop early because of max_rows.
    """

    names: list[str]
    _reader: Any = field(repr=False)
    _max_rows: int | None = None
    cut: bool = False

    @property
    def schema(self) -> pyarrow.Schema:
        return self._reader.schema

    def batches(self) -> Iterator[pyarrow.RecordBatch]:
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


def stream(con: duckdb.DuckDBPyConnection, sql: str, max_rows: int | None) -> Stream | None:
    """Run SQL; its result as a Stream of record batches (None for statements without one).

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

"""How a run's rows are laid out in a table: its write mode and its `dt=` partitions.

`dt` is the extraction date (UTC) by default, or the date of a record column
(`partition_by: {column: ordered_at}`): a timestamp with a zone is taken in UTC, one without a
zone as it is, a date as it is. Rows whose column is NULL go to `dt=__HIVE_DEFAULT_PARTITION__`,
which Hive, Spark, Trino and DuckDB read as a NULL date, and the run log counts them there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dataspoc_pipe.contract.models import WriteMode
from dataspoc_pipe.errors import SourceError

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True)
class Layout:
    mode: WriteMode = "append"
    column: str | None = None  # None: dt is the run's date

    def split(self, batch, started: datetime, origin: str) -> Iterator[tuple[dict[str, str], Any]]:
        """(partition values, the batch's rows that belong there)."""
        if self.column is None:
            yield {"dt": started.strftime("%Y-%m-%d")}, batch
            return
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.column not in batch.schema.names:
            raise SourceError(f"{origin}: no column '{self.column}' to partition by; check partition_by.column")
        column = batch.column(self.column)
        kind = column.type
        if pa.types.is_timestamp(kind):
            if kind.tz is not None:
                column = column.cast(pa.timestamp(kind.unit, tz="UTC"))
        elif pa.types.is_date(kind):
            column = column.cast(pa.timestamp("s"))
        else:
            raise SourceError(
                f"{origin}: partition column '{self.column}' is {kind}, not a date or timestamp; "
                "declare its type in source.columns"
            )
        days = pc.fill_null(pc.strftime(column, format="%Y-%m-%d"), NULL_PARTITION)
        values = pc.unique(days).to_pylist()
        if len(values) == 1:
            yield {"dt": values[0]}, batch
            return
        for value in sorted(values):
            yield {"dt": value}, batch.filter(pc.equal(days, value))

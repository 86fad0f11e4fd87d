"""Parquet files: a path or glob, read row group by row group.

A Parquet file cannot grow in place: a file changed after it was ingested is refused (or read
again in full with --reread-changed). Files of one table may differ by added columns; a column
whose type changes between files is an error naming the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field

from dataspoc_pipe.errors import SourceError
from dataspoc_pipe.sources.base import Context, Kind, SourceConfig, Stream
from dataspoc_pipe.sources.files import FileStream, Work

BATCH_ROWS = 256_000


class ParquetConfig(SourceConfig):
    kind: Literal["parquet"] = "parquet"
    path: Annotated[str, Field(min_length=1, description="A file or a glob, relative to the project file.")]


class ParquetStream(FileStream):
    appendable = False
    evolving_columns = True

    def read_file(self, work: Work) -> Iterator:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            with work.file.open() as raw, pq.ParquetFile(raw) as handle:
                yield from handle.iter_batches(batch_size=BATCH_ROWS)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
            raise SourceError(f"{work.file.path}: cannot read as Parquet: {str(exc).splitlines()[0]}") from None


def open_streams(config: ParquetConfig, context: Context) -> list[Stream]:
    return [ParquetStream(context.default_table, config.path, context)]


KIND = Kind(
    name="parquet",
    config=ParquetConfig,
    open=open_streams,
    summary="Parquet files: a path or glob; added columns are kept",
)

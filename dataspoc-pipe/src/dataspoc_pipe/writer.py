"""Arrow batches into run-scoped Parquet files in a staging folder, one set per partition."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dataspoc_pipe.errors import SourceError

ROW_GROUP_ROWS = 256_000
FILE_MAX_ROWS = 10_000_000
COMPRESSION = "zstd"


@dataclass
class WrittenFile:
    partition: dict[str, str]
    local_path: Path
    rel_path: str  # where it will live in the bucket
    rows: int = 0
    bytes: int = 0


@dataclass
class _Open:
    file: WrittenFile
    writer: object
    pending: list = field(default_factory=list)
    pending_rows: int = 0


class PartitionedWriter:
    """Writes one table's batches for one run.

    Batches are buffered into row groups of ROW_GROUP_ROWS, and a partition rolls to a new
    file after FILE_MAX_ROWS, so memory stays bounded whatever the input size.
    """

    def __init__(self, staging: Path, location: str, run_id: str):
        self.staging = staging
        self.location = location
        self.run_id = run_id
        self.schema = None
        self.files: list[WrittenFile] = []
        self._open: dict[tuple, _Open] = {}
        self._sequence = 0

    def write(self, batch, partition: dict[str, str], origin: str) -> None:
        if self.schema is None:
            self.schema = batch.schema
        elif not batch.schema.equals(self.schema):
            batch = self._conform(batch, origin)
        if batch.num_rows == 0:
            return
        key = tuple(sorted(partition.items()))
        current = self._open.get(key)
        if current is None:
            current = self._start(partition)
        current.pending.append(batch)
        current.pending_rows += batch.num_rows
        if current.pending_rows >= ROW_GROUP_ROWS:
            self._flush(current)
        if current.file.rows >= FILE_MAX_ROWS:
            self._finish(key)

    def _conform(self, batch, origin: str):
        """Cast a batch whose inferred types differ from the first file's, or fail clearly."""
        import pyarrow as pa

        names = [f.name for f in self.schema]
        if batch.schema.names != names:
            raise SourceError(
                f"{origin}: columns {batch.schema.names} differ from the first file's {names}; "
                "give files of one table the same header"
            )
        try:
            return pa.RecordBatch.from_arrays(
                [col.cast(f.type) for col, f in zip(batch.columns, self.schema)], schema=self.schema
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise SourceError(
                f"{origin}: values do not fit the types read from the first file ({str(exc).splitlines()[0]})"
            ) from None

    def _start(self, partition: dict[str, str]) -> _Open:
        import pyarrow.parquet as pq

        directory = "/".join(f"{k}={v}" for k, v in partition.items())
        name = f"part-{self.run_id}-{self._sequence:05d}.parquet"
        self._sequence += 1
        rel = f"{self.location}/{directory}/{name}" if directory else f"{self.location}/{name}"
        local = self.staging / f"{self._sequence:05d}-{name}"
        written = WrittenFile(partition=dict(partition), local_path=local, rel_path=rel)
        writer = pq.ParquetWriter(local, self.schema, compression=COMPRESSION)
        opened = _Open(file=written, writer=writer)
        self._open[tuple(sorted(partition.items()))] = opened
        return opened

    def _flush(self, current: _Open) -> None:
        import pyarrow as pa

        if not current.pending:
            return
        table = pa.Table.from_batches(current.pending, schema=self.schema)
        current.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        current.file.rows += table.num_rows
        current.pending = []
        current.pending_rows = 0

    def _finish(self, key: tuple) -> None:
        current = self._open.pop(key)
        self._flush(current)
        current.writer.close()
        current.file.bytes = current.file.local_path.stat().st_size
        self.files.append(current.file)

    def close(self) -> list[WrittenFile]:
        for key in list(self._open):
            self._finish(key)
        return self.files

    def abort(self) -> None:
        for current in self._open.values():
            try:
                current.writer.close()
            except Exception:  # noqa: BLE001 - the run is failing already
                pass
        self._open.clear()

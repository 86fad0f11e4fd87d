"""The partitioned writer on real Parquet files: row groups, file rolling, failures."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataspoc_pipe import writer as writer_module
from dataspoc_pipe.errors import SourceError
from dataspoc_pipe.writer import PartitionedWriter


def batch(start, rows):
    return pa.record_batch(
        {"id": pa.array(range(start, start + rows), pa.int64()), "name": [f"n{i}" for i in range(rows)]}
    )


def test_batches_become_whole_row_groups_and_files_roll(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_module, "ROW_GROUP_ROWS", 1000)
    monkeypatch.setattr(writer_module, "FILE_MAX_ROWS", 3000)
    w = PartitionedWriter(tmp_path, "raw/s/t", "20261122T030000.000Z-a1b2c3")
    for i in range(10):
        w.write(batch(i * 700, 700), {"dt": "2026-11-22"}, "test")
    files = w.close()
    # A file rolls at the first row group that takes it past FILE_MAX_ROWS.
    assert [f.rows for f in files] == [4200, 2800]
    assert [f.rel_path.rsplit("/", 1)[-1] for f in files] == [
        "part-20261122T030000.000Z-a1b2c3-00000.parquet",
        "part-20261122T030000.000Z-a1b2c3-00001.parquet",
    ]
    first = pq.ParquetFile(files[0].local_path)
    assert [first.metadata.row_group(i).num_rows for i in range(first.metadata.num_row_groups)] == [1400, 1400, 1400]
    ids = pa.concat_tables([pq.read_table(f.local_path) for f in files]).column("id").to_pylist()
    assert ids == list(range(7000))
    assert all(f.bytes == f.local_path.stat().st_size for f in files)


def test_partitions_get_their_own_files(tmp_path):
    w = PartitionedWriter(tmp_path, "raw/s/t", "20261122T030000.000Z-a1b2c3")
    w.write(batch(0, 5), {"dt": "2026-11-21"}, "test")
    w.write(batch(5, 3), {"dt": "2026-11-22"}, "test")
    files = sorted(w.close(), key=lambda f: f.rel_path)
    assert [(f.partition["dt"], f.rows) for f in files] == [("2026-11-21", 5), ("2026-11-22", 3)]
    assert files[0].rel_path.startswith("raw/s/t/dt=2026-11-21/part-")


def test_a_later_batch_with_other_columns_is_refused(tmp_path):
    w = PartitionedWriter(tmp_path, "raw/s/t", "20261122T030000.000Z-a1b2c3")
    w.write(batch(0, 5), {"dt": "2026-11-22"}, "a.csv")
    with pytest.raises(SourceError, match="b.csv"):
        w.write(pa.record_batch({"other": [1]}), {"dt": "2026-11-22"}, "b.csv")
    w.abort()

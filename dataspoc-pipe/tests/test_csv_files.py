"""The CSV source on real files: what a run reads, and what it refuses to read twice."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from dataspoc_pipe.errors import SourceError
from dataspoc_pipe.sources import files as csv_files
from dataspoc_pipe.sources.base import Context
from dataspoc_pipe.sources.csv_files import CsvConfig, CsvStream

SOURCE = CsvConfig(path="data/*.csv")
RUN = "20261122T030000.000Z-a1b2c3"


def rows(work, tmp_path=None):
    stream = CsvStream(
        "t", SOURCE, Context(run_id=RUN, project_dir=tmp_path or Path(work.file.path).parent, bookmarks={})
    )
    batches = list(stream.read_file(work))
    return pa.Table.from_batches(batches).to_pylist() if batches else []


def discover_one(tmp_path):
    [found] = csv_files.discover(SOURCE.path, tmp_path)
    return found


def test_a_run_reads_only_the_bytes_seen_at_discovery(tmp_path):
    path = tmp_path / "data" / "a.csv"
    path.parent.mkdir()
    path.write_text("id,name\n1,a\n2,b\n")
    found = discover_one(tmp_path)
    with open(path, "a") as handle:  # another process appends while the run reads
        handle.write("3,c\n")
    assert rows(csv_files.Work(found, 0, "new")) == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]

    mark = csv_files.bookmark(csv_files.Work(found, 0, "new"), RUN)
    grown = discover_one(tmp_path)
    [work] = csv_files.plan([grown], {grown.key: mark}, reread_changed=False, appendable=True)
    assert (work.kind, work.offset) == ("grown", found.size)
    assert rows(work) == [{"id": 3, "name": "c"}]


def test_keys_are_relative_to_the_project(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("id\n1\n")
    assert discover_one(tmp_path).key == "data/a.csv"


def test_a_rewrite_is_refused_and_a_touch_is_ignored(tmp_path):
    path = tmp_path / "data" / "a.csv"
    path.parent.mkdir()
    path.write_text("id,name\n1,a\n2,b\n")
    mark = csv_files.bookmark(csv_files.Work(discover_one(tmp_path), 0, "new"), RUN)

    path.write_text("id,name\n1,a\n2,b\n")  # same bytes, new modification time
    assert csv_files.plan([discover_one(tmp_path)], {"data/a.csv": mark}, reread_changed=False, appendable=True) == []

    path.write_text("id,name\n9,z\n2,b\n3,c\n")
    with pytest.raises(SourceError, match="data/a.csv.*--reread-changed"):
        csv_files.plan([discover_one(tmp_path)], {"data/a.csv": mark}, reread_changed=False, appendable=True)
    [work] = csv_files.plan([discover_one(tmp_path)], {"data/a.csv": mark}, reread_changed=True, appendable=True)
    assert (work.kind, work.offset) == ("reread", 0)


def test_a_line_still_being_written_waits_and_an_old_one_is_read_whole(tmp_path):
    import os
    import time

    path = tmp_path / "data" / "a.csv"
    path.parent.mkdir()
    path.write_text("id,name\n1,a\n2,b")  # the writer is in the middle of row 2
    [work] = csv_files.plan([discover_one(tmp_path)], {}, reread_changed=False, appendable=True)
    assert work.stop == len("id,name\n1,a\n") and rows(work) == [{"id": 1, "name": "a"}]
    mark = csv_files.bookmark(work, RUN)
    with open(path, "a") as handle:
        handle.write("ob\n3,c\n")
    [grown] = csv_files.plan([discover_one(tmp_path)], {"data/a.csv": mark}, reread_changed=False, appendable=True)
    assert grown.kind == "grown" and rows(grown) == [{"id": 2, "name": "bob"}, {"id": 3, "name": "c"}]

    path.write_text("id,name\n1,a\n2,b")
    old = time.time() - 3600
    os.utime(path, (old, old))  # still for an hour: the last line is whole, newline or not
    [whole] = csv_files.plan([discover_one(tmp_path)], {}, reread_changed=False, appendable=True)
    assert rows(whole) == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    mark = csv_files.bookmark(whole, RUN)
    with open(path, "a") as handle:
        handle.write("bc\n2,b\n")  # the row it read was cut: growing it now is a rewrite
    with pytest.raises(SourceError, match="not by appending"):
        csv_files.plan([discover_one(tmp_path)], {"data/a.csv": mark}, reread_changed=False, appendable=True)

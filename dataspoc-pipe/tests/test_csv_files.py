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

    mark = csv_files.bookmark(found, RUN)
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
    mark = csv_files.bookmark(discover_one(tmp_path), RUN)

    path.write_text("id,name\n1,a\n2,b\n")  # same bytes, new modification time
    assert csv_files.plan([discover_one(tmp_path)], {"data/a.csv": mark}, reread_changed=False, appendable=True) == []

    path.write_text("id,name\n9,z\n2,b\n3,c\n")
    with pytest.raises(SourceError, match="data/a.csv.*--reread-changed"):
        csv_files.plan([discover_one(tmp_path)], {"data/a.csv": mark}, reread_changed=False, appendable=True)
    [work] = csv_files.plan([discover_one(tmp_path)], {"data/a.csv": mark}, reread_changed=True, appendable=True)
    assert (work.kind, work.offset) == ("reread", 0)


def test_growth_after_a_line_without_newline_is_a_rewrite(tmp_path):
    path = tmp_path / "data" / "a.csv"
    path.parent.mkdir()
    path.write_text("id,name\n1,a")
    mark = csv_files.bookmark(discover_one(tmp_path), RUN)
    with open(path, "a") as handle:
        handle.write("bc\n2,b\n")  # the last row was cut when the run read it
    with pytest.raises(SourceError, match="not by appending"):
        csv_files.plan([discover_one(tmp_path)], {"data/a.csv": mark}, reread_changed=False, appendable=True)

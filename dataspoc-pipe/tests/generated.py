"""What the property tests share: value strategies, and reading files through a source kind as a
run does (kind -> open -> plan -> batches)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
from hypothesis import strategies as st

from dataspoc_pipe import sources
from dataspoc_pipe.sources.base import Context

RUN = "20261122T030000.000Z-a1b2c3"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# integers anywhere in int64, with its bounds and their neighbours drawn often
int64s = st.one_of(
    st.integers(INT64_MIN, INT64_MAX),
    st.sampled_from([INT64_MIN, INT64_MIN + 1, INT64_MAX - 1, INT64_MAX, 0, -1, 2**53 + 1]),
)
beyond_int64 = st.one_of(st.integers(INT64_MAX + 1, 2**70), st.integers(-(2**70), INT64_MIN - 1))
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
# any text a UTF-8 file can hold: every plane, controls, quotes, separators, newlines
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)


def column_names(min_size: int = 1, max_size: int = 5, alphabet=None):
    """Distinct column names, ignoring case as SQL does, never blank and never `dt` (reserved)."""
    name = st.text(
        st.characters(exclude_categories=["Cs", "Cc"]) if alphabet is None else alphabet, min_size=1, max_size=8
    ).filter(lambda n: n.strip() and n.lower() != "dt")
    return st.lists(name, min_size=min_size, max_size=max_size, unique_by=str.lower)


def read_files(kind: str, files: dict[str, bytes], mtime: float | None = None, **source) -> list[pa.RecordBatch]:
    """The batches a run of `kind` reads from these files (data/<name>), in order."""
    import os

    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "data").mkdir()
        for name, content in files.items():
            (project / "data" / name).write_bytes(content)
            if mtime is not None:
                os.utime(project / "data" / name, (mtime, mtime))
        chosen = sources.kind(kind)
        config = chosen.config(kind=kind, path="data/*", **source)
        [stream] = chosen.open(config, Context(run_id=RUN, project_dir=project, bookmarks={}))
        stream.plan()
        return list(stream.batches())


def as_rows(batches: list[pa.RecordBatch]) -> list[dict]:
    """Every row of the batches, the columns of later batches joined by name."""
    if not batches:
        return []
    tables = [pa.Table.from_batches([b]) for b in batches]
    return pa.concat_tables(tables, promote_options="permissive").to_pylist()

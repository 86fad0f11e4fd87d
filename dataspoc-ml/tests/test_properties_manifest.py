"""Properties of ML's manifest update (catalog.upsert_table): only the ml entry it writes
changes, every field this version does not know is kept (the contract's rule for writers),
writing the same entry twice is writing it once, and what is written meets the contract.

Manifests are generated with tables of every layer and with fields of a later contract version
(`x_*`) at every level; those break this version's JSON schema (additionalProperties: false), so
the schema is checked on the document without them.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lake
from dataspoc_ml import catalog
from dataspoc_ml.bucket import Bucket
from dataspoc_ml.contract import MANIFEST_PATH
from dataspoc_ml.contract.models import parse
from dataspoc_ml.errors import ContractError

MODELS = ["churn", "ltv", "segments"]
TYPES = ["int64", "double", "string", "bool"]
WRITERS = {"raw": "dataspoc-pipe/0.1.0", "curated": "dataspoc-pipe/0.1.0", "gold": "dataspoc-lens/0.1.0"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=4,
)
future = st.dictionaries(st.from_regex(r"x_[a-z]{1,4}", fullmatch=True), json_values, max_size=2)


def run_id(n: int) -> str:
    return f"20261122T{n // 3600 % 24:02d}{n // 60 % 60:02d}{n % 60:02d}.000Z-{n % 16**6:06x}"


def stamp(n: int) -> str:
    return f"2026-11-22T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z"


@st.composite
def columns(draw) -> list[dict]:
    names = draw(st.lists(st.sampled_from(["prediction", "probability", "id", "cluster"]), min_size=1, unique=True))
    return [{"name": n, "type": draw(st.sampled_from(TYPES)), "nullable": draw(st.booleans())} for n in names]


@st.composite
def entries(draw, layer: str, n: int, extras: bool) -> dict:
    """A table entry: ML's own (layer ml) as upsert_table is handed it, or another tool's."""
    namespace = "predictions" if layer == "ml" else draw(st.sampled_from(["shop", "sales"]))
    name = draw(st.sampled_from(MODELS if layer == "ml" else ["orders", "daily"]))
    location = f"{layer}/{namespace}/{name}"
    partitioned = layer in ("raw", "curated")
    files = [
        {"path": f"{location}/{'dt=2026-11-22/' if partitioned else ''}part-{run_id(n)}-{i}.parquet"}
        | {"rows": rows, "bytes": rows * 8, "run_id": run_id(n)}
        | (draw(future) if extras else {})
        for i, rows in enumerate(draw(st.lists(st.integers(0, 500), max_size=2)))
    ]
    partition = {"values": {"dt": "2026-11-22"} if partitioned else {}, "files": files}
    partition |= {"rows": sum(f["rows"] for f in files), "bytes": sum(f["bytes"] for f in files)}
    partitions = [partition | (draw(future) if extras else {})] if files else []
    entry = {
        "layer": layer,
        "namespace": namespace,
        "name": name,
        "location": location,
        "format": "parquet",
        "partition_by": ["dt"] if partitioned else [],
        "partitions": partitions,
        "columns": draw(columns()),
        "row_count": sum(p["rows"] for p in partitions),
        "file_count": len(files),
        "bytes": sum(p["bytes"] for p in partitions),
        "last_run_id": run_id(n),
        "last_run_at": stamp(n),
        "writer": WRITERS.get(layer, catalog.WRITER),
    }
    if draw(st.booleans()):
        entry["description"] = draw(st.text(max_size=8))
    if layer == "ml" and draw(st.booleans()):
        entry["derived_from"] = ["gold/sales/daily"]
    return entry | (draw(future) if extras else {})


@st.composite
def manifests(draw) -> dict:
    """A stored manifest as any writer left it, ML's earlier entries (with their history) included."""
    tables = {}
    for i, layer in enumerate(draw(st.lists(st.sampled_from(["raw", "curated", "gold", "ml"]), max_size=5))):
        entry = draw(entries(layer, i, extras=True))
        entry["schema_history"] = [
            {"version": 1, "run_id": run_id(i), "at": stamp(i), "change": "created", "columns": entry["columns"]}
        ]
        tables.setdefault(entry["location"], entry)
    document = {"contract_version": f"1.{draw(st.integers(0, 9))}", "updated_at": stamp(0)}
    return document | {"tables": list(tables.values())} | draw(future)


def upserts(count: int):
    """ML entries as predict.py builds them, for later runs than any in the manifest."""
    return st.lists(st.integers(100, 80_000), min_size=1, max_size=count, unique=True).flatmap(
        lambda ns: st.tuples(*(entries("ml", n, extras=False) for n in sorted(ns)))
    )


def stored(folder: Path) -> dict:
    return json.loads((folder / MANIFEST_PATH).read_text())


def write(folder: Path, document: dict) -> Bucket:
    (folder / ".dataspoc").mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST_PATH).write_text(json.dumps(document))
    return Bucket(str(folder))


def later(value: dict) -> dict:
    return {k: v for k, v in value.items() if k.startswith("x_")}


def known(value):
    if isinstance(value, dict):
        return {k: known(v) for k, v in value.items() if not k.startswith("x_")}
    if isinstance(value, list):
        return [known(v) for v in value]
    return value


def assert_valid(document: dict) -> None:
    parse("manifest", document, "the result")
    lake.assert_valid("manifest", known(document))


@settings(max_examples=60)
@given(document=manifests(), written=upserts(3))
def test_upserts_keep_what_they_do_not_own(document, written):
    """After any sequence of upserts: every other table is exactly as found; the fields of a later
    version are kept in the document, in the ml entry replaced, and in the files it moves to
    `replaced`; the manifest meets the contract."""
    with tempfile.TemporaryDirectory() as folder:
        bucket = write(Path(folder), document)
        for entry in written:
            catalog.upsert_table(bucket, dict(entry))
        result = stored(Path(folder))
    assert later(result) == later(document)
    ours = {e["location"] for e in written}
    before = {t["location"]: t for t in document["tables"]}
    after = {t["location"]: t for t in result["tables"]}
    assert set(after) == set(before) | ours
    for location, table in before.items():
        if location not in ours:
            assert after[location] == table
            continue
        assert later(after[location]) == later(table)
        listed = {f["path"] for p in after[location]["partitions"] for f in p["files"]}
        moved = {r["path"]: r for r in after[location].get("replaced", [])}
        for file in (f for p in table["partitions"] for f in p["files"] if f["path"] not in listed):
            assert later(moved[file["path"]]) == later(file)
    assert_valid(result)


@settings(max_examples=60)
@given(document=manifests(), written=upserts(1))
def test_writing_an_entry_twice_is_writing_it_once(document, written):
    [entry] = written
    with tempfile.TemporaryDirectory() as folder:
        bucket = write(Path(folder), document)
        catalog.upsert_table(bucket, dict(entry))
        once = stored(Path(folder))
        catalog.upsert_table(bucket, dict(entry))
        assert stored(Path(folder)) == once


@settings(max_examples=40)
@given(document=manifests(), written=upserts(1), broken=st.sampled_from(["row_count", "layer", "last_run_id"]))
def test_a_refused_entry_leaves_the_manifest_as_it_was(document, written, broken):
    [entry] = written
    entry[broken] = {"row_count": -1, "layer": "gold", "last_run_id": "yesterday"}[broken]
    with tempfile.TemporaryDirectory() as folder:
        bucket = write(Path(folder), document)
        before = (Path(folder) / MANIFEST_PATH).read_bytes()
        with pytest.raises(ContractError):
            catalog.upsert_table(bucket, entry)
        assert (Path(folder) / MANIFEST_PATH).read_bytes() == before

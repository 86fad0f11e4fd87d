"""Properties of Lens's manifest update (gold/publish.py): publishing a model changes its own gold
entry only, every field this version does not know is kept (the contract's rule for writers),
publishing the same plan again changes nothing, and what is written meets the contract.

Manifests are generated with tables of every layer and with fields of a later contract version
(`x_*`) at every level; those break this version's JSON schema (additionalProperties: false), so
the schema is checked on the document without them.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import jsonschema
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataspoc_lens.bucket import Bucket
from dataspoc_lens.contract import MANIFEST_PATH
from dataspoc_lens.contract.models import Table
from dataspoc_lens.errors import ModelFailed
from dataspoc_lens.gold import publish
from dataspoc_lens.gold.build import Staged, StagedFile
from dataspoc_lens.gold.plan import Plan
from dataspoc_lens.gold.project import Model, Settings
from lake import SCHEMAS

SCHEMA = jsonschema.Draft202012Validator(json.loads((SCHEMAS / "manifest.schema.json").read_text()))
MODELS = ["revenue", "churn"]
DAYS = ["2026-11-20", "2026-11-21", "2026-11-22"]
TYPES = {"int64": pa.int64(), "double": pa.float64(), "string": pa.string(), "bool": pa.bool_()}
WRITERS = {"raw": "dataspoc-pipe/0.1.0", "curated": "dataspoc-pipe/0.1.0", "ml": "dataspoc-ml/0.1.0"}

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


def folder_of(values: dict) -> str:
    return "".join(f"{k}={v}/" for k, v in values.items())


@st.composite
def entries(draw, layer: str, n: int) -> dict:
    """A table entry as its writer left it: a gold one by Lens (or, rarely, by another tool)."""
    namespace = {"ml": "predictions", "gold": "sales"}.get(layer) or draw(st.sampled_from(["shop", "crm"]))
    name = draw(st.sampled_from(MODELS if layer == "gold" else ["orders", "customers"]))
    location = f"{layer}/{namespace}/{name}"
    partitioned = layer in ("raw", "curated") or draw(st.booleans())
    partitions = []
    for day in draw(st.lists(st.sampled_from(DAYS), unique=True, min_size=1, max_size=2)) if partitioned else [None]:
        values = {"dt": day} if day else {}
        files = [
            {"path": f"{location}/{folder_of(values)}part-{run_id(n)}-{i}.parquet", "rows": rows, "bytes": rows * 8}
            | {"run_id": run_id(n)}
            | draw(future)
            for i, rows in enumerate(draw(st.lists(st.integers(0, 500), min_size=1, max_size=2)))
        ]
        partitions.append(
            {"values": values, "files": files, "rows": sum(f["rows"] for f in files)}
            | {"bytes": sum(f["bytes"] for f in files)}
            | draw(future)
        )
    columns = [{"name": "id", "type": "int64", "nullable": True}]
    entry = {
        "layer": layer,
        "namespace": namespace,
        "name": name,
        "location": location,
        "format": "parquet",
        "partition_by": ["dt"] if partitioned else [],
        "partitions": partitions,
        "columns": columns,
        "row_count": sum(p["rows"] for p in partitions),
        "file_count": sum(len(p["files"]) for p in partitions),
        "bytes": sum(p["bytes"] for p in partitions),
        "last_run_id": run_id(n),
        "last_run_at": stamp(n),
        "writer": WRITERS.get(layer) or draw(st.sampled_from([publish.WRITER] * 5 + ["dataspoc-ml/0.1.0"])),
        "schema_history": [
            {"version": 1, "run_id": run_id(n), "at": stamp(n), "change": "created", "columns": columns}
        ],
    }
    if draw(st.booleans()):
        entry["description"] = draw(st.text(max_size=8))
    return entry | draw(future)


@st.composite
def manifests(draw) -> dict:
    tables = {}
    for i, layer in enumerate(draw(st.lists(st.sampled_from(["raw", "curated", "gold", "ml"]), max_size=5))):
        entry = draw(entries(layer, i))
        tables.setdefault(entry["location"], entry)
    document = {"contract_version": f"1.{draw(st.integers(0, 9))}", "updated_at": stamp(0)}
    return document | {"tables": list(tables.values())} | draw(future)


@st.composite
def builds(draw, n: int):
    """What `transform run` hands publish(): a model, and the files it staged for run n."""
    name = draw(st.sampled_from(MODELS))
    partitioned = draw(st.booleans())
    columns = draw(st.lists(st.sampled_from(sorted(TYPES)), min_size=1, max_size=3))
    schema = pa.schema([(f"c{i}", TYPES[t]) for i, t in enumerate(columns)])
    days = draw(st.lists(st.sampled_from(DAYS), unique=True, min_size=1, max_size=2)) if partitioned else [None]
    files = [({"dt": day} if day else {}, draw(st.integers(0, 500)), i) for i, day in enumerate(days)]
    settings_ = Settings(
        partition_by=["dt"] if partitioned else [],
        materialized="incremental" if partitioned and draw(st.booleans()) else "table",
        description=draw(st.none() | st.text(max_size=8)),
    )
    model = Model(path=f"sales/{name}.sql", domain="sales", name=name, order=0, sql="SELECT 1", settings=settings_)
    rewritten = [values for values, _, _ in files] if settings_.materialized == "incremental" else None
    return model, schema, files, rewritten


def stage(folder: Path, model: Model, schema, files, rewritten, n: int) -> Staged:
    staged = Staged(schema=schema, partitions=rewritten)
    for values, rows, i in files:
        local = folder / f"staged-{n}-{i}.parquet"
        local.write_bytes(b"PAR1")
        relative = f"{folder_of(values)}part-{run_id(n)}-{i}.parquet"
        staged.files.append(StagedFile(local=local, relative=relative, values=values, rows=rows, bytes=rows * 8))
    return staged


def publish_on(bucket: Bucket, folder: Path, build, n: int) -> Plan:
    """Plan on the stored manifest, as `transform run` does, and publish."""
    model, schema, files, rewritten = build
    document = bucket.read_json(MANIFEST_PATH) or {"tables": []}
    previous = next((t for t in document["tables"] if t["location"] == model.location), None)
    plan = Plan(
        "partitions" if rewritten else "full",
        "generated",
        upstream={"raw/shop/orders": run_id(1)},
        previous=Table.model_validate(previous) if previous else None,
    )
    publish.publish(bucket, model, plan, stage(folder, model, schema, files, rewritten, n), run_id(n))
    return plan


def later(value: dict) -> dict:
    return {k: v for k, v in value.items() if k.startswith("x_")}


def known(value):
    if isinstance(value, dict):
        return {k: known(v) for k, v in value.items() if not k.startswith("x_")}
    if isinstance(value, list):
        return [known(v) for v in value]
    return value


def version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def lens_owns(document: dict, location: str) -> bool:
    found = next((t for t in document["tables"] if t["location"] == location), None)
    return found is None or found["writer"].startswith("dataspoc-lens/")


@settings(max_examples=60)
@given(document=manifests(), ns=st.lists(st.integers(100, 80_000), min_size=1, max_size=3, unique=True), data=st.data())
def test_publishing_keeps_what_it_does_not_own(document, ns, data):
    """After any sequence of published models: every other table is exactly as found; the fields
    of a later version are kept in the document, in the gold entry replaced, in each partition
    it keeps and in each file it moves to `replaced`; the version never goes down; the manifest
    meets the contract."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "bucket" / ".dataspoc").mkdir(parents=True)
        (folder / "bucket" / MANIFEST_PATH).write_text(json.dumps(document))
        bucket = Bucket(str(folder / "bucket"))
        ours: set[str] = set()
        described: dict[str, str | None] = {}  # the last published model's description, per table
        for n in sorted(ns):
            build = data.draw(builds(n))
            location = build[0].location
            if not lens_owns(bucket.read_json(MANIFEST_PATH), location):
                continue  # refused: see the test below
            publish_on(bucket, folder, build, n)
            ours.add(location)
            described[location] = build[0].settings.description or None
        result = bucket.read_json(MANIFEST_PATH)
    assert later(result) == later(document)
    assert version(result["contract_version"]) >= version(document["contract_version"])
    before = {t["location"]: t for t in document["tables"]}
    after = {t["location"]: t for t in result["tables"]}
    assert set(after) == set(before) | ours
    for location, table in before.items():
        if location not in ours:
            assert after[location] == table
            continue
        assert later(after[location]) == later(table)
        now = {json.dumps(p["values"], sort_keys=True): p for p in after[location]["partitions"]}
        moved = {r["path"]: r for r in after[location].get("replaced", [])}
        for partition in table["partitions"]:
            kept = now.get(json.dumps(partition["values"], sort_keys=True))
            if kept is not None and kept["files"] == partition["files"]:
                assert kept == partition
            else:
                assert all(later(moved[f["path"]]) == later(f) for f in partition["files"])
    for location, description in described.items():
        assert after[location].get("description") == description  # a removed description goes too
    for table in result["tables"]:
        Table.model_validate(table)  # this version reads every entry back
    assert list(SCHEMA.iter_errors(known(result))) == []


@settings(max_examples=40)
@given(document=manifests(), data=st.data())
def test_publishing_a_plan_again_changes_nothing(document, data):
    """A plan made on a manifest that has moved on since (the same run published twice, or
    another tool's table) is refused and the manifest stays as it was."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "bucket" / ".dataspoc").mkdir(parents=True)
        (folder / "bucket" / MANIFEST_PATH).write_text(json.dumps(document))
        bucket = Bucket(str(folder / "bucket"))
        build = data.draw(builds(500))
        if lens_owns(document, build[0].location):
            plan = publish_on(bucket, folder, build, 500)
            model, schema, files, rewritten = build
            once = (folder / "bucket" / MANIFEST_PATH).read_bytes()
            with pytest.raises(ModelFailed):
                publish.publish(bucket, model, plan, stage(folder, model, schema, files, rewritten, 500), run_id(500))
        else:
            once = (folder / "bucket" / MANIFEST_PATH).read_bytes()
            with pytest.raises(ModelFailed, match="Lens only replaces its own gold tables"):
                publish_on(bucket, folder, build, 500)
        assert (folder / "bucket" / MANIFEST_PATH).read_bytes() == once

"""Properties of Pipe's manifest update (catalog.apply_runs and set_quality, composed by publish.py
into the change catalog.update writes): only the tables a run publishes change, fields this
version does not know are kept as found, re-applying a run changes nothing, and what is written
always meets the contract.

Documents are generated with tables of every layer and with fields from a later contract
version (`x_*`) anywhere the schema has objects; such fields break this version's JSON schema
(additionalProperties: false), so the schema is checked on the document with them removed.
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import schema_validator
from dataspoc_pipe import catalog
from dataspoc_pipe.contract.models import Column, LoggedFile, LoggedTable, parse

MANIFEST = schema_validator("manifest")
NAMES = ["orders", "customers", "events"]
NAMESPACES = ["shop", "crm"]
TYPES = ["int64", "int32", "double", "string", "bool", "timestamp[us, tz=UTC]"]
DAYS = ["2026-11-20", "2026-11-21", "2026-11-22"]
WRITERS = {"raw": "dataspoc-pipe/0.1.0", "curated": "dataspoc-pipe/0.1.0", "gold": "dataspoc-lens/0.1.0"}
WRITERS["ml"] = "dataspoc-ml/0.1.0"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=4,
)
# fields a later minor version may add: kept by this writer, unknown to this version's schema
future = st.dictionaries(st.from_regex(r"x_[a-z]{1,4}", fullmatch=True), json_values, max_size=2)


def run_id(n: int) -> str:
    return f"202611{10 + n // 86400 % 18:02d}T{n // 3600 % 24:02d}{n // 60 % 60:02d}{n % 60:02d}.000Z-{n % 16**6:06x}"


def at(n: int) -> datetime:
    return datetime(2026, 11, 22, tzinfo=timezone.utc).replace(hour=n // 3600 % 24, minute=n // 60 % 60, second=n % 60)


def stamp(n: int) -> str:
    return at(n).isoformat().replace("+00:00", "Z")


@st.composite
def columns(draw) -> list[dict]:
    names = draw(st.lists(st.sampled_from(["id", "amount", "name", "at", "note"]), min_size=1, unique=True))
    return [{"name": n, "type": draw(st.sampled_from(TYPES)), "nullable": draw(st.booleans())} for n in names]


@st.composite
def tables(draw, layer: str, extras: bool) -> dict:
    """A table entry as some writer left it."""
    namespace = "predictions" if layer == "ml" else draw(st.sampled_from(NAMESPACES))
    name = draw(st.sampled_from(NAMES))
    location = f"{layer}/{namespace}/{name}"
    partitioned = layer in ("raw", "curated") or draw(st.booleans())
    made = draw(st.integers(0, 10**6))
    partitions = []
    for day in draw(st.lists(st.sampled_from(DAYS), unique=True, max_size=2)) if partitioned else [None]:
        values = {"dt": day} if day else {}
        folder = f"{location}/dt={day}" if day else location
        files = [
            {"path": f"{folder}/part-{made}-{i}.parquet", "rows": rows, "bytes": rows * 10, "run_id": run_id(made)}
            | (draw(future) if extras else {})
            for i, rows in enumerate(draw(st.lists(st.integers(0, 1000), min_size=1, max_size=2)))
        ]
        partitions.append(
            {
                "values": values,
                "files": files,
                "rows": sum(f["rows"] for f in files),
                "bytes": sum(f["bytes"] for f in files),
            }
            | (draw(future) if extras else {})
        )
    cols = draw(columns()) + ([{"name": "dt", "type": "date32[day]", "nullable": False}] if partitioned else [])
    entry = {
        "layer": layer,
        "namespace": namespace,
        "name": name,
        "location": location,
        "format": "parquet",
        "partition_by": ["dt"] if partitioned else [],
        "partitions": partitions,
        "columns": cols,
        "row_count": sum(p["rows"] for p in partitions),
        "file_count": sum(len(p["files"]) for p in partitions),
        "bytes": sum(p["bytes"] for p in partitions),
        "last_run_id": run_id(made),
        "last_run_at": stamp(made),
        "writer": WRITERS[layer],
        "schema_history": [
            {"version": 1, "run_id": run_id(made), "at": stamp(made), "change": "created", "columns": cols}
        ],
    }
    if draw(st.booleans()):
        entry["description"] = draw(st.text(max_size=10))
    if draw(st.booleans()):
        entry["primary_key"] = ["id"]
    if layer == "gold" and draw(st.booleans()):
        entry["transform"] = {
            "model": "sales/x.sql",
            "sql_hash": "sha256:" + "0" * 64,
            "materialized": "table",
            "upstream": [],
        }
    if extras:
        entry |= draw(future)
    return entry


@st.composite
def documents(draw, extras: bool = True) -> dict:
    layers = draw(st.lists(st.sampled_from(["raw", "curated", "gold", "ml"]), max_size=5))
    entries = {}
    for layer in layers:
        entry = draw(tables(layer, extras))
        entries.setdefault(entry["location"], entry)
    document = {
        "contract_version": f"1.{draw(st.integers(0, 9))}",
        "updated_at": "2026-11-01T00:00:00Z",
        "tables": sorted(entries.values(), key=lambda t: t["location"]),
    }
    return document | (draw(future) if extras else {})


@st.composite
def runs(draw, n: int) -> list[catalog.TableRun]:
    """One run's tables (raw or curated, each location once), as publish.py builds them."""
    made = []
    locations = set()
    for _ in range(draw(st.integers(1, 3))):
        layer = draw(st.sampled_from(["raw", "curated"]))
        namespace, name = draw(st.sampled_from(NAMESPACES)), draw(st.sampled_from(NAMES))
        location = f"{layer}/{namespace}/{name}"
        if location in locations:
            continue
        locations.add(location)
        files = [
            LoggedFile(
                path=f"{location}/dt={day}/part-{run_id(n)}-{i}.parquet",
                rows=rows,
                bytes=rows * 10,
                partition={"dt": day},
            )
            for i, (day, rows) in enumerate(
                draw(st.lists(st.tuples(st.sampled_from(DAYS), st.integers(0, 1000)), max_size=3))
            )
        ]
        mode = draw(st.sampled_from([None, "append", "overwrite", "overwrite_partitions", "merge"]))
        cols = [Column.model_validate(c) for c in draw(columns())] + [
            Column(name="dt", type="date32[day]", nullable=False)
        ]
        made.append(
            catalog.TableRun(
                layer=layer,
                namespace=namespace,
                name=name,
                partition_by=["dt"],
                columns=cols if files or draw(st.booleans()) else None,
                logged=LoggedTable(location=location, rows=sum(f.rows for f in files), files=files, mode=mode),
                primary_key=draw(st.none() | st.just(["id"])),
                derived_from=[f"raw/{namespace}/{name}"] if layer == "curated" else None,
            )
        )
    return made


def apply(document: dict, batch: list[catalog.TableRun], n: int) -> dict:
    return catalog.apply_runs(document, batch, run_id(n), at(n))


def known(value):
    """The document without the fields of a later version."""
    if isinstance(value, dict):
        return {k: known(v) for k, v in value.items() if not k.startswith("x_")}
    if isinstance(value, list):
        return [known(v) for v in value]
    return value


def later(value: dict) -> dict:
    """An object's fields of a later version."""
    return {k: v for k, v in value.items() if k.startswith("x_")}


def by_location(document: dict) -> dict[str, dict]:
    return {t["location"]: t for t in document["tables"]}


def assert_valid(document: dict) -> None:
    parse("manifest", document, "the result")  # this version reads it back, later fields and all
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in MANIFEST.iter_errors(known(document))]
    assert errors == []


@settings(max_examples=50)
@given(
    document=documents(),
    batches=st.lists(st.integers(1, 10**5), min_size=1, max_size=3, unique=True)
    .map(sorted)
    .flatmap(lambda ns: st.tuples(*(runs(n) for n in ns)).map(lambda rs: list(zip(ns, rs)))),
)
def test_a_sequence_of_runs_keeps_what_it_does_not_own(document, batches):
    """After any sequence of runs: every table no run published is exactly as found; every
    field of a later version is kept, in the document, in each table, in each partition and
    file still listed; the document meets the contract."""
    original = copy.deepcopy(document)
    result = document
    touched: set[str] = set()
    for n, batch in batches:
        result = apply(result, batch, n)
        touched |= {r.location for r in batch}
    assert document == original  # the input is never edited in place
    assert later(result) == later(original)
    before, after = by_location(original), by_location(result)
    for location, table in before.items():
        if location not in touched:
            assert after[location] == table
            continue
        kept = after[location]
        assert later(kept) == later(table)
        partitions = {tuple(sorted(p["values"].items())): p for p in kept["partitions"]}
        for partition in table["partitions"]:
            now = partitions.get(tuple(sorted(partition["values"].items())), {"files": []})
            listed = {f["path"]: f for f in now["files"]}
            if any(f["path"] not in listed for f in partition["files"]):
                # an overwrite replaced it: its files are kept under `replaced`, with every field
                moved = {r["path"]: r for r in kept["replaced"]}
                assert all(later(moved[f["path"]]) == later(f) for f in partition["files"])
                continue
            assert later(now) == later(partition)
            for file in partition["files"]:
                assert listed[file["path"]] == file
    assert_valid(result)


@settings(max_examples=50)
@given(document=documents(), batch=runs(7))
def test_applying_a_run_twice_is_applying_it_once(document, batch):
    """A crashed run is re-applied: the second time changes nothing."""
    once = apply(document, batch, 7)
    assert apply(once, batch, 7) == once


@settings(max_examples=50)
@given(document=documents(), batch=runs(7))
def test_later_fields_change_nothing_else(document, batch):
    """The result, without a later version's fields, is the result for the document without
    them: those fields ride along and never steer the update. That result meets the JSON schema."""
    with_them = apply(document, batch, 7)
    without = apply(known(document), batch, 7)
    assert _no_replaced_at(known(with_them)) == _no_replaced_at(without)
    assert_valid(without)


@settings(max_examples=50)
@given(document=documents(), batch=runs(7))
def test_each_table_counts_what_it_lists(document, batch):
    """Every table a run touches lists each of the run's files once, and its counts are the sums
    of what it lists."""
    after = by_location(apply(document, batch, 7))
    for run in batch:
        table = after.get(run.location)
        if table is None:
            assert not run.logged.files and run.location not in by_location(document)
            continue
        paths = [f["path"] for p in table["partitions"] for f in p["files"]]
        assert len(paths) == len(set(paths))
        assert {f.path for f in run.logged.files} <= set(paths)
        for p in table["partitions"]:
            assert p["rows"] == sum(f["rows"] for f in p["files"]) and p["bytes"] == sum(f["bytes"] for f in p["files"])
        assert table["row_count"] == sum(p["rows"] for p in table["partitions"])
        assert table["file_count"] == len(paths)
        assert table["bytes"] == sum(p["bytes"] for p in table["partitions"])


@settings(max_examples=40)
@given(
    document=documents(),
    scores=st.dictionaries(
        st.sampled_from(
            [f"{layer}/{ns}/{name}" for layer in ("raw", "curated") for ns in NAMESPACES for name in NAMES]
        ),
        st.floats(0, 100),
        max_size=3,
    ),
)
def test_setting_quality_changes_only_the_named_tables_quality(document, scores):
    qualities = {
        location: {"score": score, "run_id": run_id(7), "checked_at": stamp(7), "checks": 2, "failed": 0}
        for location, score in scores.items()
    }
    result = catalog.set_quality(document, qualities)
    assert catalog.set_quality(result, qualities) == result
    for location, table in by_location(document).items():
        changed = by_location(result)[location]
        if location in qualities:
            assert changed == {**table, "quality": qualities[location]}
        else:
            assert changed == table
    assert_valid(result)


def _no_replaced_at(document: dict) -> dict:
    """`replaced_at` is the clock's time when a run moves files out: equal runs may differ in it."""
    document = copy.deepcopy(document)
    for table in document["tables"]:
        for replaced in table.get("replaced", []):
            replaced.pop("replaced_at", None)
    return document

"""The manifest, as dataspoc-pipe reads and updates it.

Pipe only replaces the entries of tables it publishes; every other entry, and every field this
version does not know, is kept as found: the manifest is edited as a JSON document, and the
typed models only check it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from dataspoc_pipe import __version__
from dataspoc_pipe.bucket import Bucket
from dataspoc_pipe.contract import CONTRACT_VERSION, MANIFEST_LOCK, MANIFEST_PATH
from dataspoc_pipe.contract.models import (
    Column,
    Layer,
    LoggedTable,
    Manifest,
    SchemaChange,
    parse,
)
from dataspoc_pipe.errors import ContractError

WRITER = f"dataspoc-pipe/{__version__}"


def load(bucket: Bucket) -> Manifest:
    """The manifest, checked: no file of Pipe's tables (raw, curated), listed or replaced, lies
    outside its table's folder."""
    document = bucket.read_json(MANIFEST_PATH)
    if document is None:
        bucket.check_exists()
        return Manifest(contract_version=CONTRACT_VERSION, updated_at=datetime.now(timezone.utc), tables=[])
    manifest = parse("manifest", document, bucket.display(MANIFEST_PATH))
    for table in manifest.tables:
        if table.layer not in ("raw", "curated"):
            continue  # other tools' tables: Pipe never reads or deletes their files by the manifest
        for path in [f.path for f in table.files] + [r.path for r in table.replaced or []]:
            problem = path_problem(table.location, path)
            if problem:
                raise ContractError(
                    f"{bucket.display(MANIFEST_PATH)} lists file '{path}' for table {table.location}, which "
                    f"{problem}; refusing to read or delete it: fix the entry, or run `dataspoc-pipe manifest rebuild`"
                )
    return manifest


def path_problem(location: str, path: str) -> str | None:
    """Why a path a manifest lists for `location` may not be used, or None when it is safe: it
    must be bucket-relative, inside the table's folder, without `.` or `..` segments."""
    if path.startswith(("/", "\\")) or "://" in path or (len(path) > 1 and path[1] == ":"):
        return "is absolute"
    segments = path.replace("\\", "/").split("/")
    if any(s in ("..", ".", "") for s in segments):
        return "has '..', '.' or empty segments"
    if not path.startswith(location.rstrip("/") + "/"):
        return f"lies outside the table's folder {location}/"
    return None


def columns_of(schema, partition_columns: list[str]) -> list[Column]:
    """Manifest columns: the Parquet columns, then the Hive partition columns."""
    columns = [Column(name=f.name, type=str(f.type), nullable=f.nullable) for f in schema]
    columns += [
        Column(name=name, type="date32[day]" if name == "dt" else "string", nullable=False)
        for name in partition_columns
    ]
    return columns


def _union(old: list[Column], new: list[Column]) -> list[Column]:
    """The columns of a table whose files differ: every column of either, in first-seen order,
    with the wider type of the two (the newer when they are not ordered), partition columns last."""
    from dataspoc_pipe.evolution import widens

    newer = {c.name: c for c in new}
    merged: list[Column] = []
    for column in old:
        if column.name in newer:
            other = newer[column.name]
            wider = column if (widens(other.type, column.type) and not widens(column.type, other.type)) else other
            merged.append(wider.model_copy(update={"nullable": column.nullable or other.nullable}))
        else:
            merged.append(column.model_copy(update={"nullable": True}))
    seen = {c.name for c in merged}
    merged += [c.model_copy(update={"nullable": True}) for c in new if c.name not in seen]
    partition = [c for c in merged if c.name == "dt"]
    return [c for c in merged if c.name != "dt"] + partition


def _change(old: list[Column], new: list[Column]) -> SchemaChange | None:
    if old == new:
        return None
    old_names = {c.name: c for c in old}
    new_names = {c.name: c for c in new}
    if set(old_names) < set(new_names) and all(old_names[n] == new_names[n] for n in old_names):
        return "columns_added"
    if set(new_names) < set(old_names) and all(old_names[n] == new_names[n] for n in new_names):
        return "columns_removed"
    if set(old_names) == set(new_names):
        return "types_changed"
    return "changed"


@dataclass
class TableRun:
    """One table's share of a run, as the manifest records it."""

    layer: Layer
    namespace: str
    name: str
    partition_by: list[str]
    columns: list[Column] | None  # None: keep the table's current columns (a run with no rows)
    logged: LoggedTable
    primary_key: list[str] | None = None
    quality: dict[str, Any] | None = None
    derived_from: list[str] | None = None

    @property
    def location(self) -> str:
        return f"{self.layer}/{self.namespace}/{self.name}"


def apply_runs(document: dict[str, Any], runs: list[TableRun], run_id: str, at: datetime) -> dict[str, Any]:
    """The manifest document with each run's files appended to its table (created when new).

    It edits the document as found: fields this version does not know, in the manifest, its
    tables, partitions and files, are kept. Applying the same run twice changes nothing, so a
    crashed run can be re-applied.
    """
    document = copy.deepcopy(document)
    tables: list[dict[str, Any]] = document.setdefault("tables", [])
    for run in runs:
        index = next((i for i, t in enumerate(tables) if t.get("location") == run.location), None)
        previous = tables[index] if index is not None else None
        if previous is None and not run.logged.files:
            continue  # a table is created by its first rows, never empty
        entry = _apply(previous, run, run_id, at)
        if index is None:
            tables.append(entry)
        else:
            tables[index] = entry
    tables.sort(key=lambda t: str(t.get("location")))
    document["contract_version"] = _newer(str(document.get("contract_version", CONTRACT_VERSION)))
    document["updated_at"] = at.isoformat().replace("+00:00", "Z")
    return document


def _apply(previous: dict[str, Any] | None, run: TableRun, run_id: str, at: datetime) -> dict[str, Any]:
    entry = dict(previous or {})
    partitions = {
        _values_key(p.get("values", {})): dict(p, files=list(p.get("files", []))) for p in entry.get("partitions", [])
    }
    known_paths = {f.get("path") for p in partitions.values() for f in p["files"]}
    replaced = list(entry.get("replaced", []))
    applied = any(f.path in known_paths for f in run.logged.files)  # a re-applied run changes nothing
    if run.logged.mode in ("overwrite", "overwrite_partitions", "merge") and not applied:
        # when the files leave the manifest (now, also when a crashed run is finished later):
        # vacuum's retention counts from here
        stamp = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
        produced = {_values_key(f.partition) for f in run.logged.files}
        for key in sorted(partitions):
            if run.logged.mode == "overwrite_partitions" and key not in produced:
                continue  # a partition this run did not write keeps its files
            for f in partitions.pop(key)["files"]:
                replaced.append(replaced_entry(f, dict(key), run_id, stamp))
                known_paths.discard(f.get("path"))
    for f in run.logged.files:
        if f.path in known_paths:
            continue
        part = partitions.setdefault(
            _values_key(f.partition), {"values": dict(f.partition), "files": [], "rows": 0, "bytes": 0}
        )
        part["files"].append({"path": f.path, "rows": f.rows, "bytes": f.bytes, "run_id": run_id})
        part["rows"] += f.rows
        part["bytes"] += f.bytes
    ordered = [partitions[k] for k in sorted(partitions)]

    stamp = at.isoformat().replace("+00:00", "Z")
    history = list(entry.get("schema_history", []))
    old_columns = [Column.model_validate(c) for c in entry["columns"]] if "columns" in entry else None
    new_columns = run.columns if (run.columns is not None and run.logged.files) else old_columns
    if new_columns is None:
        new_columns = run.columns or []
    if (
        old_columns is not None
        and run.logged.mode in (None, "append", "overwrite_partitions")
        and new_columns is not old_columns
    ):
        new_columns = _union(old_columns, new_columns)
    dumped = [c.model_dump(mode="json") for c in new_columns]
    if old_columns is None:
        history.append({"version": 1, "run_id": run_id, "at": stamp, "change": "created", "columns": dumped})
    elif change := _change(old_columns, new_columns):
        version = int(history[-1].get("version", 0)) + 1 if history else 1
        history.append({"version": version, "run_id": run_id, "at": stamp, "change": change, "columns": dumped})

    entry.update(
        layer=run.layer,
        namespace=run.namespace,
        name=run.name,
        location=run.location,
        format="parquet",
        partition_by=run.partition_by,
        partitions=ordered,
        columns=dumped,
        row_count=sum(p["rows"] for p in ordered),
        file_count=sum(len(p["files"]) for p in ordered),
        bytes=sum(p["bytes"] for p in ordered),
        last_run_id=run_id,
        last_run_at=stamp,
        writer=WRITER,
        schema_history=history,
    )
    if replaced:
        entry["replaced"] = replaced
    if run.primary_key:
        entry["primary_key"] = run.primary_key
    if run.quality:
        entry["quality"] = run.quality
    if run.derived_from:
        entry["derived_from"] = run.derived_from
    return entry


def replaced_entry(listed: dict[str, Any], partition: dict[str, str], run_id: str, stamp: str) -> dict[str, Any]:
    """A file's entry in a table's `replaced` list, once `run_id` replaced it at `stamp`: every
    field the file had moves with it, those of a later contract version too."""
    return {**listed, "partition": partition, "replaced_by": run_id, "replaced_at": stamp}


def set_quality(document: dict[str, Any], qualities: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The document with each named table's `quality` replaced (checks that changed no rows)."""
    if not qualities:
        return document
    document = copy.deepcopy(document)
    for table in document.get("tables", []):
        if table.get("location") in qualities:
            table["quality"] = qualities[table["location"]]
    return document


def _values_key(values: dict[str, str]) -> tuple:
    return tuple(sorted(values.items()))


def _newer(found: str) -> str:
    """The manifest's version after this writer touched it: never lower than either side's."""

    def minor(version: str) -> int:
        return int(version.split(".")[1]) if version.count(".") == 1 and version.split(".")[1].isdigit() else 0

    return found if minor(found) >= minor(CONTRACT_VERSION) else CONTRACT_VERSION


def update(bucket: Bucket, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Manifest:
    """Read the manifest document, apply `change`, check and write it back, under the manifest lock.

    A document that would break the contract is never written: ContractError instead.
    """
    where = bucket.display(MANIFEST_PATH)
    with bucket.lock(MANIFEST_LOCK, owner=WRITER):
        document = read_document(bucket)
        changed = change(document)
        manifest = parse("manifest", changed, f"the manifest this run would write to {where}")
        bucket.write_json(MANIFEST_PATH, changed)
    return manifest


def read_document(bucket: Bucket) -> dict[str, Any]:
    """The manifest as stored (checked against the contract), or an empty one."""
    document = bucket.read_json(MANIFEST_PATH)
    if document is None:
        bucket.check_exists()
        return {"contract_version": CONTRACT_VERSION, "updated_at": _now(), "tables": []}
    parse("manifest", document, bucket.display(MANIFEST_PATH))
    return document


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")

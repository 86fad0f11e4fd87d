"""Publish a built model: its files, then its manifest entry, then its run log.

The manifest is read-modified-written under the manifest lock; only the model's own gold entry
changes and every other entry (and every field Lens does not know) stays as found. Files the new
version replaces move to the entry's `replaced` list, where readers that planned on them still
find them until `dataspoc-lens transform vacuum` deletes them after the retention.
"""

from __future__ import annotations

import os
import secrets
import signal
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError

from dataspoc_lens import __version__
from dataspoc_lens.bucket import Bucket
from dataspoc_lens.contract import MANIFEST_LOCK, MANIFEST_PATH
from dataspoc_lens.contract.models import Table
from dataspoc_lens.errors import ContractError, ModelFailed
from dataspoc_lens.gold.build import Staged
from dataspoc_lens.gold.plan import Plan
from dataspoc_lens.gold.project import Model

WRITER = f"dataspoc-lens/{__version__}"
CONTRACT = "1.3"  # the version whose fields Lens writes (transform, model run logs)
FAILPOINT_ENV = "DATASPOC_FAILPOINT"


def failpoint(name: str) -> None:
    """Crash trials: with DATASPOC_FAILPOINT=lens:<name> the process kills itself here (SIGKILL),
    as a power cut would, so tests can prove each step leaves every table readable."""
    if os.environ.get(FAILPOINT_ENV) == f"lens:{name}":
        os.kill(os.getpid(), signal.SIGKILL)


def now() -> datetime:
    return datetime.now(timezone.utc)


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_run_id(moment: datetime | None = None) -> str:
    moment = moment or now()
    return f"{moment:%Y%m%dT%H%M%S}.{moment.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def log_path(model: Model, run_id: str) -> str:
    return f".dataspoc/logs/lens/{model.key}/{run_id}.json"


@dataclass
class Published:
    rows: int
    files: int
    partitions: list[dict[str, str]] | None
    replaced: list[str] = field(default_factory=list)


def publish(bucket: Bucket, model: Model, plan: Plan, staged: Staged, run_id: str) -> Published:
    location = model.location
    for staged_file in staged.files:
        bucket.publish_file(staged_file.local, f"{location}/{staged_file.relative}")
    failpoint("after-files")
    with bucket.lock(MANIFEST_LOCK, owner=WRITER):
        document = bucket.read_json(MANIFEST_PATH) or {"contract_version": CONTRACT, "updated_at": "", "tables": []}
        tables: list[dict[str, Any]] = document.setdefault("tables", [])
        index = next((i for i, t in enumerate(tables) if t.get("location") == location), None)
        previous = tables[index] if index is not None else None
        planned_on = plan.previous.last_run_id if plan.previous else None
        if (previous or {}).get("last_run_id") != planned_on:
            raise ModelFailed(f"{model.qualified} was published by another run while this one built it; run again")
        if previous is not None and previous.get("writer", "").split("/")[0] != "dataspoc-lens":
            raise ModelFailed(
                f"{model.qualified} was written by {previous.get('writer')}; Lens only replaces its own gold tables"
            )
        entry, replaced = _entry(model, plan, staged, run_id, previous)
        try:
            Table.model_validate(entry)  # never publish an entry that breaks the contract
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "entry"
            raise ContractError(f"refusing to publish {location}: {where}: {first['msg']}") from None
        if index is None:
            tables.append(entry)
        else:
            tables[index] = entry
        document["contract_version"] = newer_version(str(document.get("contract_version", CONTRACT)), CONTRACT)
        document["updated_at"] = entry["last_run_at"]
        bucket.write_json(MANIFEST_PATH, document)
    failpoint("after-manifest")
    return Published(staged.rows, len(staged.files), staged.partitions, replaced)


def newer_version(found: str, ours: str) -> str:
    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split("."))

    try:
        return max(found, ours, key=key)
    except ValueError:
        return ours


def _entry(
    model: Model, plan: Plan, staged: Staged, run_id: str, previous: dict[str, Any] | None
) -> tuple[dict[str, Any], list[str]]:
    at = stamp(now())
    settings = model.settings
    rewritten = staged.partitions  # None: the whole table
    kept: list[dict[str, Any]] = []
    replaced = list((previous or {}).get("replaced", []))
    newly: list[str] = []
    for partition in (previous or {}).get("partitions", []):
        values = partition.get("values", {})
        if rewritten is not None and values not in rewritten:
            kept.append(partition)
            continue
        for listed in partition.get("files", []):
            replaced.append(
                {
                    **listed,  # every field, those of a later contract version too
                    "partition": values,
                    "replaced_by": run_id,
                    "replaced_at": at,
                }
            )
            newly.append(listed["path"])
    fresh: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for staged_file in staged.files:
        key = tuple(sorted(staged_file.values.items()))
        part = fresh.setdefault(key, {"values": staged_file.values, "files": [], "rows": 0, "bytes": 0})
        part["files"].append(
            {
                "path": f"{model.location}/{staged_file.relative}",
                "rows": staged_file.rows,
                "bytes": staged_file.bytes,
                "run_id": run_id,
            }
        )
        part["rows"] += staged_file.rows
        part["bytes"] += staged_file.bytes
    partitions = sorted(kept + list(fresh.values()), key=lambda p: tuple(sorted(p["values"].items())))
    columns = [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in staged.schema]
    entry = {k: v for k, v in (previous or {}).items()}
    entry.update(
        {
            "layer": "gold",
            "namespace": model.domain,
            "name": model.name,
            "location": model.location,
            "format": "parquet",
            "partition_by": settings.partition_by,
            "partitions": partitions,
            "columns": columns,
            "row_count": sum(p["rows"] for p in partitions),
            "file_count": sum(len(p["files"]) for p in partitions),
            "bytes": sum(p["bytes"] for p in partitions),
            "last_run_id": run_id,
            "last_run_at": at,
            "writer": WRITER,
            "derived_from": sorted(plan.upstream),
            "transform": {
                "model": model.path,
                "sql_hash": model.digest(),
                "materialized": settings.materialized,
                **({"unique_key": settings.unique_key} if settings.unique_key else {}),
                "upstream": [{"location": loc, "last_run_id": rid} for loc, rid in sorted(plan.upstream.items())],
            },
        }
    )
    if settings.description:
        entry["description"] = settings.description
    else:
        entry.pop("description", None)  # the model no longer describes it: neither does the catalog
    if replaced:
        entry["replaced"] = replaced
    entry["schema_history"] = _history(previous, columns, run_id, at)
    return entry, newly


def _history(previous: dict[str, Any] | None, columns: list[dict[str, Any]], run_id: str, at: str) -> list:
    history = list((previous or {}).get("schema_history", []))
    if history and history[-1].get("columns") == columns:
        return history
    change = "created" if not history else _change(history[-1].get("columns", []), columns)
    version = history[-1].get("version", 0) + 1 if history else 1
    return [*history, {"version": version, "run_id": run_id, "at": at, "change": change, "columns": columns}]


def _change(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> str:
    before = {c["name"]: (c["type"], c["nullable"]) for c in old}
    after = {c["name"]: (c["type"], c["nullable"]) for c in new}
    added, removed = after.keys() - before.keys(), before.keys() - after.keys()
    retyped = {n for n in after.keys() & before.keys() if after[n] != before[n]}
    if added and not removed and not retyped:
        return "columns_added"
    if removed and not added and not retyped:
        return "columns_removed"
    if retyped and not added and not removed:
        return "types_changed"
    return "changed"


def write_log(bucket: Bucket, model: Model, run_id: str, document: dict[str, Any]) -> None:
    bucket.write_json(log_path(model, run_id), {"contract_version": CONTRACT, "run_id": run_id, **document})

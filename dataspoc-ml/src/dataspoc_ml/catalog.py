"""The manifest: load and check it, resolve table references, publish ML's own table entries.

Readers take tables and their exact files from .dataspoc/manifest.json and never list the
bucket. ML writes only its own entries (layer "ml"), under the manifest lock, and keeps every
other entry exactly as it found it.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError

from dataspoc_ml import __version__
from dataspoc_ml.bucket import Bucket
from dataspoc_ml.contract import CONTRACT_VERSION, MANIFEST_LOCK, MANIFEST_PATH, SCHEMAS
from dataspoc_ml.contract.models import Manifest, Table, parse
from dataspoc_ml.errors import AmbiguousTable, ContractError, UnknownTable

WRITER = f"dataspoc-ml/{__version__}"
MAX_CANDIDATES = 20


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def new_run_id(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(timezone.utc)
    return f"{moment:%Y%m%dT%H%M%S}.{moment.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def read_manifest_document(bucket: Bucket) -> dict[str, Any] | None:
    """The manifest as raw JSON (None when the bucket has none yet), checked against the contract."""
    document = bucket.read_json(MANIFEST_PATH)
    if document is None:
        return None
    parse("manifest", document, bucket.display(MANIFEST_PATH))
    return document


def path_problem(location: str, path: str) -> str | None:
    """Why a manifest file path may not be read or deleted, or None when it is safe.

    A file path must be bucket-relative and lie under its table's location, with no `..`.
    """
    if not isinstance(path, str) or not path:
        return "is empty"
    if path.startswith(("/", "\\")) or "://" in path or (len(path) > 1 and path[1] == ":"):
        return "is absolute"
    segments = path.replace("\\", "/").split("/")
    if any(s in ("..", ".") for s in segments):
        return "has '..' or '.' segments"
    base = location.strip("/")
    if not base or not path.startswith(base + "/") or "" in segments:
        return f"lies outside its table's location {location}"
    return None


def is_safe_path(location: str, path: str) -> bool:
    return path_problem(location, path) is None


def load(bucket: Bucket) -> Manifest | None:
    return checked(bucket, bucket.read_json(MANIFEST_PATH))


def checked(bucket: Bucket, document: dict[str, Any] | None) -> Manifest | None:
    """The manifest of a document read from the bucket, every file path checked."""
    if document is None:
        return None
    manifest = parse("manifest", document, bucket.display(MANIFEST_PATH))
    for table in manifest.tables:
        for partition in table.partitions:
            for file in partition.files:
                problem = path_problem(table.location, file.path)
                if problem:
                    raise ContractError(
                        f"{bucket.display(MANIFEST_PATH)} lists file '{file.path}' for table {table.ref}, "
                        f"which {problem}; refusing to read it, fix the manifest entry"
                    )
    return manifest


def _candidates(tables: list[Table]) -> str:
    names = sorted(t.ref for t in tables)
    shown = ", ".join(names[:MAX_CANDIDATES])
    if len(names) > MAX_CANDIDATES:
        shown += f", ... ({len(names) - MAX_CANDIDATES} more)"
    return shown


def resolve(manifest: Manifest | None, ref: str, bucket: Bucket) -> Table:
    """Find a table by <layer>.<namespace>.<name>, <namespace>.<name> or a unique <name>."""
    if manifest is None or not manifest.tables:
        raise UnknownTable(
            f"no table '{ref}': the bucket {bucket.display()} has no tables in its manifest; "
            "publish tables with dataspoc-pipe or dataspoc-lens first"
        )
    parts = ref.split(".")
    if len(parts) == 3:
        matches = [t for t in manifest.tables if (t.layer, t.namespace, t.name) == tuple(parts)]
    elif len(parts) == 2:
        matches = [t for t in manifest.tables if (t.namespace, t.name) == tuple(parts)]
    elif len(parts) == 1 and parts[0]:
        matches = [t for t in manifest.tables if t.name == parts[0]]
    else:
        matches = []
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise AmbiguousTable(f"table '{ref}' is ambiguous; use one of: {_candidates(matches)}")
    raise UnknownTable(f"no table '{ref}' in {bucket.display(MANIFEST_PATH)}; tables: {_candidates(manifest.tables)}")


def upsert_table(
    bucket: Bucket, entry: dict[str, Any], guard: Callable[[dict[str, Any] | None], None] | None = None
) -> dict[str, Any] | None:
    """Replace (or add) one ML table entry under the manifest lock; return the previous entry.

    `entry` is built by the caller; its schema_history is merged here with the previous one, so
    the read-modify-write of the history happens under the lock too, as does `guard`, which may
    refuse the write on seeing the manifest.
    """
    if entry.get("layer") != "ml":
        raise ContractError(f"dataspoc-ml writes only ml tables, not {entry.get('location')}")
    with bucket.lock(MANIFEST_LOCK, owner=WRITER):
        document = read_manifest_document(bucket)
        if guard is not None:
            guard(document)
        if document is None:
            document = {"contract_version": CONTRACT_VERSION, "updated_at": "", "tables": []}
        elif minor(document.get("contract_version", "1.0")) < minor(CONTRACT_VERSION):
            document["contract_version"] = CONTRACT_VERSION  # the entry may use this version's fields
        tables: list[dict[str, Any]] = document["tables"]
        index = next((i for i, t in enumerate(tables) if t.get("location") == entry["location"]), None)
        previous = tables[index] if index is not None else None
        entry = dict(entry, schema_history=merge_history(previous, entry))
        if previous is not None:
            # fields of a later contract version stay as found: the contract's rule for writers
            entry = {**{k: v for k, v in previous.items() if k not in table_fields()}, **entry}
            entry = dict(entry, replaced=replaced_files(previous, entry))
            if not entry["replaced"]:
                del entry["replaced"]
        try:
            Table.model_validate(entry)  # never publish an entry that breaks the contract
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "entry"
            raise ContractError(f"refusing to publish {entry.get('location')}: {field}: {first['msg']}") from None
        if index is None:
            tables.append(entry)
        else:
            tables[index] = entry
        document["updated_at"] = entry["last_run_at"]
        bucket.write_json(MANIFEST_PATH, document)
    return previous


@functools.cache
def table_fields() -> frozenset[str]:
    """The fields of a table entry this version of the contract knows."""
    schema = json.loads((SCHEMAS / "manifest.schema.json").read_text())
    return frozenset(schema["$defs"]["table"]["properties"])


def minor(version: str) -> int:
    try:
        return int(str(version).split(".")[1])
    except (IndexError, ValueError):
        return 0


def replaced_files(previous: dict[str, Any], entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The files the new entry no longer lists, kept under `replaced` (with those replaced
    before) until `dataspoc-ml vacuum` deletes them past the retention: a Lens query that
    planned on them a moment ago still finds every one."""
    listed = {f["path"] for p in entry.get("partitions", []) for f in p.get("files", [])}
    kept = [r for r in previous.get("replaced", []) if r.get("path") not in listed]
    for partition in previous.get("partitions", []):
        for old in partition.get("files", []):
            if old.get("path") in listed or not is_safe_path(entry["location"], str(old.get("path", ""))):
                continue
            kept.append(
                {
                    **old,  # every field, those of a later contract version too
                    "partition": partition.get("values", {}),
                    "replaced_by": entry["last_run_id"],
                    "replaced_at": entry["last_run_at"],
                }
            )
    return kept


def merge_history(previous: dict[str, Any] | None, entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Keep the previous schema history; append a version when the columns changed."""
    columns = entry["columns"]
    history = list(previous.get("schema_history", [])) if previous else []
    if history and history[-1].get("columns") == columns:
        return history
    change = "created" if not history else schema_change(history[-1].get("columns", []), columns)
    history.append(
        {
            "version": (history[-1].get("version", 0) + 1) if history else 1,
            "run_id": entry["last_run_id"],
            "at": entry["last_run_at"],
            "change": change,
            "columns": columns,
        }
    )
    return history


def schema_change(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> str:
    old_types = {c["name"]: (c["type"], c["nullable"]) for c in old}
    new_types = {c["name"]: (c["type"], c["nullable"]) for c in new}
    added = new_types.keys() - old_types.keys()
    removed = old_types.keys() - new_types.keys()
    retyped = {n for n in new_types.keys() & old_types.keys() if new_types[n] != old_types[n]}
    if added and not removed and not retyped:
        return "columns_added"
    if removed and not added and not retyped:
        return "columns_removed"
    if retyped and not added and not removed:
        return "types_changed"
    return "changed"

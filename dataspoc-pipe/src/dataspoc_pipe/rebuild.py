"""`manifest rebuild`: the manifest recreated from the run logs and the files they name.

Every change Pipe makes to a table is in a run log written before the manifest update: an
extract, a transform, a compaction (`step: compact`). Replaying the successful ones in run-id
order (time order, across pipelines) through the same code that applied them the first time
gives back each raw and curated table: its files, rows, replaced files, columns and schema
history. A run cut short before its state was saved published nothing and is skipped, as the
pipeline's next run skips it. Tables Pipe does not write (gold, ml) are kept from the damaged
manifest when it can still be read; otherwise Lens's `transform run --full` and ML's `predict`
publish them again.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from dataspoc_pipe import catalog, runlog, state
from dataspoc_pipe.bucket import Bucket
from dataspoc_pipe.contract import CONTRACT_VERSION, MANIFEST_LOCK, MANIFEST_PATH
from dataspoc_pipe.contract.models import LoggedTable, RunLog
from dataspoc_pipe.errors import ContractError

PIPE_LAYERS = ("raw", "curated")


@dataclass
class Rebuilt:
    document: dict[str, Any]
    runs: int = 0
    kept: list[str] = field(default_factory=list)  # other tools' tables kept from the old manifest
    missing: list[str] = field(default_factory=list)  # listed files no longer in the bucket
    backup: str | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "tables": [
                {"location": t["location"], "rows": t["row_count"], "files": t["file_count"]}
                for t in self.document["tables"]
            ],
            "runs_replayed": self.runs,
            "kept": self.kept,
            "missing_files": self.missing,
            "backup": self.backup,
        }


def replayable(bucket: Bucket) -> list[RunLog]:
    """Every run that changed a table, oldest first."""
    logs: list[RunLog] = []
    for pipeline in runlog.pipelines(bucket):
        saved = state.load(bucket, pipeline)
        committed = saved.last_run_id if saved else None
        for run_id in runlog.run_ids(bucket, pipeline):
            log = runlog.load(bucket, pipeline, run_id)
            if log is None or log.status != "success" or log.step == "check" or not log.tables:
                continue
            if log.step != "compact" and (committed is None or run_id > committed):
                continue  # cut short between its log and its state: it published nothing
            logs.append(log)
    return sorted(logs, key=lambda log: log.run_id)


def rebuild(bucket: Bucket, dry_run: bool = False) -> Rebuilt:
    bucket.check_exists()
    logs = replayable(bucket)
    document: dict[str, Any] = {"contract_version": CONTRACT_VERSION, "updated_at": "", "tables": []}
    for log in logs:
        for logged in log.tables:
            if logged.mode == "compact":
                document = _compacted(document, logged, log)
            else:
                run = _table_run(bucket, logged)
                document = catalog.apply_runs(document, [run], log.run_id, log.finished_at)
    result = Rebuilt(document, runs=len(logs))
    result.missing = [
        f["path"]
        for t in document["tables"]
        for p in t["partitions"]
        for f in p["files"]
        if not bucket.exists(f["path"])
    ]
    old = _readable_old(bucket)
    if old is not None:
        others = [t for t in old.get("tables", []) if t.get("layer") not in PIPE_LAYERS]
        document["tables"] = sorted(document["tables"] + others, key=lambda t: str(t.get("location")))
        result.kept = [str(t.get("location")) for t in others]
    document["updated_at"] = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    if not dry_run:
        with bucket.lock(MANIFEST_LOCK, owner=catalog.WRITER):
            raw = bucket.read_bytes(MANIFEST_PATH)
            if raw is not None:
                result.backup = f".dataspoc/manifest.before-rebuild-{log_stamp()}.json"
                bucket.write_bytes(result.backup, raw)
            bucket.write_json(MANIFEST_PATH, document)
    return result


def log_stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")


def _readable_old(bucket: Bucket) -> dict[str, Any] | None:
    try:
        document = bucket.read_json(MANIFEST_PATH)
    except ContractError:
        return None  # not JSON: nothing of it can be kept
    return document if isinstance(document, dict) and isinstance(document.get("tables"), list) else None


def _table_run(bucket: Bucket, logged: LoggedTable) -> catalog.TableRun:
    layer, namespace, name = logged.location.split("/")
    partition_by = list(logged.files[0].partition) if logged.files else ["dt"]
    present = logged.model_copy(update={"files": [f for f in logged.files if bucket.exists(f.path)]})
    from dataspoc_pipe.publish import columns_from_files

    return catalog.TableRun(
        layer=layer,  # type: ignore[arg-type]
        namespace=namespace,
        name=name,
        partition_by=partition_by,
        # the columns of the files still there; files replaced and vacuumed since only set the
        # columns of versions that no longer matter
        columns=columns_from_files(bucket, present, partition_by) if present.files else None,
        logged=logged,
        primary_key=logged.primary_key,
        derived_from=[f"raw/{namespace}/{name}"] if layer == "curated" else None,
    )


def _compacted(document: dict[str, Any], logged: LoggedTable, log: RunLog) -> dict[str, Any]:
    """The compaction replayed: its files replace the ones it lists in `replaces`."""
    document = copy.deepcopy(document)
    entry = next((t for t in document["tables"] if t.get("location") == logged.location), None)
    if entry is None:
        return document
    gone = set(logged.replaces or [])
    stamp = log.finished_at.isoformat().replace("+00:00", "Z")
    replaced = list(entry.get("replaced", []))
    for part in entry["partitions"]:
        keep = [f for f in part["files"] if f.get("path") not in gone]
        replaced += [
            catalog.replaced_entry(f, dict(part["values"]), log.run_id, stamp)
            for f in part["files"]
            if f.get("path") in gone
        ]
        added = [
            {"path": f.path, "rows": f.rows, "bytes": f.bytes, "run_id": _named_run(f.path, log.run_id)}
            for f in logged.files
            if f.partition == part["values"]
        ]
        part["files"] = keep + added
        part["rows"] = sum(f["rows"] for f in part["files"])
        part["bytes"] = sum(f["bytes"] for f in part["files"])
    entry["replaced"] = replaced
    entry["file_count"] = sum(len(p["files"]) for p in entry["partitions"])
    entry["row_count"] = sum(p["rows"] for p in entry["partitions"])
    entry["bytes"] = sum(p["bytes"] for p in entry["partitions"])
    return document


def _named_run(path: str, fallback: str) -> str:
    """A compacted file is named after the newest run it holds: part-<run-id>-<NNNNN>.parquet."""
    name = path.rsplit("/", 1)[-1]
    run_id = name[len("part-") :].rsplit("-", 1)[0] if name.startswith("part-") else ""
    return run_id or fallback

"""`vacuum`: delete what no reader needs any more, once it is older than the retention.

Files a later run replaced (a table's `replaced` list) stay in the bucket for the retention, so
a reader that mounted the previous manifest a moment earlier still finds every file it planned
on. Past it, they leave the bucket first, then the manifest's list (under its lock): a crash in
between leaves entries whose files are gone, which the next vacuum removes (deleting a missing
file is not an error). Parquet files under raw/ and curated/ that no table lists (what killed
runs left) go too once older than the retention, except the files of each pipeline's last
committed run, which the next run may still add to the manifest. Only Pipe's own layers (raw,
curated) are touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from dataspoc_pipe import catalog
from dataspoc_pipe.bucket import Bucket
from dataspoc_pipe.contract import MANIFEST_LOCK, MANIFEST_PATH
from dataspoc_pipe.contract.models import parse
from dataspoc_pipe.errors import UsageError

OWN_LAYERS = ("raw", "curated")
PROBES = ".dataspoc/tmp"  # what `validate` writes and removes; leftovers of a killed one
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def retention(text: str, what: str = "--retain") -> timedelta:
    """`7d`, `12h`, `30m`, `90s` or a number of seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if match is None:
        raise UsageError(f"{what} {text!r}: give a duration such as 7d, 12h, 30m or 0")
    return timedelta(seconds=float(match.group(1)) * UNITS[match.group(2) or "s"])


@dataclass
class Report:
    dry_run: bool
    retain_seconds: float
    deleted: list[dict[str, Any]] = field(default_factory=list)  # {location, path, bytes}
    kept: int = 0  # replaced files still within the retention
    orphans: list[dict[str, Any]] = field(default_factory=list)  # {path, bytes}: files no table lists
    logs: list[str] = field(default_factory=list)  # run logs past keep_logs

    def document(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "retain_seconds": self.retain_seconds,
            "files": self.deleted,
            "orphans": self.orphans,
            "logs": self.logs,
            "bytes": sum(f["bytes"] for f in self.deleted) + sum(f["bytes"] for f in self.orphans),
            "kept": self.kept,
        }


def vacuum(
    bucket: Bucket,
    keep: timedelta,
    dry_run: bool = False,
    now: datetime | None = None,
    keep_logs: timedelta | None = None,
) -> Report:
    now = now or datetime.now(timezone.utc)
    report = Report(dry_run=dry_run, retain_seconds=keep.total_seconds())
    if keep_logs is not None:
        report.logs = old_logs(bucket, keep_logs, now)
        if not dry_run:
            for rel in report.logs:
                bucket.delete(rel)

    def expired(entry: dict[str, Any]) -> bool:
        at = datetime.fromisoformat(str(entry.get("replaced_at", "")).replace("Z", "+00:00"))
        return now - at >= keep

    document = catalog.read_document(bucket)
    _sort(document, expired, report)
    report.orphans = orphans(bucket, document, keep, now)
    if not dry_run:
        for item in report.orphans:
            bucket.delete(item["path"])
    if dry_run or not report.deleted:
        return report
    for item in report.deleted:  # no reader reads a replaced file; a crash here is mended next time
        bucket.delete(item["path"])
    gone = {item["path"] for item in report.deleted}
    with bucket.lock(MANIFEST_LOCK, owner=catalog.WRITER):
        document = catalog.read_document(bucket)
        if _forget(document, gone):
            parse("manifest", document, bucket.display(MANIFEST_PATH))
            bucket.write_json(MANIFEST_PATH, document)
    return report


def _forget(document: dict[str, Any], paths: set[str]) -> bool:
    """Remove deleted files from the tables' replaced lists; True when any was listed."""
    changed = False
    for table in document.get("tables", []):
        kept = [e for e in table.get("replaced", []) if e.get("path") not in paths]
        if len(kept) != len(table.get("replaced", [])):
            changed = True
            if kept:
                table["replaced"] = kept
            else:
                table.pop("replaced", None)
    return changed


def _sort(document: dict[str, Any], expired, report: Report) -> None:
    """Sort the replaced files of Pipe's tables into expired (the report's) and kept."""
    for table in document.get("tables", []):
        if table.get("layer") not in OWN_LAYERS:
            continue
        for entry in table.get("replaced", []):
            if catalog.path_problem(str(table.get("location")), str(entry.get("path", ""))):
                report.kept += 1  # never delete outside the table's own folder (catalog.load names it)
                continue
            if expired(entry):
                path = entry["path"]
                report.deleted.append({"location": table["location"], "path": path, "bytes": entry.get("bytes", 0)})
            else:
                report.kept += 1


def orphans(bucket: Bucket, document: dict[str, Any], keep: timedelta, now: datetime) -> list[dict[str, Any]]:
    """Parquet files under raw/ and curated/ that no manifest entry lists (left by killed runs)
    and older than the retention, sparing the files of each pipeline's last committed run (a
    commit the next run finishes), and `.dataspoc/tmp` leftovers."""
    listed = {
        f.get("path")
        for table in document.get("tables", [])
        for group in ([f for p in table.get("partitions", []) for f in p.get("files", [])], table.get("replaced", []))
        for f in group
    }
    listed |= _pending(bucket)
    found = []
    for top in (*OWN_LAYERS, PROBES):
        for rel, info in _files_under(bucket, top):
            if rel in listed or (top != PROBES and not rel.endswith(".parquet")):
                continue
            modified = _modified(info)
            if modified is not None and now - modified >= keep:
                found.append({"path": rel, "bytes": int(info.get("size") or 0)})
    return sorted(found, key=lambda f: f["path"])


def _pending(bucket: Bucket) -> set[str]:
    """The files of each pipeline's last committed run: maybe not in the manifest yet."""
    from dataspoc_pipe import runlog, state

    paths: set[str] = set()
    for folder in bucket.list(".dataspoc/state"):
        saved = state.load(bucket, folder.rsplit("/", 1)[-1])
        log = runlog.load(bucket, saved.pipeline, saved.last_run_id) if saved else None
        if log is not None:
            paths |= {f.path for t in log.tables for f in t.files}
    return paths


def _files_under(bucket: Bucket, rel: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        found = bucket.fs.find(bucket.full(rel), detail=True)
    except FileNotFoundError:
        return []
    prefix = bucket.root.strip("/") + "/"
    files = []
    for name, info in found.items():
        if info.get("type") == "directory":
            continue
        name = str(name).lstrip("/")
        files.append((name[len(prefix) :] if name.startswith(prefix) else name, info))
    return files


def _modified(info: dict[str, Any]) -> datetime | None:
    value = info.get("LastModified") or info.get("mtime") or info.get("updated") or info.get("last_modified")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None


def old_logs(bucket: Bucket, keep: timedelta, now: datetime) -> list[str]:
    """Run logs older than `keep`, but never a pipeline's newest log, the one its state names
    (recovery reads it), nor one that wrote a file the manifest still lists (`manifest rebuild`
    replays it)."""
    from dataspoc_pipe import catalog, runlog, state
    from dataspoc_pipe.contract import log_path

    listed = {f.path for t in catalog.load(bucket).tables for f in t.files}
    found = []
    for pipeline in runlog.pipelines(bucket):
        ids = runlog.run_ids(bucket, pipeline)
        saved = state.load(bucket, pipeline)
        spared = {ids[-1]} if ids else set()
        if saved is not None:
            spared.add(saved.last_run_id)
        for run_id in ids:
            started = datetime.strptime(run_id[:15], "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
            if run_id in spared or now - started < keep:
                continue
            log = runlog.load(bucket, pipeline, run_id)
            if log is not None and any(f.path in listed for t in log.tables for f in t.files):
                continue
            found.append(log_path(pipeline, run_id))
    return found

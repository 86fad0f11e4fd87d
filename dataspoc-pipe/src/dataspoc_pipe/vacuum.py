"""`vacuum`: delete what no reader needs any more, once it is older than the retention.

Files a later run replaced (a table's `replaced` list) stay in the bucket for the retention, so
a reader that mounted the previous manifest a moment earlier still finds every file it planned
on. Past it, they leave the bucket first, then the manifest's list (under its lock): a crash in
between leaves entries whose files are gone, which the next vacuum removes (deleting a missing
file is not an error). Only Pipe's own layers (raw, curated) are touched.
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
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def retention(text: str) -> timedelta:
    """`7d`, `12h`, `30m`, `90s` or a number of seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if match is None:
        raise UsageError(f"--retain {text!r}: give a duration such as 7d, 12h, 30m or 0")
    return timedelta(seconds=float(match.group(1)) * UNITS[match.group(2) or "s"])


@dataclass
class Report:
    dry_run: bool
    retain_seconds: float
    deleted: list[dict[str, Any]] = field(default_factory=list)  # {location, path, bytes}
    kept: int = 0  # replaced files still within the retention

    def document(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "retain_seconds": self.retain_seconds,
            "files": self.deleted,
            "bytes": sum(f["bytes"] for f in self.deleted),
            "kept": self.kept,
        }


def vacuum(bucket: Bucket, keep: timedelta, dry_run: bool = False, now: datetime | None = None) -> Report:
    now = now or datetime.now(timezone.utc)
    report = Report(dry_run=dry_run, retain_seconds=keep.total_seconds())

    def expired(entry: dict[str, Any]) -> bool:
        at = datetime.fromisoformat(str(entry.get("replaced_at", "")).replace("Z", "+00:00"))
        return now - at >= keep

    document = catalog.read_document(bucket)
    _sort(document, expired, report)
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
            if expired(entry):
                path = entry["path"]
                report.deleted.append({"location": table["location"], "path": path, "bytes": entry.get("bytes", 0)})
            else:
                report.kept += 1

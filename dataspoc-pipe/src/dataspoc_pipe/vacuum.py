"""`vacuum`: delete what no reader needs any more, once it is older than the retention.

Files a later run replaced (a table's `replaced` list) stay in the bucket for the retention, so
a reader that mounted the previous manifest a moment earlier still finds every file it planned
on. Past it, they leave the manifest first (under its lock), then the bucket: a crash in
between leaves files no manifest lists, which a later vacuum finds again. Only Pipe's own
layers (raw, curated) are touched.
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

    if dry_run:
        document = catalog.read_document(bucket)
        _sort(document, expired, report)
        return report
    with bucket.lock(MANIFEST_LOCK, owner=catalog.WRITER):
        document = catalog.read_document(bucket)
        if _sort(document, expired, report):
            parse("manifest", document, bucket.display(MANIFEST_PATH))
            bucket.write_json(MANIFEST_PATH, document)
    for item in report.deleted:  # the manifest no longer lists them
        bucket.delete(item["path"])
    return report


def _sort(document: dict[str, Any], expired, report: Report) -> bool:
    """Move expired replaced files from the document into the report; True when any moved."""
    changed = False
    for table in document.get("tables", []):
        if table.get("layer") not in OWN_LAYERS or not table.get("replaced"):
            continue
        keep = []
        for entry in table["replaced"]:
            if expired(entry):
                report.deleted.append(
                    {"location": table["location"], "path": entry["path"], "bytes": entry.get("bytes", 0)}
                )
            else:
                keep.append(entry)
        report.kept += len(keep)
        if len(keep) != len(table["replaced"]):
            changed = True
            if keep:
                table["replaced"] = keep
            else:
                del table["replaced"]
    return changed

"""`transform vacuum`: delete the files later runs of Lens's gold models replaced, once older
than the retention. They leave the manifest first, then the bucket, so a reader that mounted an
earlier manifest finds every file it planned on until the retention has passed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from dataspoc_lens.bucket import Bucket
from dataspoc_lens.contract import MANIFEST_LOCK, MANIFEST_PATH
from dataspoc_lens.errors import UsageError
from dataspoc_lens.gold.publish import WRITER

RETENTION = re.compile(r"^(\d+)\s*([smhdw]?)$")
UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def retention(text: str) -> timedelta:
    match = RETENTION.match(text.strip())
    if not match:
        raise UsageError(f"--retain {text}: write a number and a unit, s, m, h, d or w (7d, 12h, 0)")
    return timedelta(seconds=int(match.group(1)) * UNIT[match.group(2)])


@dataclass
class Vacuumed:
    deleted: list[str] = field(default_factory=list)
    kept: int = 0
    bytes: int = 0


def vacuum(bucket: Bucket, retain: timedelta, dry_run: bool = False) -> Vacuumed:
    cutoff = datetime.now(timezone.utc) - retain
    report = Vacuumed()
    with bucket.lock(MANIFEST_LOCK, owner=WRITER):
        document = bucket.read_json(MANIFEST_PATH)
        if document is None:
            return report
        for table in document.get("tables", []):
            if table.get("layer") != "gold" or not str(table.get("writer", "")).startswith("dataspoc-lens/"):
                continue
            stay = []
            for gone in table.get("replaced", []):
                path = str(gone.get("path", ""))
                if not path.startswith(f"{table.get('location')}/") or ".." in path.split("/"):
                    stay.append(gone)  # never delete outside the table's own folder
                    continue
                when = datetime.fromisoformat(str(gone["replaced_at"]).replace("Z", "+00:00"))
                if when <= cutoff:
                    report.deleted.append(gone["path"])
                    report.bytes += int(gone.get("bytes", 0))
                else:
                    stay.append(gone)
            report.kept += len(stay)
            if stay:
                table["replaced"] = stay
            else:
                table.pop("replaced", None)
        if report.deleted and not dry_run:
            bucket.write_json(MANIFEST_PATH, document)
    if not dry_run:
        for path in report.deleted:
            bucket.delete(path)
    return report

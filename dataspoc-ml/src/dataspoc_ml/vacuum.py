"""`dataspoc-ml vacuum`: delete the prediction files later runs replaced, once older than the
retention. They leave the manifest first, then the bucket, so a Lens query that planned on them
before finds every one until the retention has passed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from dataspoc_ml import catalog
from dataspoc_ml.bucket import Bucket
from dataspoc_ml.contract import MANIFEST_LOCK, MANIFEST_PATH
from dataspoc_ml.errors import UsageError

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


def vacuum(bucket: Bucket, retain: timedelta, dry_run: bool = False) -> Vacuumed:
    bucket.check_exists()
    cutoff = datetime.now(timezone.utc) - retain
    report = Vacuumed()
    with bucket.lock(MANIFEST_LOCK, owner=catalog.WRITER):
        document = catalog.read_manifest_document(bucket)
        if document is None:
            return report
        for table in document.get("tables", []):
            if table.get("layer") != "ml":
                continue
            stay = []
            for gone in table.get("replaced", []):
                path = str(gone.get("path", ""))
                when = datetime.fromisoformat(str(gone.get("replaced_at")).replace("Z", "+00:00"))
                if when <= cutoff and catalog.is_safe_path(str(table.get("location")), path):
                    report.deleted.append(path)
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

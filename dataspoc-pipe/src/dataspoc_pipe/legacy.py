"""Pipeline files written for dataspoc-pipe 0.2.0, read as they are.

0.2.0 kept one YAML file per pipeline (`~/.dataspoc-pipe/pipelines/<name>.yaml`) with
`source.tap`, `source.config`, `source.streams`, `destination.bucket`, `destination.path`,
`destination.compression`, `incremental.enabled` and `schedule.cron`. Pointing --project (or
DATASPOC_PIPE_PROJECT) at such a file, or at that folder, loads its pipelines as Singer
pipelines; docs/pipe.md gives the mapping. Such a project is read-only: `add` refuses it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from dataspoc_pipe.errors import ConfigError

KEYS = {"source", "destination", "incremental", "schedule"}


def is_legacy(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and "source" in document
        and "destination" in document
        and "pipelines" not in document
    )


def _namespace(tap: str) -> str:
    """0.2.0 wrote under <path>/<tap name without 'tap-'>/<stream>: the same namespace here."""
    stem = Path(tap.split()[0]).name.removeprefix("tap-")
    name = re.sub(r"[^a-z0-9_]", "_", stem.lower())
    return name if re.match(r"[a-z]", name) else f"t_{name}"


def bucket_of(document: dict[str, Any], where: str) -> str:
    bucket = str((document.get("destination") or {}).get("bucket") or "")
    if not bucket:
        raise ConfigError(f"{where}: destination.bucket is missing")
    return bucket.removeprefix("file://") if bucket.startswith("file:///") else bucket


def pipeline(document: dict[str, Any], where: str) -> dict[str, Any]:
    """The pipeline a 0.2.0 file describes, as this version's project file would hold it."""
    unknown = set(document) - KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]} for a dataspoc-pipe 0.2.0 pipeline file")
    source = document.get("source") or {}
    destination = document.get("destination") or {}
    tap = source.get("tap")
    if not tap:
        raise ConfigError(f"{where}: source.tap is missing")
    if str(destination.get("path", "raw")).strip("/") != "raw":
        raise ConfigError(f"{where}: destination.path is {destination.get('path')!r}; this version writes raw/ only")
    singer: dict[str, Any] = {"kind": "singer", "tap": str(tap)}
    settings = source.get("config")
    if settings not in (None, ""):
        singer["config"] = settings
    if source.get("streams"):
        singer["streams"] = list(source["streams"])
    singer["state"] = bool((document.get("incremental") or {}).get("enabled", False))
    entry: dict[str, Any] = {"source": singer, "target": {"namespace": _namespace(str(tap))}}
    cron = (document.get("schedule") or {}).get("cron")
    if cron:
        entry["schedule"] = str(cron)
    return entry


def project(path: Path, load_yaml) -> dict[str, Any]:
    """A project document from one 0.2.0 pipeline file or a folder of them."""
    files = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path]
    if not files:
        raise ConfigError(f"no pipeline files (*.yaml) in {path}")
    buckets: dict[str, str] = {}
    pipelines: dict[str, Any] = {}
    for file in files:
        document = load_yaml(file)
        if not is_legacy(document):
            raise ConfigError(f"{file}: not a dataspoc-pipe 0.2.0 pipeline file (no source and destination)")
        name = file.stem.lower().replace("-", "_")
        pipelines[name] = pipeline(document, str(file))
        buckets[str(file)] = bucket_of(document, str(file))
    if len(set(buckets.values())) > 1:
        raise ConfigError(
            f"the pipelines in {path} write to different buckets ({', '.join(sorted(set(buckets.values())))}); "
            "point --project at one file at a time, or pass --bucket"
        )
    return {"version": 1, "bucket": next(iter(buckets.values())), "pipelines": pipelines, "legacy": True}

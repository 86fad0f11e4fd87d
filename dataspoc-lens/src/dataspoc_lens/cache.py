"""A local copy of tables, used by queries transparently while it is fresh.

`~/.dataspoc-lens/cache/<bucket>/` mirrors the bucket's paths (partition folders kept) and holds
`index.json`: per cached table, the manifest entry it was copied from and when it was last
used. A cached table is fresh while the manifest still lists exactly the files it copied; a
query then reads the local copies, otherwise the bucket. `--offline` answers from the cache
alone (the manifest as last seen), naming the tables it does not have. The cache is bounded
(`cache_max_bytes` in the settings, 5 GiB by default): past it, the least recently used tables
go first. Copies are made in a temporary folder and moved into place, so a cut copy is never
used.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataspoc_lens import settings
from dataspoc_lens.bucket import Bucket
from dataspoc_lens.catalog import Catalog
from dataspoc_lens.errors import UsageError

if TYPE_CHECKING:
    from dataspoc_lens.contract.models import Table
    from dataspoc_lens.tables import Mountable

DEFAULT_MAX_BYTES = 5 << 30


def folder(bucket: Bucket) -> Path:
    """The cache folder of one bucket: a readable name and a hash of its URL."""
    url = bucket.display()
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", url)[-60:].strip("_")
    return settings.home() / "cache" / f"{readable}-{hashlib.sha256(url.encode()).hexdigest()[:10]}"


def _index_path(bucket: Bucket) -> Path:
    return folder(bucket) / "index.json"


def load_index(bucket: Bucket) -> dict[str, Any]:
    path = _index_path(bucket)
    if not path.exists():
        return {"tables": {}, "manifest": None}
    try:
        return json.loads(path.read_text())
    except ValueError:
        return {"tables": {}, "manifest": None}  # a damaged index: the copies are simply not used


def save_index(bucket: Bucket, index: dict[str, Any]) -> None:
    path = _index_path(bucket)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".index.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(index, indent=1))
    os.replace(tmp, path)


def fresh(entry: dict[str, Any], table: Mountable) -> bool:
    return sorted(entry.get("files", [])) == sorted(f.path for f in table.files)


def local_files(bucket: Bucket, catalog: Catalog[Mountable]) -> dict[str, str]:
    """bucket path -> local copy, for every file of the tables cached and still fresh."""
    index = load_index(bucket)
    base = folder(bucket) / "files"
    mapping: dict[str, str] = {}
    for table in catalog.tables:
        entry = index["tables"].get(table.qualified)
        if entry and fresh(entry, table):
            mapping.update({f.path: str(base / f.path) for f in table.files})
    return mapping


def touch(bucket: Bucket, names: set[str]) -> None:
    """Note that these cached tables were used now (least recently used go first)."""
    index = load_index(bucket)
    changed = False
    for name in names:
        if name in index["tables"]:
            index["tables"][name]["used_at"] = time.time()
            changed = True
    if changed:
        save_index(bucket, index)


def add(catalog: Catalog[Table], names: list[str], max_bytes: int | None = None) -> list[dict[str, Any]]:
    """Copy tables (or refresh them: only files the copy lacks are fetched). Returns what was done."""
    bucket = catalog.bucket
    index = load_index(bucket)
    base = folder(bucket) / "files"
    done = []
    for name in names:
        table = catalog.resolve(name)
        entry = index["tables"].get(table.qualified, {})
        have = set(entry.get("files", []))
        wanted = [f for f in table.files if f.path not in have or not (base / f.path).exists()]
        for f in wanted:
            target = base / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
            bucket.fs.get_file(bucket.full(f.path), str(tmp))
            os.replace(tmp, target)
        for gone in have - {f.path for f in table.files}:
            (base / gone).unlink(missing_ok=True)
        index["tables"][table.qualified] = {
            "location": table.location,
            "files": [f.path for f in table.files],
            "bytes": table.bytes,
            "last_run_id": table.last_run_id,
            "cached_at": time.time(),
            "used_at": time.time(),
            "entry": table.model_dump(mode="json"),
        }
        done.append({"table": table.qualified, "files": len(table.files), "fetched": len(wanted), "bytes": table.bytes})
    index["manifest"] = {"tables": [t.model_dump(mode="json") for t in catalog.tables]}
    save_index(bucket, index)
    evict(bucket, max_bytes if max_bytes is not None else limit())
    return done


def refresh(catalog: Catalog[Table], names: list[str]) -> list[str]:
    """After another tool rewrote tables: bring the cached copies among `names` up to date and
    note the manifest as now seen (what `--offline` knows). A bucket never cached is left alone."""
    index = load_index(catalog.bucket)
    if not index["tables"] and index["manifest"] is None:
        return []
    cached = [n for n in names if n in index["tables"]]
    if cached:
        add(catalog, cached)
    else:
        index["manifest"] = {"tables": [t.model_dump(mode="json") for t in catalog.tables]}
        save_index(catalog.bucket, index)
    return cached


def limit() -> int:
    value = settings.load_all().get("cache_max_bytes")
    return int(value) if isinstance(value, int) and value > 0 else DEFAULT_MAX_BYTES


def evict(bucket: Bucket, max_bytes: int) -> list[str]:
    """Drop least recently used tables until the cache fits."""
    index = load_index(bucket)
    tables = index["tables"]
    total = sum(e.get("bytes", 0) for e in tables.values())
    dropped: list[str] = []
    for name, _entry in sorted(tables.items(), key=lambda kv: kv[1].get("used_at", 0)):
        if total <= max_bytes or len(tables) - len(dropped) <= 1:
            break
        total -= tables[name].get("bytes", 0)
        dropped.append(name)
    for name in dropped:
        _remove_files(bucket, tables.pop(name))
    if dropped:
        save_index(bucket, index)
    return dropped


def _remove_files(bucket: Bucket, entry: dict[str, Any]) -> None:
    base = folder(bucket) / "files"
    for path in entry.get("files", []):
        (base / path).unlink(missing_ok=True)


def clear(bucket: Bucket, name: str | None = None) -> int:
    if name is None:
        count = len(load_index(bucket)["tables"])
        shutil.rmtree(folder(bucket), ignore_errors=True)
        return count
    index = load_index(bucket)
    matches = [k for k in index["tables"] if k == name or k.endswith("." + name)]
    if len(matches) != 1:
        raise UsageError(f"no cached table '{name}'; `dataspoc-lens cache list` shows them")
    _remove_files(bucket, index["tables"].pop(matches[0]))
    save_index(bucket, index)
    return 1


def listing(catalog: Catalog[Mountable] | None, bucket: Bucket) -> list[dict[str, Any]]:
    index = load_index(bucket)
    current = {t.qualified: t for t in catalog.tables} if catalog else {}
    rows = []
    for name, entry in sorted(index["tables"].items()):
        table = current.get(name)
        state = "unknown" if catalog is None else ("fresh" if table and fresh(entry, table) else "stale")
        rows.append(
            {
                "table": name,
                "state": state,
                "files": len(entry.get("files", [])),
                "bytes": entry.get("bytes", 0),
                "used_at": entry.get("used_at"),
            }
        )
    return rows


def offline_catalog(bucket: Bucket) -> tuple[Catalog[Table], list[str]]:
    """The cached tables as a catalog, reading nothing remote; and the tables the manifest last
    seen had that are not cached."""
    from dataspoc_lens.contract.models import Table

    index = load_index(bucket)
    tables = [Table.model_validate(e["entry"]) for e in index["tables"].values()]
    known = [
        t["layer"] + "." + t["namespace"] + "." + t["name"] for t in (index.get("manifest") or {}).get("tables", [])
    ]
    missing = sorted(set(known) - {t.qualified for t in tables})
    return Catalog(bucket, tables), missing

"""Tables of buckets whose manifest lists no files: found by the contract's layout.

Two kinds of bucket have no file list:
- buckets written by the public dataspoc-pipe 0.2.0, whose manifest keys tables by
  `source/table` with `stats` and `columns` only; their files are under
  `raw/<source>/<table>/dt=*/`;
- buckets with no manifest at all: each `<layer>/<namespace>/<table>/` folder is one table
  (`ml/predictions/<model>/` for predictions), never two folders merged into one table.

This is the one place Lens lists the bucket. The files found are the table: row counts come
from the Parquet footers (0.2.0's `stats.total_rows` can be wrong, since it overwrote same-day
files), columns from the files' schemas joined by name. Hidden files (`.x`, `_x`) are skipped.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from dataspoc_lens.bucket import Bucket
from dataspoc_lens.contract.models import Table

LAYERS = ("raw", "curated", "gold")
NOT_NAME = re.compile(r"[^a-z0-9_]")


def name_of(text: str) -> str:
    """A stream or folder name as a table name: lowercase, anything else `_` (as Pipe does)."""
    name = NOT_NAME.sub("_", text.lower())
    return name if name[:1].isalpha() else f"t_{name}"


def legacy_020(document: Any) -> bool:
    return isinstance(document, dict) and isinstance(document.get("tables"), dict)


def from_legacy(bucket: Bucket, document: dict) -> list[Table]:
    """The tables a 0.2.0 manifest names, with the files found under raw/<source>/<table>/."""
    tables = []
    for key, entry in sorted(document.get("tables", {}).items()):
        source = str(entry.get("source") or key.split("/")[0])
        stream = str(entry.get("table") or key.split("/")[-1])
        found = table_at(bucket, "raw", source, stream, "dataspoc-pipe/0.2.0")
        if found is not None:
            tables.append(found)
    return tables


def from_layout(bucket: Bucket) -> list[Table]:
    """One table per <layer>/<namespace>/<table>/ folder (and ml/predictions/<model>/)."""
    folders: list[tuple[str, str, str]] = []
    for layer in LAYERS:
        for namespace in _children(bucket, layer):
            folders += [(layer, namespace, table) for table in _children(bucket, f"{layer}/{namespace}")]
    folders += [("ml", "predictions", model) for model in _children(bucket, "ml/predictions")]
    found = [table_at(bucket, layer, ns, name, "dataspoc-lens/unknown") for layer, ns, name in folders]
    return [t for t in found if t is not None]


def _children(bucket: Bucket, rel: str) -> list[str]:
    names = []
    for path in bucket.list(rel):
        name = path.rstrip("/").rsplit("/", 1)[-1]
        if name and not name.startswith((".", "_")) and "=" not in name and not name.endswith(".parquet"):
            names.append(name)
    return names


def table_at(bucket: Bucket, layer: str, namespace: str, folder: str, writer: str) -> Table | None:
    """The table whose files are under <layer>/<namespace>/<folder>/, or None when it has none."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    prefix = f"{layer}/{namespace}/{folder}"
    root = bucket.full(prefix)
    try:  # one listing gives every file's size and time: no request per file for them
        found = {str(p): info for p, info in bucket.fs.find(root, detail=True).items() if str(p).endswith(".parquet")}
    except FileNotFoundError:
        return None
    start = bucket.full("").rstrip("/").lstrip("/") + "/"
    infos = {}
    for path, info in sorted(found.items()):
        rel = path.lstrip("/")[len(start) :] if path.lstrip("/").startswith(start) else path
        if not any(part.startswith((".", "_")) for part in rel.split("/")):
            infos[rel] = info
    rels = list(infos)
    if not rels:
        return None
    partitions: dict[tuple, dict[str, Any]] = {}
    schemas = []
    newest = 0.0
    keys: list[str] = []
    for rel in rels:
        with bucket.fs.open(bucket.full(rel), "rb") as handle:
            meta = pq.ParquetFile(handle).metadata
            schemas.append(meta.schema.to_arrow_schema())
        values = dict(part.split("=", 1) for part in rel[len(prefix) + 1 :].split("/")[:-1] if "=" in part)
        keys = keys or list(values)
        size = int(infos[rel].get("size") or 0)
        stamp = infos[rel].get("mtime") or infos[rel].get("LastModified") or infos[rel].get("last_modified")
        if stamp is not None:
            newest = max(newest, _mtime(stamp))
        part = partitions.setdefault(
            tuple(sorted(values.items())), {"values": values, "files": [], "rows": 0, "bytes": 0}
        )
        part["files"].append({"path": rel, "rows": meta.num_rows, "bytes": size})
        part["rows"] += meta.num_rows
        part["bytes"] += size
    schema = pa.unify_schemas(schemas, promote_options="permissive")
    columns = [{"name": f.name, "type": str(f.type), "nullable": True} for f in schema if f.name not in keys]
    columns += [{"name": k, "type": "date32[day]" if k == "dt" else "string", "nullable": True} for k in keys]
    at = datetime.fromtimestamp(newest or 0, tz=timezone.utc)
    run_id = at.strftime("%Y%m%dT%H%M%S.000Z-000000")
    ordered = [partitions[k] for k in sorted(partitions)]
    partition_by = keys if layer in ("gold", "ml") or "dt" in keys else ["dt", *keys]  # the contract's rule
    entry = {
        "layer": layer,
        "namespace": "predictions" if layer == "ml" else name_of(namespace),
        "name": name_of(folder),
        "location": prefix,
        "format": "parquet",
        "partition_by": partition_by,
        "partitions": ordered,
        "columns": columns,
        "row_count": sum(p["rows"] for p in ordered),
        "file_count": len(rels),
        "bytes": sum(p["bytes"] for p in ordered),
        "last_run_id": run_id,
        "last_run_at": at.isoformat(),
        "writer": writer,
        "schema_history": [
            {"version": 1, "run_id": run_id, "at": at.isoformat(), "change": "created", "columns": columns}
        ],
    }
    # a folder name may not be a valid table name: the view takes the cleaned one, the files
    # keep their folder
    checked = Table.model_validate({**entry, "location": f"{layer}/{entry['namespace']}/{entry['name']}"})
    return checked.model_copy(update={"location": prefix})


def _mtime(value: Any) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    return float(value)

"""`compact`: rewrite a partition's small files into one, atomically.

Frequent incremental runs leave many small files per partition; query engines read fewer,
larger files faster. The small files of a partition (under SMALL_BYTES each, two or more) are
read in arrival order and written into new files named after the newest run they hold (so
the order of file names stays the order of arrival), which replace them in ONE manifest update; the old files move to the table's `replaced` list and stay in the bucket until `vacuum`,
so a query planned on the previous manifest still finds them. The update checks that every
file it replaces is still listed: a run that replaced them meanwhile wins, and compact says so.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from dataspoc_pipe import catalog, runlog
from dataspoc_pipe.bucket import Bucket
from dataspoc_pipe.contract.models import Partition, Table
from dataspoc_pipe.errors import StorageError, UsageError
from dataspoc_pipe.writer import PartitionedWriter, WrittenFile

SMALL_BYTES = 32 << 20  # a file under this is worth merging with its neighbours
COMPACT_SEQUENCE = 50_000


@dataclass
class Plan:
    location: str
    run_id: str
    partitions: list[dict[str, Any]] = field(default_factory=list)  # {values, files, rows, bytes, written}

    def document(self, dry_run: bool) -> dict[str, Any]:
        return {"table": self.location, "run_id": self.run_id, "dry_run": dry_run, "partitions": self.partitions}


def parse_location(text: str) -> str:
    """`raw/shop/orders`, or `raw.shop.orders`."""
    parts = text.replace(".", "/").strip("/").split("/")
    if len(parts) != 3 or parts[0] not in ("raw", "curated"):
        raise UsageError(
            f"table '{text}': name it by layer, namespace and name, as raw/shop/orders or curated/sales/orders"
        )
    return "/".join(parts)


def candidates(table: Table, only: dict[str, str] | None, small_bytes: int) -> list[tuple[Partition, list]]:
    """Per partition, runs of two or more small files next to each other in arrival order: a
    large file between two small ones keeps them apart, so that the merged file, named after
    the newest run it holds, never moves rows past the large file's."""
    found = []
    for partition in table.partitions:
        if only is not None and partition.values != only:
            continue
        group: list = []
        for f in sorted(partition.files, key=lambda f: (f.run_id or "", f.path)):
            if f.bytes < small_bytes:
                group.append(f)
                continue
            if len(group) >= 2:
                found.append((partition, group))
            group = []
        if len(group) >= 2:
            found.append((partition, group))
    return found


def compact(
    bucket: Bucket,
    location: str,
    partition: dict[str, str] | None = None,
    dry_run: bool = False,
    small_bytes: int = SMALL_BYTES,
    pipeline: str | None = None,
) -> Plan:
    """`pipeline`: whose logs record the compaction (default: the pipeline whose runs wrote the table)."""
    manifest = catalog.load(bucket)
    table = manifest.find(location)
    if table is None:
        known = ", ".join(t.location for t in manifest.tables if t.layer in ("raw", "curated")) or "none yet"
        raise UsageError(f"no table {location} in the manifest; tables: {known}")
    if partition is not None and not any(p.values == partition for p in table.partitions):
        raise UsageError(f"{location} has no partition {_show(partition)}")
    plan = Plan(location, runlog.new_run_id())
    chosen = candidates(table, partition, small_bytes)
    for values, files in ((p.values, files) for p, files in chosen):
        plan.partitions.append(
            {
                "values": values,
                "files": [f.path for f in files],
                "rows": sum(f.rows for f in files),
                "bytes": sum(f.bytes for f in files),
            }
        )
    if dry_run or not chosen:
        return plan
    written: list[tuple[dict[str, str], list[str], list[WrittenFile], str]] = []
    taken = {f.path for f in table.files} | {r.path for r in table.replaced or []}
    with bucket.staging_dir(plan.run_id) as staging:
        for number, (part, files) in enumerate(chosen):
            folder = staging / f"p{number}"
            folder.mkdir()
            # named after the newest run it holds, so name order stays arrival order (dedupe
            # without order_by relies on it); the sequence keeps clear of that run's own files
            newest = max(f.run_id or plan.run_id for f in files)
            sequence = COMPACT_SEQUENCE
            while any(f"part-{newest}-{sequence:05d}" in path for path in taken):
                sequence += 1_000  # never the name of a file a reader may still open
            writer = PartitionedWriter(folder, location, newest, evolve=True, first_sequence=sequence)
            try:
                for batch in _rows_of(bucket, files):
                    writer.write(batch, part.values, location)
                out = writer.close()
            except BaseException:
                writer.abort()
                raise
            written.append((part.values, [f.path for f in files], out, newest))
        for _values, _paths, out, _newest in written:
            for w in out:
                bucket.publish_file(w.local_path, w.rel_path)
    # the log before the manifest, as every commit: a manifest rebuilt from the logs replays it
    _log(bucket, pipeline or runlog.owner(bucket, location), location, written, plan)
    catalog.update(bucket, lambda document: _replace(document, location, written, plan.run_id))
    for entry, (_values, _paths, out, _newest) in zip(plan.partitions, written):
        entry["written"] = [{"path": w.rel_path, "rows": w.rows, "bytes": w.bytes} for w in out]
    return plan


def _rows_of(bucket: Bucket, files: list):
    """The files' rows in order, their columns unified by name as readers unify them (a column
    that became text reads as text in the older files too)."""
    from dataspoc_pipe import engine

    con = engine.connect(bucket)
    try:
        paths = [engine.path_of(bucket, f.path) for f in files]
        listed = ", ".join(engine.literal(p) for p in paths)
        order = ", ".join(f"({engine.literal(p)}, {i})" for i, p in enumerate(paths))
        file = engine.ident(engine.FILE_COLUMN)
        sql = (
            f"SELECT r.* EXCLUDE ({file}, file_row_number) FROM read_parquet([{listed}], union_by_name=true, "
            f"hive_partitioning=false, filename={engine.literal(engine.FILE_COLUMN)}, file_row_number=true) AS r "
            f"JOIN (VALUES {order}) AS o(path, position) ON r.{file} = o.path ORDER BY o.position, r.file_row_number"
        )
        what = f"compact {files[0].path.rsplit('/', 2)[0]}"
        yield from engine.batches(con, sql, what)
    finally:
        con.close()


def _log(bucket: Bucket, pipeline: str | None, location: str, written: list, plan: Plan) -> None:
    from dataspoc_pipe.contract.models import LoggedFile, LoggedTable

    if pipeline is None:
        return  # no run of any pipeline wrote the table (it was written by hand): nothing to replay
    files = [
        LoggedFile(path=w.rel_path, rows=w.rows, bytes=w.bytes, partition=dict(values))
        for values, _paths, out, _newest in written
        for w in out
    ]
    replaces = [path for _values, paths, _out, _newest in written for path in paths]
    table = LoggedTable(
        location=location, rows=sum(f.rows for f in files), files=files, mode="compact", replaces=replaces
    )
    started = datetime.strptime(plan.run_id[:19], "%Y%m%dT%H%M%S.%f").replace(tzinfo=timezone.utc)
    elapsed = (datetime.now(timezone.utc) - started).total_seconds()
    runlog.save(
        bucket, runlog.build(plan.run_id, pipeline, "success", started, max(elapsed, 0.0), [table], step="compact")
    )


def _replace(document: dict[str, Any], location: str, written: list, run_id: str) -> dict[str, Any]:
    document = copy.deepcopy(document)
    entry = next((t for t in document.get("tables", []) if t.get("location") == location), None)
    if entry is None:
        raise StorageError(f"{location} left the manifest while compact ran; nothing was changed")
    stamp = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    replaced = list(entry.get("replaced", []))
    for values, paths, out, newest in written:
        part = next((p for p in entry.get("partitions", []) if p.get("values") == values), None)
        listed = {f.get("path") for f in part["files"]} if part else set()
        merged = set(paths)
        if not merged <= listed:
            raise StorageError(
                f"{location} partition {_show(values)} changed while compact ran (a run replaced its files); "
                "nothing was changed: run compact again"
            )
        assert part is not None
        kept = [f for f in part["files"] if f.get("path") not in merged]
        replaced += [
            catalog.replaced_entry(f, dict(values), run_id, stamp) for f in part["files"] if f.get("path") in merged
        ]
        part["files"] = kept + [{"path": w.rel_path, "rows": w.rows, "bytes": w.bytes, "run_id": newest} for w in out]
        part["rows"] = sum(f["rows"] for f in part["files"])
        part["bytes"] = sum(f["bytes"] for f in part["files"])
    entry["replaced"] = replaced
    entry["file_count"] = sum(len(p["files"]) for p in entry["partitions"])
    entry["bytes"] = sum(p["bytes"] for p in entry["partitions"])
    entry["writer"] = catalog.WRITER
    document["updated_at"] = stamp
    return document


def _show(values: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in values.items()) or "(none)"


def parse_partition(text: str | None) -> dict[str, str] | None:
    if text is None:
        return None
    values = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--partition '{text}': write it as dt=2026-11-20")
        values[key.strip()] = value.strip()
    return values

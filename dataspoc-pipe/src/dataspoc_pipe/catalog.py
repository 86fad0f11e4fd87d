"""The manifest, as dataspoc-pipe reads and updates it.

Pipe only replaces the entries of tables it publishes; every other entry is kept as found.
"""

from __future__ import annotations

from datetime import datetime, timezone

from dataspoc_pipe import __version__
from dataspoc_pipe.bucket import Bucket
from dataspoc_pipe.contract import CONTRACT_VERSION, MANIFEST_LOCK, MANIFEST_PATH
from dataspoc_pipe.contract.models import (
    Column,
    DataFile,
    Layer,
    LoggedTable,
    Manifest,
    Partition,
    SchemaChange,
    SchemaVersion,
    Table,
    dump,
    parse,
)

WRITER = f"dataspoc-pipe/{__version__}"


def load(bucket: Bucket) -> Manifest:
    document = bucket.read_json(MANIFEST_PATH)
    if document is None:
        bucket.check_exists()
        return Manifest(contract_version=CONTRACT_VERSION, updated_at=datetime.now(timezone.utc), tables=[])
    return parse("manifest", document, bucket.display(MANIFEST_PATH))


def columns_of(schema, partition_columns: list[str]) -> list[Column]:
    """Manifest columns: the Parquet columns, then the Hive partition columns."""
    columns = [Column(name=f.name, type=str(f.type), nullable=f.nullable) for f in schema]
    columns += [
        Column(name=name, type="date32[day]" if name == "dt" else "string", nullable=False)
        for name in partition_columns
    ]
    return columns


def _change(old: list[Column], new: list[Column]) -> SchemaChange | None:
    if old == new:
        return None
    old_names = {c.name: c for c in old}
    new_names = {c.name: c for c in new}
    if set(old_names) < set(new_names) and all(old_names[n] == new_names[n] for n in old_names):
        return "columns_added"
    if set(new_names) < set(old_names) and all(old_names[n] == new_names[n] for n in new_names):
        return "columns_removed"
    if set(old_names) == set(new_names):
        return "types_changed"
    return "changed"


def apply_run(
    manifest: Manifest,
    *,
    layer: Layer,
    namespace: str,
    name: str,
    partition_by: list[str],
    columns: list[Column],
    logged: LoggedTable,
    run_id: str,
    at: datetime,
) -> Manifest:
    """The manifest with one run's files appended to a table (created when new).

    Applying the same run twice changes nothing, so a crashed run can be re-applied.
    """
    location = f"{layer}/{namespace}/{name}"
    existing = manifest.find(location)
    partitions = {
        tuple(sorted(p.values.items())): p.model_copy(deep=True) for p in (existing.partitions if existing else [])
    }
    known_paths = {f.path for p in partitions.values() for f in p.files}
    for f in logged.files:
        if f.path in known_paths:
            continue
        key = tuple(sorted(f.partition.items()))
        part = partitions.setdefault(key, Partition(values=dict(f.partition), files=[], rows=0, bytes=0))
        part.files.append(DataFile(path=f.path, rows=f.rows, bytes=f.bytes, run_id=run_id))
        part.rows += f.rows
        part.bytes += f.bytes
    ordered = [partitions[k] for k in sorted(partitions)]

    history = list(existing.schema_history) if existing else []
    previous = existing.columns if existing else None
    if previous is None:
        history.append(SchemaVersion(version=1, run_id=run_id, at=at, change="created", columns=columns))
    elif logged.files and (change := _change(previous, columns)):
        history.append(
            SchemaVersion(version=history[-1].version + 1, run_id=run_id, at=at, change=change, columns=columns)
        )
    current_columns = columns if (previous is None or logged.files) else previous

    table = Table(
        layer=layer,
        namespace=namespace,
        name=name,
        location=location,
        partition_by=partition_by,
        partitions=ordered,
        columns=current_columns,
        row_count=sum(p.rows for p in ordered),
        file_count=sum(len(p.files) for p in ordered),
        bytes=sum(p.bytes for p in ordered),
        last_run_id=run_id,
        last_run_at=at,
        writer=WRITER,
        description=existing.description if existing else None,
        schema_history=history,
    )
    tables = [t for t in manifest.tables if t.location != location] + [table]
    tables.sort(key=lambda t: t.location)
    return Manifest(contract_version=CONTRACT_VERSION, updated_at=datetime.now(timezone.utc), tables=tables)


def update(bucket: Bucket, change) -> Manifest:
    """Read the manifest, apply `change`, write it back, all under the manifest lock."""
    with bucket.lock(MANIFEST_LOCK, owner=WRITER):
        manifest = change(load(bucket))
        bucket.write_json(MANIFEST_PATH, dump(manifest))
    return manifest

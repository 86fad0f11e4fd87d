"""`mode: merge`: one row per key, the latest winning, written as plain Parquet.

The table's current rows and the run's new rows are read together; for each key the row that
comes last wins: the greatest `order_by` value when one is set, else the latest arrival (the new
run's rows after the table's, and within a run, later rows after earlier ones). Rows with a NULL
in the key are kept as they are. The result replaces the table's files in one commit (the old
ones are listed under `replaced` until `vacuum`), each row keeping its `dt` partition.
The whole table is held in memory while merging: fine for dimension tables, not for facts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dataspoc_pipe.bucket import Bucket
from dataspoc_pipe.errors import SourceError, UsageError
from dataspoc_pipe.publish import StagedTable
from dataspoc_pipe.writer import PartitionedWriter

SEQ = "__dataspoc_seq"
PART = "__dataspoc_dt"


def merged(
    bucket: Bucket,
    table: StagedTable,
    current: Any,
    key: list[str] | None,
    order_by: str | None,
    run_id: str,
    staging: Path,
) -> StagedTable:
    """The staged table with its files replaced by the merged table's. `current` is the table's
    manifest entry (None for a new table)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    key = key or table.primary_key
    if not key:
        raise UsageError(f"{table.location}: merge needs a key: set merge.key, or read a source that has a primary key")
    parts = []
    for partition in current.partitions if current is not None else []:
        for f in partition.files:
            with bucket.fs.open(bucket.full(f.path), "rb") as handle:
                data = pq.read_table(handle)
            parts.append(data.append_column(PART, pa.array([partition.values.get("dt")] * data.num_rows, pa.string())))
    for f in table.files:
        data = pq.read_table(f.local_path)
        parts.append(data.append_column(PART, pa.array([f.partition.get("dt")] * data.num_rows, pa.string())))
    combined = pa.concat_tables(parts, promote_options="permissive")  # widened columns (int, then double)
    combined = combined.append_column(SEQ, pa.array(range(combined.num_rows), pa.int64()))
    missing = [c for c in [*key, *([order_by] if order_by else [])] if c not in combined.column_names]
    if missing:
        raise SourceError(f"{table.location}: no column '{missing[0]}' to merge on; check merge.key and merge.order_by")

    has_null = pc.is_null(combined.column(key[0]))
    for column in key[1:]:
        has_null = pc.or_(has_null, pc.is_null(combined.column(column)))
    keyless = combined.filter(has_null)
    keyed = combined.filter(pc.invert(has_null))
    order = [(c, "ascending") for c in key] + ([(order_by, "ascending")] if order_by else []) + [(SEQ, "ascending")]
    # NULLs first: a row whose order_by is NULL never beats one that has a value
    try:  # pyarrow 25 and later: null placement per key
        indices = pc.sort_indices(keyed, sort_keys=[(c, o, "at_start") for c, o in order])
    except (TypeError, ValueError, pa.ArrowInvalid):
        indices = pc.sort_indices(keyed, sort_keys=order, null_placement="at_start")
    ranked = keyed.take(indices)
    ranked = ranked.append_column("__dataspoc_pos", pa.array(range(ranked.num_rows), pa.int64()))
    winners = ranked.group_by(key, use_threads=False).aggregate([("__dataspoc_pos", "max")])
    kept = ranked.take(winners.column("__dataspoc_pos_max")).drop_columns(["__dataspoc_pos"])
    result = pa.concat_tables([kept, keyless], promote_options="permissive").sort_by([(SEQ, "ascending")])

    folder = staging / f"{table.name}-merged"
    folder.mkdir()
    writer = PartitionedWriter(folder, table.location, run_id, evolve=True)
    try:
        days = result.column(PART)
        rows = result.drop_columns([PART, SEQ])
        for day in sorted(pc.unique(days).to_pylist(), key=str):
            chosen = rows.filter(pc.equal(days, day)) if day is not None else rows.filter(pc.is_null(days))
            for batch in chosen.to_batches():
                writer.write(batch, {"dt": day or "__HIVE_DEFAULT_PARTITION__"}, table.location)
        files = writer.close()
    except BaseException:
        writer.abort()
        raise
    table.files = files
    table.schema = writer.schema if files else table.schema
    return table

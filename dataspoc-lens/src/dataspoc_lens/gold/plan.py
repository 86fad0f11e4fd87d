"""What a run of one model rebuilds: nothing, the whole table, some partitions, or a merge.

The model's manifest entry records the run id each upstream table was read at. An upstream
table changed since when its last run id differs; its changed partitions are those holding a
file of a later run, or a file a later run replaced. Run ids sort by time, and one writer
publishes a table at a time (Pipe's run lock, Lens's transform lock), so "later" is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from dataspoc_lens.catalog import Catalog
from dataspoc_lens.contract.models import Table
from dataspoc_lens.gold.dag import Node

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
Mode = Literal["full", "partitions", "merge", "none"]


@dataclass
class Plan:
    mode: Mode
    reason: str
    incremental: bool = False  # compile `{% if is_incremental() %}` blocks in
    partitions: list[dict[str, str]] = field(default_factory=list)  # mode partitions: the ones to rebuild
    upstream: dict[str, str] = field(default_factory=dict)  # location -> last run id read
    previous: Table | None = None  # the published version this plan builds on


def plan(node: Node, catalog: Catalog[Table], full: bool = False) -> Plan:
    model = node.model
    settings = model.settings
    inputs = [catalog.resolve(q) for q in node.upstream_tables + node.upstream_models]
    upstream = {t.location: t.last_run_id for t in inputs}
    previous = next((t for t in catalog.tables if t.location == model.location), None)

    def rebuild(reason: str) -> Plan:
        return Plan("full", reason, upstream=upstream, previous=previous)

    if full:
        return rebuild("--full")
    if previous is None or previous.transform is None:
        return rebuild("first run")
    recorded = {u.location: u.last_run_id for u in previous.transform.upstream}
    if previous.transform.sql_hash != model.digest() or previous.partition_by != settings.partition_by:
        return rebuild("the SQL or its settings changed")
    if set(recorded) != set(upstream):
        return rebuild("its inputs changed")
    changed = [t for t in inputs if recorded[t.location] != t.last_run_id]
    if not changed:
        return Plan("none", "nothing upstream changed", upstream=upstream, previous=previous)
    names = ", ".join(t.qualified for t in changed)
    if settings.materialized == "table":
        return rebuild(f"{names} changed")
    if settings.unique_key:
        return Plan("merge", f"{names} changed", True, upstream=upstream, previous=previous)
    partitions: set[tuple[str, ...]] = set()
    for table in changed:
        touched = changed_partitions(table, recorded[table.location], settings.partition_by)
        if touched is None:
            return rebuild(f"{table.qualified} changed and is not partitioned by {', '.join(settings.partition_by)}")
        partitions |= touched
    return Plan(
        "partitions",
        f"{names} changed",
        True,
        [dict(zip(settings.partition_by, values)) for values in sorted(partitions)],
        upstream,
        previous,
    )


def changed_partitions(table: Table, since: str, columns: list[str]) -> set[tuple[str, ...]] | None:
    """The values of `columns` of the partitions of `table` that changed after run `since`;
    None when that cannot be told (a column is not a partition column, a file has no run id)."""
    if not set(columns) <= set(table.partition_by):
        return None
    touched: set[tuple[str, ...]] = set()
    for partition in table.partitions:
        for data_file in partition.files:
            if data_file.run_id is None:
                return None
            if data_file.run_id > since:
                touched.add(tuple(partition.values.get(c, HIVE_NULL) for c in columns))
    for gone in table.replaced or []:
        if gone.replaced_by > since:
            if gone.partition is None:
                return None
            touched.add(tuple(gone.partition.get(c, HIVE_NULL) for c in columns))
    return touched

"""Run a model's SQL and write its rows as Parquet into a local staging folder.

Rows stream from DuckDB to Parquet in record batches, so a model larger than memory is written
without being held. Nothing here touches the bucket: publish.py does, once every file is whole.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from dataspoc_lens.errors import ModelFailed
from dataspoc_lens.execute import batch_reader
from dataspoc_lens.gold.plan import HIVE_NULL, Plan
from dataspoc_lens.gold.project import Model
from dataspoc_lens.views import ident, literal

if TYPE_CHECKING:
    import pyarrow

    from dataspoc_lens.session import Session

BATCH_ROWS = 122_880  # DuckDB's row group size: whole vectors per batch
NEW_ROWS = "__dataspoc_model_rows"


@dataclass
class StagedFile:
    local: Path
    relative: str  # inside the table's folder: dt=2026-11-22/part-<run>-00000.parquet
    values: dict[str, str]
    rows: int
    bytes: int


@dataclass
class Staged:
    schema: pyarrow.Schema
    files: list[StagedFile] = field(default_factory=list)
    partitions: list[dict[str, str]] | None = None  # the partitions rewritten; None: the whole table

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


def build(session: Session, model: Model, plan: Plan, run_id: str, staging: Path) -> Staged:
    """Run the model as `plan` says and stage its files."""
    import duckdb
    import pyarrow as pa

    from dataspoc_lens.translate import one_line

    settings = model.settings
    sql = model.compiled(plan.incremental)
    partitions: list[dict[str, str]] | None = None
    try:
        if plan.mode == "merge":
            sql, partitions = _merge(session, model, sql)
        elif plan.mode == "partitions":
            partitions = plan.partitions
            sql = f"SELECT * FROM ({sql}) AS model WHERE {_in_partitions(settings.partition_by, partitions)}"
        session.prepare(sql)
        reader = batch_reader(session.con.sql(sql))
    except duckdb.Error as exc:
        raise ModelFailed(f"model {model.key} ({model.path}) failed: {one_line(str(exc))}") from None
    for column in reader.schema:
        if pa.types.is_interval(column.type) or pa.types.is_duration(column.type):
            raise ModelFailed(
                f"model {model.key}: column {column.name} is an INTERVAL, which Parquet cannot store; "
                "cast it in the SQL (to a number of seconds or days, or to VARCHAR)"
            )
    missing = [c for c in settings.partition_by if c not in reader.schema.names]
    if missing:
        raise ModelFailed(f"model {model.key}: partition_by names {missing[0]}, which its SELECT does not return")
    staged = Staged(reader.schema, partitions=partitions)
    try:
        staged.files = _write(reader, settings.partition_by, run_id, staging)
    except (duckdb.Error, pa.ArrowException) as exc:
        raise ModelFailed(f"model {model.key} ({model.path}) failed: {one_line(str(exc))}") from None
    return staged


def _merge(session: Session, model: Model, sql: str) -> tuple[str, list[dict[str, str]] | None]:
    """The rows of the merged table to write, and the partitions they replace (None: all).

    The model's rows replace the published rows with the same unique key; the other published
    rows stay. A partitioned table rewrites only the partitions that gain or lose a row.
    """
    con = session.con
    keys = model.settings.unique_key or []
    session.prepare(sql)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {NEW_ROWS} AS {sql}")
    columns = {row[0] for row in con.execute(f"DESCRIBE {NEW_ROWS}").fetchall()}
    for key in keys:
        if key not in columns:
            raise ModelFailed(f"model {model.key}: unique_key names {key}, which its SELECT does not return")
    key_list = ", ".join(ident(k) for k in keys)
    twice = con.execute(
        f"SELECT {key_list}, count(*) FROM {NEW_ROWS} GROUP BY ALL HAVING count(*) > 1 LIMIT 1"
    ).fetchall()
    if twice:
        shown = ", ".join(f"{k}={v!r}" for k, v in zip(keys, twice[0]))
        raise ModelFailed(
            f"model {model.key}: unique_key ({', '.join(keys)}) is not unique in the model's rows "
            f"({shown} appears {twice[0][-1]} times); fix the SQL or the key"
        )
    this = model.qualified
    session.prepare(f"SELECT * FROM {this}")
    same = " AND ".join(f"n.{ident(k)} IS NOT DISTINCT FROM t.{ident(k)}" for k in keys)
    kept = f"SELECT * FROM {this} AS t WHERE NOT EXISTS (SELECT 1 FROM {NEW_ROWS} AS n WHERE {same})"
    merged = f"{kept} UNION ALL BY NAME SELECT * FROM {NEW_ROWS}"
    by = model.settings.partition_by
    if not by:
        return merged, None
    listed = ", ".join(_as_text(c) for c in by)
    touched = con.execute(
        f"SELECT DISTINCT {listed} FROM {NEW_ROWS} "
        f"UNION SELECT DISTINCT {', '.join('t.' + _as_text(c) for c in by)} FROM {this} AS t "
        f"WHERE EXISTS (SELECT 1 FROM {NEW_ROWS} AS n WHERE {same})"
    ).fetchall()
    partitions = [{c: HIVE_NULL if v is None else str(v) for c, v in zip(by, row)} for row in touched]
    partitions.sort(key=lambda p: tuple(p.values()))
    if not partitions:
        return f"SELECT * FROM ({merged}) WHERE false", []
    return f"SELECT * FROM ({merged}) AS merged WHERE {_in_partitions(by, partitions)}", partitions


def _as_text(column: str) -> str:
    return f"CAST({ident(column)} AS VARCHAR)"


def _in_partitions(columns: list[str], partitions: list[dict[str, str]]) -> str:
    if not partitions:
        return "false"
    alternatives = []
    for values in partitions:
        terms = [
            f"{ident(c)} IS NULL" if values[c] == HIVE_NULL else f"{_as_text(c)} = {literal(values[c])}"
            for c in columns
        ]
        alternatives.append("(" + " AND ".join(terms) + ")")
    return "(" + " OR ".join(alternatives) + ")"


def _write(reader: Any, partition_by: list[str], run_id: str, staging: Path) -> list[StagedFile]:
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    schema = reader.schema
    partitioning = (
        ds.partitioning(pa.schema([schema.field(c) for c in partition_by]), flavor="hive") if partition_by else None
    )
    options = ds.ParquetFileFormat().make_write_options(compression="zstd")
    ds.write_dataset(
        reader,
        staging,
        format="parquet",
        partitioning=partitioning,
        basename_template=f"part-{run_id}-{{i}}.parquet",
        file_options=options,
        existing_data_behavior="error",
        max_rows_per_file=10_000_000,
        max_rows_per_group=1_000_000,
        min_rows_per_group=BATCH_ROWS,
    )
    files = []
    for path in sorted(staging.rglob("*.parquet")):
        relative = path.relative_to(staging)
        number = int(path.stem.rsplit("-", 1)[1])
        final = path.with_name(f"part-{run_id}-{number:05d}.parquet")
        os.replace(path, final)
        values = {}
        for part in relative.parts[:-1]:
            column, _, value = part.partition("=")
            values[column] = unquote(value)
        rows = pq.ParquetFile(final).metadata.num_rows
        files.append(StagedFile(final, final.relative_to(staging).as_posix(), values, rows, final.stat().st_size))
    return files

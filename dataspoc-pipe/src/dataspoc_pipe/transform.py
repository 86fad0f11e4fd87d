"""A transform run: raw tables into their curated tables (curate.py), with the same commit.

Incremental by raw run: each curated table's bookmark names the newest raw run it has read,
with the count of raw files and rows up to that run. The next transform reads the raw files of
later runs only (the view `source_new`). When the raw files up to the bookmark no longer add
up (the raw table was overwritten, merged or compacted), or with --full, the raw table is read
whole and the result replaces the curated table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from dataspoc_pipe import catalog, engine, gate, publish, runlog, state
from dataspoc_pipe.bucket import Bucket
from dataspoc_pipe.config import Pipeline
from dataspoc_pipe.contract.models import DataFile, RunLog, StreamBookmark, Table, TransformMark, WriteMode
from dataspoc_pipe.curate import STEPS_INPUT, CuratedTable, queries
from dataspoc_pipe.errors import SourceError, UsageError
from dataspoc_pipe.partitions import Layout
from dataspoc_pipe.writer import PartitionedWriter

BATCH_ROWS = 256_000


@dataclass
class Work:
    """One curated table's share of a transform run."""

    raw: Table
    spec: CuratedTable
    location: str
    name: str
    full: bool
    new_files: list[DataFile]
    mark: TransformMark


def run(
    bucket: Bucket, name: str, pipeline: Pipeline, full: bool = False, now: datetime | None = None
) -> RunLog | None:
    """Transform every curated table of the pipeline that has new raw rows; the caller holds
    the pipeline's run lock. None when the pipeline declares no transform."""
    if pipeline.transform is None:
        return None
    started = now or datetime.now(timezone.utc)
    clock = publish.Clock(runlog.new_run_id(started), started)
    previous = state.load(bucket, name)
    publish.recover(bucket, name, previous)
    previous = state.load(bucket, name)
    try:
        manifest = catalog.load(bucket)
        marks = (previous.bookmarks.transforms or {}) if previous else {}
        work = plan(manifest, name, pipeline, marks, full)
        if not work:
            return runlog.build(clock.run_id, name, "no_new_data", clock.started, clock.elapsed(), [], step="transform")
        with bucket.staging_dir(clock.run_id) as staging:
            staged = [stage(bucket, w, clock, staging) for w in work]
            staged = _merge(bucket, manifest, staged, work, clock, staging)
            specs = {w.location: w.spec for w in work}
            verdict = gate.judge(
                bucket,
                manifest,
                staged,
                lambda t: specs[t.location].checks,
                pipeline.on_check_failure,
                clock.run_id,
                staging,
                name,
            )
            extras = publish.Extras(
                step="transform",
                checks=verdict.results or None,
                quarantined=verdict.quarantined,
                transforms={w.location: w.mark for w in work},
            )
            return publish.commit(bucket, name, clock, staged, previous, extras)
    except Exception as exc:
        publish.record_failure(bucket, name, clock, exc, step="transform")
        raise
    except KeyboardInterrupt:
        publish.record_failure(bucket, name, clock, KeyboardInterrupt("interrupted"), step="transform")
        raise


def plan(manifest, name: str, pipeline: Pipeline, marks: dict[str, TransformMark], full: bool) -> list[Work]:
    transform = pipeline.transform
    assert transform is not None
    work = []
    for target, spec in transform.tables.items():
        raw = manifest.find(f"raw/{pipeline.target.namespace}/{spec.from_ or target}")
        if raw is None or not raw.files:
            continue  # nothing extracted yet
        location = f"curated/{transform.domain}/{target}"
        files = raw.files
        newest = max(f.run_id or "" for f in files)
        mark = marks.get(location)
        rebuild = full or mark is None or not _adds_up(files, mark)
        since = "" if rebuild or mark is None else mark.through_run_id
        new = files if rebuild else [f for f in files if (f.run_id or "") > since]
        if not new:
            continue
        if not newest:
            raise SourceError(f"{raw.location}: its files carry no run ids; run `dataspoc-pipe run {name} --full` once")
        upto = [f for f in files if (f.run_id or "") <= newest]
        work.append(
            Work(
                raw=raw,
                spec=spec,
                location=location,
                name=target,
                full=rebuild,
                new_files=new,
                mark=TransformMark(through_run_id=newest, files=len(upto), rows=sum(f.rows for f in upto)),
            )
        )
    return work


def _adds_up(files: list[DataFile], mark: TransformMark) -> bool:
    """Whether the raw files up to the bookmark are still the ones the transform read."""
    upto = [f for f in files if (f.run_id or "") <= mark.through_run_id]
    return len(upto) == mark.files and sum(f.rows for f in upto) == mark.rows


def mode_of(w: Work) -> WriteMode:
    return "overwrite" if w.full else w.spec.write_mode()


def stage(bucket: Bucket, w: Work, clock: publish.Clock, staging: Path) -> publish.StagedTable:
    """Run the table's query in DuckDB and write its result to the staging folder."""
    con = engine.connect(bucket)
    paths = [engine.path_of(bucket, f.path) for f in w.raw.files]
    new_paths = [engine.path_of(bucket, f.path) for f in w.new_files]
    engine.files_view(con, "source", paths)
    engine.files_view(con, "source_new", paths, only=new_paths)  # every column, the new rows
    mode = mode_of(w)
    if mode == "overwrite":
        step_paths = paths
    elif mode == "overwrite_partitions":  # every file of the partitions with new files
        touched = {tuple(sorted(p.values.items())) for p in w.raw.partitions if any(f in w.new_files for f in p.files)}
        step_paths = [
            engine.path_of(bucket, f.path)
            for p in w.raw.partitions
            if tuple(sorted(p.values.items())) in touched
            for f in p.files
        ]
    else:
        step_paths = new_paths
    engine.files_view(con, STEPS_INPUT, paths, only=step_paths, with_file=w.spec.dedupe is not None)
    steps = queries(w.spec)
    sql = steps[-1][1]
    origin = f"{w.location} (from {w.raw.location})"
    import duckdb

    try:
        reader = con.sql(sql).to_arrow_reader(BATCH_ROWS)
    except duckdb.Error as exc:
        raise SourceError(f"{origin}: {_failing_step(con, steps, exc)}") from None
    column = w.spec.partition_by.column if w.spec.partition_by else None
    folder = staging / w.location.replace("/", "__")
    folder.mkdir()
    writer = PartitionedWriter(folder, w.location, clock.run_id, evolve=True)
    layout = None
    try:
        for batch in _batches(reader, origin):
            if layout is None:
                layout = _layout(batch.schema.names, column, mode_of(w), origin)
            if column is not None and "dt" in batch.schema.names:
                batch = batch.drop_columns(["dt"])  # the raw dt gives way to the declared column
            for partition, rows in layout.split(batch, clock.started, origin):
                if "dt" in rows.schema.names:
                    rows = rows.drop_columns(["dt"])
                writer.write(rows, partition, origin)
        files = writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        con.close()
    return publish.StagedTable(
        namespace=w.location.split("/")[1],
        name=w.name,
        files=files,
        schema=writer.schema if files else None,
        bookmark=StreamBookmark(),
        primary_key=w.raw.primary_key,
        mode=mode_of(w),
        layer="curated",
        derived_from=[w.raw.location],
    )


def _batches(reader, origin: str):
    import duckdb

    try:
        yield from reader
    except duckdb.Error as exc:
        raise engine.failure(exc, origin) from None


def _layout(names: list[str], column: str | None, mode: WriteMode, origin: str) -> Layout:
    """dt from the declared column, else the result's own dt column, else the run's date."""
    if column is not None:
        if column not in names:
            raise SourceError(f"{origin}: no column '{column}' to partition by; check partition_by.column")
        return Layout(mode, column)
    return Layout(mode, "dt" if "dt" in names else None)


def _failing_step(con, steps: list[tuple[str, str]], exc: Exception) -> str:
    """The first step that does not bind, with DuckDB's reason."""
    import duckdb

    for what, sql in steps:
        try:
            con.execute(f"DESCRIBE {sql}")
        except duckdb.Error as inner:
            return f"{what} fails: {str(inner).splitlines()[0]}"
    return str(exc).splitlines()[0]


def _merge(bucket, manifest, staged, work: list[Work], clock, staging) -> list:
    """Tables in merge mode become the merge of the curated table and the run's rows."""
    from dataspoc_pipe import evolution, merge

    out = []
    for table, w in zip(staged, work):
        current = manifest.find(table.location)
        if table.files and not w.full:
            evolution.check(current, table.schema, "widen")
        if table.files and table.mode == "merge":
            settings = w.spec.merge_settings()
            if not (settings.key or table.primary_key):
                raise UsageError(
                    f"{table.location}: mode merge needs a key: add a dedupe step, or set merge.key in its transform"
                )
            table = merge.merged(bucket, table, current, settings.key, settings.order_by, clock.run_id, staging)
        out.append(table)
    return out

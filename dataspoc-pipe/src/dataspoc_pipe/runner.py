"""One pipeline run: extract, write Parquet, then publish data, state, log and manifest.

The order is the contract's: data files under run-scoped names first; then the state
bookmark; then the run log; then the manifest entry that makes the files visible to readers.
A crash before the manifest leaves files no reader sees, and the next run re-applies the
committed run's log to the manifest, so committed data is never lost nor counted twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from dataspoc_pipe import __version__, catalog, runlog, state
from dataspoc_pipe.bucket import Bucket
from dataspoc_pipe.config import Pipeline
from dataspoc_pipe.contract import CONTRACT_VERSION
from dataspoc_pipe.contract.models import LoggedFile, LoggedTable, RunError, RunLog
from dataspoc_pipe.errors import PipeError, SourceError
from dataspoc_pipe.sources import csv_files
from dataspoc_pipe.writer import PartitionedWriter

PARTITION_BY = ["dt"]


@dataclass
class Progress:
    """Callbacks the CLI uses to draw progress; the core works without them."""

    on_file: Callable[[str], None] = lambda name: None
    on_rows: Callable[[int], None] = lambda rows: None


def run(
    bucket: Bucket,
    name: str,
    pipeline: Pipeline,
    project_dir: Path,
    progress: Progress | None = None,
    now: datetime | None = None,
    reread_changed: bool = False,
) -> RunLog:
    progress = progress or Progress()
    started = now or datetime.now(timezone.utc)
    clock = time.monotonic()
    run_id = runlog.new_run_id(started)
    bucket.check_reachable()

    previous = state.load(bucket, name)
    recover(bucket, name, pipeline, previous)

    try:
        files = csv_files.discover(pipeline.source, project_dir)
        seen = (previous.bookmarks.files or {}) if previous else {}
        work = csv_files.plan(files, seen, reread_changed)
        if not work:
            log = _log(run_id, name, "no_new_data", started, clock, [], None)
            runlog.save(bucket, log)
            return log

        target = pipeline.target
        partition = {"dt": started.strftime("%Y-%m-%d")}
        with bucket.staging_dir(run_id) as staging:
            writer = PartitionedWriter(staging, target.location, run_id)
            try:
                for item in work:
                    progress.on_file(item.file.path.name)
                    for batch in csv_files.read(pipeline.source, item):
                        if batch.num_rows and "dt" in batch.schema.names:
                            raise SourceError(
                                f"{item.file.path}: column 'dt' is reserved for the date partition; rename it in the source"
                            )
                        writer.write(batch, partition, str(item.file.path))
                        progress.on_rows(batch.num_rows)
                written = writer.close()
            except BaseException:
                writer.abort()
                raise
            for f in written:  # 1. data
                bucket.publish_file(f.local_path, f.rel_path)

        logged = LoggedTable(
            location=target.location,
            rows=sum(f.rows for f in written),
            files=[LoggedFile(path=f.rel_path, rows=f.rows, bytes=f.bytes, partition=f.partition) for f in written],
        )
        bookmarks = {item.file.key: csv_files.bookmark(item.file, run_id) for item in work}
        state.save(bucket, state.with_files(previous, name, run_id, bookmarks))  # 2. state
        log = _log(run_id, name, "success", started, clock, [logged], None)
        runlog.save(bucket, log)  # 3. run log
        columns = catalog.columns_of(writer.schema, PARTITION_BY) if writer.schema is not None else None
        _publish(bucket, pipeline, logged, columns, run_id, log.finished_at)  # 4. manifest
        return log
    except PipeError as exc:
        _record_failure(bucket, run_id, name, started, clock, exc)
        raise
    except KeyboardInterrupt:
        _record_failure(bucket, run_id, name, started, clock, KeyboardInterrupt("interrupted"))
        raise


def _publish(bucket: Bucket, pipeline: Pipeline, logged: LoggedTable, columns, run_id: str, at: datetime) -> None:
    target = pipeline.target

    def change(manifest):
        existing = manifest.find(target.location)
        table_columns = columns or (existing.columns if existing else [])
        return catalog.apply_run(
            manifest,
            layer="raw",
            namespace=target.source,
            name=target.table,
            partition_by=PARTITION_BY,
            columns=table_columns,
            logged=logged,
            run_id=run_id,
            at=at,
        )

    catalog.update(bucket, change)


def recover(bucket: Bucket, name: str, pipeline: Pipeline, previous) -> bool:
    """Re-apply the last committed run to the manifest if a crash kept it from getting there."""
    if previous is None:
        return False
    log = runlog.load(bucket, name, previous.last_run_id)
    if log is None or log.status != "success":
        return False
    manifest = catalog.load(bucket)
    repaired = False
    for logged in log.tables:
        table = manifest.find(logged.location)
        listed = {f.path for p in table.partitions for f in p.files} if table else set()
        if table is not None and all(f.path in listed for f in logged.files):
            continue
        columns = _columns_from_files(bucket, logged)
        _publish(bucket, pipeline, logged, columns, log.run_id, log.finished_at)
        repaired = True
    return repaired


def _columns_from_files(bucket: Bucket, logged: LoggedTable):
    if not logged.files:
        return None
    import pyarrow.parquet as pq

    with bucket.fs.open(bucket.full(logged.files[0].path), "rb") as handle:
        schema = pq.read_schema(handle)
    return catalog.columns_of(schema, PARTITION_BY)


def _log(run_id, name, status, started, clock, tables, error) -> RunLog:
    return RunLog(
        contract_version=CONTRACT_VERSION,
        run_id=run_id,
        pipeline=name,
        tool=f"dataspoc-pipe/{__version__}",
        status=status,
        started_at=started,
        finished_at=datetime.now(timezone.utc),
        duration_seconds=round(time.monotonic() - clock, 3),
        rows_written=sum(t.rows for t in tables),
        files_written=sum(len(t.files) for t in tables),
        bytes_written=sum(f.bytes for t in tables for f in t.files),
        tables=tables,
        error=error,
    )


def _record_failure(bucket, run_id, name, started, clock, exc: BaseException) -> None:
    """Best effort: a failed run leaves a log, never a changed state or manifest."""
    message = str(exc) or type(exc).__name__
    try:
        runlog.save(
            bucket, _log(run_id, name, "failed", started, clock, [], RunError(kind=type(exc).__name__, message=message))
        )
    except Exception:  # noqa: BLE001 - the original error is what the user needs to see
        pass

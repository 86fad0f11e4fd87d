"""The commit of a run, and the recovery of a commit a crash cut short.

The order is the contract's: every data file of every table under run-scoped names first; then
the state (one bookmark per stream); then the run log; then ONE manifest update that makes all
the run's files visible to readers. A crash before the manifest leaves files no reader sees, and
the next run re-applies the committed run's log to the manifest (`recover`), so committed data
is never lost nor counted twice.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dataspoc_pipe import catalog, diagnostics, runlog, state
from dataspoc_pipe.bucket import Bucket
from dataspoc_pipe.contract.models import (
    CheckResult,
    LastCheck,
    Layer,
    LoggedFile,
    LoggedTable,
    QuarantinedFile,
    RunError,
    RunLog,
    State,
    Step,
    StreamBookmark,
    TransformMark,
    WriteMode,
)
from dataspoc_pipe.errors import PipeError
from dataspoc_pipe.writer import WrittenFile

PARTITION_BY = ["dt"]


FAILPOINT_ENV = "DATASPOC_FAILPOINT"


def failpoint(name: str, step: str | None = None) -> None:
    """Crash trials: with DATASPOC_FAILPOINT=<name> (any step) or <step>:<name> (transform:after-data)
    the process kills itself (SIGKILL) here, as a power cut would, so tests can prove every step
    of the commit leaves a readable bucket."""
    if os.environ.get(FAILPOINT_ENV) in (name, f"{step or 'extract'}:{name}"):
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class StagedTable:
    """One stream's output, written to the staging folder and not yet published."""

    namespace: str
    name: str
    files: list[WrittenFile]
    schema: Any  # pyarrow.Schema of the files, None when the stream had no rows
    bookmark: StreamBookmark
    primary_key: list[str] | None = None
    mode: WriteMode = "append"
    layer: Layer = "raw"
    quality: dict | None = None  # the manifest's `quality`, when the table has checks (gate.py)
    stream: str | None = None  # the stream, when its table is not named after it (a new_table version)
    derived_from: list[str] | None = None  # a curated table's raw table

    @property
    def location(self) -> str:
        return f"{self.layer}/{self.namespace}/{self.name}"

    def logged(self) -> LoggedTable:
        return LoggedTable(
            location=self.location,
            rows=sum(f.rows for f in self.files),
            files=[LoggedFile(path=f.rel_path, rows=f.rows, bytes=f.bytes, partition=f.partition) for f in self.files],
            mode=None if self.mode == "append" else self.mode,
            primary_key=self.primary_key,
        )


@dataclass
class Clock:
    run_id: str
    started: datetime
    monotonic: float = field(default_factory=time.monotonic)
    committed: bool = False  # the state names this run: its log must stay a success

    def elapsed(self) -> float:
        return round(time.monotonic() - self.monotonic, 3)


@dataclass
class Extras:
    """What a run adds to its log and state besides its tables."""

    step: Step | None = None  # None: extract
    checks: list[CheckResult] | None = None
    quarantined: list = field(default_factory=list)  # gate.Quarantined
    transforms: dict[str, TransformMark] | None = None  # curated tables' bookmarks
    singer: dict[str, Any] | None = None  # a Singer tap's STATE, kept as is


def commit(
    bucket: Bucket,
    pipeline: str,
    clock: Clock,
    staged: list[StagedTable],
    previous: State | None,
    extras: Extras | None = None,
) -> RunLog:
    """Publish a run: data, run log, state, manifest, in that order.

    The log comes before the state so that a state naming a run always has that run's log, from
    which `recover` can finish the commit; a crash between the log and the state leaves files no
    manifest lists, and rows the unmoved bookmark reads again. Once the state is saved the run
    is committed (`clock.committed`): a failure after it never turns its log into a failure.
    """
    extras = extras or Extras()
    for table in staged:  # 1. data
        for f in table.files:
            bucket.publish_file(f.local_path, f.rel_path)
    for q in extras.quarantined:
        bucket.publish_file(q.file.local_path, q.file.rel_path)
    failpoint("after-data", extras.step)
    bookmarks = {table.stream or table.name: table.bookmark for table in staged if table.layer == "raw"}
    # a table with no new rows changes nothing, unless a transform replaces it with nothing
    with_rows = [table for table in staged if table.files or (table.layer == "curated" and table.mode == "overwrite")]
    logged = [table.logged() for table in with_rows]
    quarantine = [
        QuarantinedFile(location=q.location, path=q.file.rel_path, rows=q.file.rows, bytes=q.file.bytes)
        for q in extras.quarantined
    ]
    log = runlog.build(
        clock.run_id,
        pipeline,
        "success",
        clock.started,
        clock.elapsed(),
        logged,
        step=extras.step,
        checks=extras.checks,
        quarantine=quarantine or None,
    )
    runlog.save(bucket, log)  # 2. run log
    failpoint("after-log", extras.step)
    after = state.advanced(
        previous, pipeline, clock.run_id, bookmarks, singer=extras.singer, transforms=extras.transforms
    )
    state.save(bucket, after)  # 3. state
    clock.committed = True
    failpoint("after-state", extras.step)
    runs = [
        catalog.TableRun(
            layer=table.layer,
            namespace=table.namespace,
            name=table.name,
            partition_by=PARTITION_BY,
            columns=catalog.columns_of(table.schema, PARTITION_BY) if table.schema is not None else None,
            logged=logged_table,
            primary_key=table.primary_key,
            quality=table.quality,
            derived_from=table.derived_from,
        )
        for table, logged_table in zip(with_rows, logged)
    ]
    quality_only = {t.location: t.quality for t in staged if t.quality and t not in with_rows}
    try:
        catalog.update(
            bucket,
            lambda document: catalog.set_quality(
                catalog.apply_runs(document, runs, clock.run_id, log.finished_at), quality_only
            ),
        )
    except PipeError as exc:  # 4. manifest
        raise type(exc)(f"{exc}; the run's data is committed and the next run adds it to the manifest") from None
    return log


def no_new_data(bucket: Bucket, pipeline: str, clock: Clock, previous: State | None) -> RunLog:
    """A run that found nothing: noted in the state's `last_check` (a pipeline checked every few
    minutes would otherwise fill its log folder); a pipeline with no state yet gets a log."""
    log = runlog.build(clock.run_id, pipeline, "no_new_data", clock.started, clock.elapsed(), [])
    if previous is None:
        runlog.save(bucket, log)
    else:
        check = LastCheck(
            run_id=log.run_id, at=log.finished_at, status="no_new_data", duration_seconds=log.duration_seconds
        )
        state.save(bucket, previous.model_copy(update={"last_check": check}))
    return log


def recover(bucket: Bucket, pipeline: str, previous: State | None) -> list[str]:
    """Re-apply the last committed run to the manifest if a crash kept it from getting there.

    Returns the locations repaired.
    """
    _cut_short(bucket, pipeline, previous)
    if previous is None:
        return []
    log = runlog.load(bucket, pipeline, previous.last_run_id)
    if log is None or log.status != "success":
        return []
    manifest = catalog.load(bucket)
    runs = []
    for logged in log.tables:
        table = manifest.find(logged.location)
        listed = {f.path for f in table.files} if table else set()
        listed |= {r.path for r in (table.replaced or [])} if table else set()  # compacted since
        missing = [f for f in logged.files if f.path not in listed]
        if not missing or not any(bucket.exists(f.path) for f in missing):
            continue  # applied; or compacted and vacuumed since, which only an applied run can be
        layer, namespace, name = logged.location.split("/")
        runs.append(
            catalog.TableRun(
                layer=layer,  # type: ignore[arg-type]
                namespace=namespace,
                name=name,
                partition_by=PARTITION_BY,
                columns=columns_from_files(bucket, logged),
                logged=logged,
                primary_key=logged.primary_key,
            )
        )
    if runs:
        catalog.update(bucket, lambda document: catalog.apply_runs(document, runs, log.run_id, log.finished_at))
    return [run.location for run in runs]


def columns_from_files(bucket: Bucket, logged: LoggedTable, partition_by: list[str] | None = None):
    """The columns of every file of the run, unified (a run may widen its table midway)."""
    if not logged.files:
        return None
    import pyarrow as pa
    import pyarrow.parquet as pq

    schemas = []
    for f in logged.files:
        with bucket.fs.open(bucket.full(f.path), "rb") as handle:
            schemas.append(pq.read_schema(handle))
    return catalog.columns_of(pa.unify_schemas(schemas, promote_options="permissive"), partition_by or PARTITION_BY)


def _cut_short(bucket: Bucket, pipeline: str, previous: State | None) -> None:
    """A success log newer than the state is a run cut short between its log and its state:
    nothing of it was published and the next run reads its rows again. Its log says so."""
    ids = runlog.run_ids(bucket, pipeline)
    newest = ids[-1] if ids else None
    if newest is None or (previous is not None and newest <= previous.last_run_id):
        return
    log = runlog.load(bucket, pipeline, newest)
    if log is None or log.status != "success" or log.step in ("check", "compact"):
        return
    error = RunError(
        kind="CutShort",
        message="the run stopped after its log, before its state: nothing was published; the next run read its rows again",
    )
    runlog.save(bucket, log.model_copy(update={"status": "failed", "error": error}))


def record_failure(bucket: Bucket, pipeline: str, clock: Clock, exc: BaseException, step: Step | None = None) -> None:
    """Best effort: a failed run leaves a log, never a changed state or manifest. A committed
    run keeps its success log: recovery reads it."""
    if clock.committed:
        return
    message = diagnostics.scrub(diagnostics.one_line(str(exc)) or type(exc).__name__)
    error = RunError(kind=type(exc).__name__, message=message)
    try:
        results = getattr(exc, "results", None)  # checks.ChecksFailed: what the checks found
        log = runlog.build(
            clock.run_id, pipeline, "failed", clock.started, clock.elapsed(), [], error, step=step, checks=results
        )
        runlog.save(bucket, log)
    except Exception:  # noqa: BLE001 - the original error is what the user needs to see
        pass

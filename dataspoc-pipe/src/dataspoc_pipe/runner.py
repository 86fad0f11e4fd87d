"""One pipeline run, in phases: plan, extract each stream into staging, then commit.

Everything that can be checked is checked before the first byte reaches the bucket: the
bucket and its manifest are readable, the source config resolves, every stream's name and
columns are valid. Rows are staged on the local disk; only a run whose every stream was read
whole is published (publish.py), so a rejected run leaves the bucket as it was, apart from its
failure log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dataspoc_pipe import catalog, config, publish, runlog, sources, state
from dataspoc_pipe.bucket import Bucket
from dataspoc_pipe.config import Pipeline
from dataspoc_pipe.contract import run_lock_path
from dataspoc_pipe.contract.models import RunLog, StreamBookmark, WriteMode
from dataspoc_pipe.diagnostics import scrub
from dataspoc_pipe.errors import LockTimeout, PipelineBusy, SourceError, UsageError
from dataspoc_pipe.partitions import Layout
from dataspoc_pipe.sources.base import Context, Interleaved, Stream
from dataspoc_pipe.writer import PartitionedWriter

RUN_LOCK_STALE = 24 * 3600  # a run lock this old was left by a crash on another host


@dataclass
class Progress:
    """Callbacks the CLI uses to draw progress; the core works without them."""

    on_file: Callable[[str], None] = lambda name: None
    on_rows: Callable[[int, int], None] = lambda rows, nbytes: None  # rows and their Arrow bytes
    on_log: Callable[[RunLog], None] = lambda log: None  # each step's log, as it ends


@dataclass
class Options:
    full: bool = False  # ignore bookmarks
    reread_changed: bool = False  # read rewritten files again in full
    dry_run: bool = False  # plan only: read and write nothing
    window: tuple[Any, Any] | None = None  # backfill: this cursor range, bookmarks unmoved
    only: str | None = None  # backfill: one stream


@dataclass
class Plan:
    """What a run would read, per stream: the --dry-run report."""

    pipeline: str
    namespace: str
    streams: dict[str, list[str]] = field(default_factory=dict)

    def document(self) -> dict:
        return {
            "pipeline": self.pipeline,
            "dry_run": True,
            "streams": [
                {"stream": name, "table": f"raw/{self.namespace}/{name}", "reads": [scrub(i) for i in items]}
                for name, items in self.streams.items()
            ],
        }


def run(
    bucket: Bucket,
    name: str,
    pipeline: Pipeline,
    project_dir: Path,
    progress: Progress | None = None,
    options: Options | None = None,
    now: datetime | None = None,
) -> list[RunLog] | Plan:
    """Extract, then transform when the pipeline declares curated tables: their run logs (a
    transform finding no new raw rows adds none), or the plan of a dry run."""
    progress = progress or Progress()
    options = options or Options()
    started = now or datetime.now(timezone.utc)
    clock = publish.Clock(runlog.new_run_id(started), started)
    bucket.check_reachable()
    catalog.read_document(bucket)  # a manifest this version cannot read stops the run before any write
    if options.dry_run:
        opened = open_streams(name, pipeline, project_dir, state.load(bucket, name), clock.run_id, options)
        if isinstance(opened, Interleaved):
            return Plan(name, pipeline.target.namespace, opened.plan())
        try:
            return Plan(name, pipeline.target.namespace, {s.name: s.plan() for s in opened})
        finally:
            for stream in opened:
                stream.close()
    with running(bucket, name):
        logs = [_run(bucket, name, pipeline, project_dir, progress, options, clock)]
        progress.on_log(logs[0])
        if pipeline.transform is not None:
            from dataspoc_pipe import transform

            after = transform.run(bucket, name, pipeline, full=options.full)
            if after is not None and after.status != "no_new_data":
                logs.append(after)
                progress.on_log(after)
        return logs


@contextmanager
def running(bucket: Bucket, name: str) -> Iterator[None]:
    """Hold the pipeline's run lock, or say which run holds it."""
    lock = bucket.lock(run_lock_path(name), owner=catalog.WRITER, timeout=0, stale_after=RUN_LOCK_STALE)
    try:
        lock.__enter__()
    except LockTimeout:
        holder = bucket.read_json(run_lock_path(name)) or {}
        raise PipelineBusy(
            f"pipeline '{name}' is running already (on {holder.get('host', '?')}, pid {holder.get('pid', '?')}, "
            f"since {holder.get('at', '?')}); this run did nothing"
        ) from None
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


def _run(bucket, name, pipeline, project_dir, progress, options, clock) -> RunLog:
    previous = state.load(bucket, name)
    publish.recover(bucket, name, previous)
    try:
        opened = open_streams(name, pipeline, project_dir, previous, clock.run_id, options)
        before = state.streams(previous, pipeline.target.table or name)
        namespace = pipeline.target.namespace
        mode: WriteMode = "append" if options.window is not None else pipeline.mode  # a backfill adds rows
        layout = Layout(mode, pipeline.partition_by.column if pipeline.partition_by else None)
        if mode in ("overwrite", "overwrite_partitions") and not isinstance(opened, Interleaved):
            partial = [s.name for s in opened if s.incremental]
            if partial:
                raise UsageError(
                    f"pipeline '{name}': mode {mode} replaces data with what a run reads, but stream "
                    f"'{partial[0]}' reads only new rows (a cursor); remove source.cursor, or use mode: merge or append"
                )
        if isinstance(opened, Interleaved):
            with bucket.staging_dir(clock.run_id) as staging:
                staged = stage_interleaved(opened, namespace, staging, clock, progress, layout)
                tap_state = opened.source_state()
                unchanged = tap_state == (previous.bookmarks.singer if previous else None)
                if unchanged and all(
                    not t.files and t.bookmark == before.get(t.name, StreamBookmark()) for t in staged
                ):
                    return publish.no_new_data(bucket, name, clock, previous)
                staged, extras = _before_commit(bucket, name, pipeline, staged, clock, staging)
                extras.singer = tap_state
                return publish.commit(bucket, name, clock, staged, previous, extras)
        try:
            work = [s for s in opened if s.plan()]
            if not work:
                return publish.no_new_data(bucket, name, clock, previous)
            with bucket.staging_dir(clock.run_id) as staging:
                staged = [stage(stream, namespace, staging, clock, progress, layout) for stream in work]
                if all(not t.files and t.bookmark == before.get(t.name, StreamBookmark()) for t in staged):
                    return publish.no_new_data(bucket, name, clock, previous)  # a database with no new rows
                staged, extras = _before_commit(bucket, name, pipeline, staged, clock, staging)
                return publish.commit(bucket, name, clock, staged, previous, extras)
        finally:
            for stream in opened:
                stream.close()
    except Exception as exc:
        publish.record_failure(bucket, name, clock, exc)
        raise
    except KeyboardInterrupt:
        publish.record_failure(bucket, name, clock, KeyboardInterrupt("interrupted"))
        raise


def open_streams(
    name: str, pipeline: Pipeline, project_dir: Path, previous, run_id: str, options: Options
) -> list[Stream] | Interleaved:
    source = config.source_config(pipeline, name)
    table = pipeline.target.table or name
    context = Context(
        run_id=run_id,
        project_dir=project_dir,
        bookmarks=state.streams(previous, table),
        full=options.full,
        reread_changed=options.reread_changed,
        default_table=table,
        source_state=None if (options.full or previous is None) else previous.bookmarks.singer,
        window=options.window,
        only=options.only,
    )
    opened = sources.kind(source.kind).open(source, context)
    for stream in [] if isinstance(opened, Interleaved) else opened:
        config.check_name(stream.name, f"pipeline '{name}': stream")
    return opened


def stage(
    stream: Stream,
    namespace: str,
    staging: Path,
    clock: publish.Clock,
    progress: Progress,
    layout: Layout = Layout(),
) -> publish.StagedTable:
    """Read a stream whole into Parquet files in the staging folder."""
    location = f"raw/{namespace}/{stream.name}"
    (staging / stream.name).mkdir()
    writer = PartitionedWriter(staging / stream.name, location, clock.run_id, evolve=stream.evolving_columns)
    checked = None
    try:
        progress.on_file(stream.name)
        for batch in stream.batches():
            if batch.schema is not checked:
                check_columns(batch.schema, stream.origin())
                checked = batch.schema
            for partition, rows in layout.split(batch, clock.started, stream.origin()):
                writer.write(rows, partition, stream.origin())
            progress.on_rows(batch.num_rows, batch.nbytes)
        files = writer.close()
    except BaseException:
        writer.abort()
        raise
    return publish.StagedTable(
        namespace=namespace,
        name=stream.name,
        files=files,
        schema=writer.schema if files else None,
        bookmark=stream.bookmark(),
        primary_key=stream.primary_key,
        mode=layout.mode,
    )


def _before_commit(
    bucket: Bucket, name: str, pipeline: Pipeline, staged: list, clock: publish.Clock, staging: Path
) -> tuple[list, publish.Extras]:
    """Check each table's new columns against its current ones (evolution.py); in merge mode,
    each table with new rows becomes the merge of its rows and the new ones; then the raw
    tables' checks (gate.py) stop the run or quarantine failing rows. One manifest read."""
    from dataspoc_pipe import evolution

    manifest = catalog.load(bucket)
    declared = pipeline.source.get("columns")
    texts = [key for key, kind in (declared.items() if isinstance(declared, dict) else []) if _is_text(kind)]
    for table in staged:
        if table.files:
            # source.columns names a column, or table.column for kinds with many tables
            to_text = frozenset(k.split(".", 1)[1] if k.startswith(f"{table.name}.") else k for k in texts)
            location = evolution.place(manifest, table.location, table.schema, pipeline.on_schema_change, to_text)
            if location != table.location:  # a new version of the table (new_table)
                _rename(table, location.rsplit("/", 1)[1])
    if pipeline.mode == "merge":
        from dataspoc_pipe import merge

        settings = pipeline.merge or config.MergeSettings()
        staged = [
            merge.merged(bucket, t, manifest.find(t.location), settings.key, settings.order_by, clock.run_id, staging)
            if t.files
            else t
            for t in staged
        ]
    if not pipeline.checks:
        return staged, publish.Extras()
    from dataspoc_pipe import gate

    verdict = gate.judge(
        bucket,
        manifest,
        staged,
        lambda table: pipeline.checks.get(table.stream or table.name, []),  # a new_table version: its stream's
        pipeline.on_check_failure,
        clock.run_id,
        staging,
        name,
    )
    return staged, publish.Extras(checks=verdict.results or None, quarantined=verdict.quarantined)


def _is_text(kind: object) -> bool:
    return str(kind).strip().lower() in ("string", "utf8", "large_string")


def _rename(table, name: str) -> None:
    """Point a staged table's files at another table of the namespace."""
    old = table.location
    table.stream = table.stream or table.name
    table.name = name
    for f in table.files:
        f.rel_path = table.location + f.rel_path[len(old) :]


def stage_interleaved(
    source: Interleaved,
    namespace: str,
    staging: Path,
    clock: publish.Clock,
    progress: Progress,
    layout: Layout = Layout(),
) -> list[publish.StagedTable]:
    """Read a source whose streams come mixed, each stream into its own table's files."""
    writers: dict[str, PartitionedWriter] = {}
    checked: dict[str, object] = {}
    try:
        for stream, batch in source.batches():
            writer = writers.get(stream)
            if writer is None:
                config.check_name(stream, f"{source.origin()}: stream")
                (staging / stream).mkdir()
                writer = PartitionedWriter(staging / stream, f"raw/{namespace}/{stream}", clock.run_id, evolve=True)
                writers[stream] = writer
                progress.on_file(stream)
            if checked.get(stream) is not batch.schema:
                check_columns(batch.schema, f"{source.origin()} stream {stream}")
                checked[stream] = batch.schema
            origin = f"{source.origin()} stream {stream}"
            for partition, rows in layout.split(batch, clock.started, origin):
                writer.write(rows, partition, origin)
            progress.on_rows(batch.num_rows, batch.nbytes)
        files = {stream: writer.close() for stream, writer in writers.items()}
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    bookmarks = source.bookmarks()
    return [
        publish.StagedTable(
            namespace=namespace,
            name=stream,
            files=files.get(stream, []),
            schema=writers[stream].schema if files.get(stream) else None,
            bookmark=bookmarks.get(stream, StreamBookmark()),
            primary_key=source.primary_keys.get(stream),
            mode=layout.mode,
        )
        for stream in sorted(set(files) | set(bookmarks))
    ]


def check_columns(schema, origin: str) -> None:
    """Column names every reader can use: present, distinct, and not a partition column."""
    names = list(schema.names)
    if not names:
        raise SourceError(f"{origin}: no columns; a table needs at least one")
    blank = [i + 1 for i, n in enumerate(names) if not n.strip()]
    if blank:
        raise SourceError(f"{origin}: column {blank[0]} has no name; give every column a name in the header")
    seen: dict[str, str] = {}
    for n in names:
        folded = n.lower()
        if folded in seen:
            raise SourceError(
                f"{origin}: columns '{seen[folded]}' and '{n}' have the same name (SQL names ignore case); rename one"
            )
        seen[folded] = n
    if "dt" in seen:
        raise SourceError(f"{origin}: column 'dt' is reserved for the date partition; rename it in the source")

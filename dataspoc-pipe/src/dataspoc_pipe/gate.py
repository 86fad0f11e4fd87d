"""The checks a run's tables pass before they are published, and the quarantine of failing rows.

Each staged table with checks is evaluated as it will be once published (checks.py). A failed
check of severity error then either stops the run, publishing nothing (on_check_failure: fail),
or keeps the run's failing rows out of the table: they are written to
`quarantine/<layer>/<namespace>/<table>/`, each with the checks it failed, and published in the
same commit as the rows that passed (on_check_failure: quarantine). In merge mode the run's
files are the whole merged table, so any of its rows that fails is quarantined.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dataspoc_pipe import checks, engine
from dataspoc_pipe.bucket import Bucket
from dataspoc_pipe.contract.models import CheckResult, Manifest, Table
from dataspoc_pipe.errors import ChecksFailed
from dataspoc_pipe.writer import COMPRESSION, WrittenFile


@dataclass
class Quarantined:
    location: str  # the table the rows were kept out of
    file: WrittenFile


@dataclass
class Verdict:
    results: list[CheckResult] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)


def staying(entry: Table | None, mode: str, produced: set[tuple]) -> list[tuple[str, dict[str, str]]]:
    """(bucket path, partition values) of the table's files that stay listed after a run in `mode`."""
    if entry is None or mode in ("overwrite", "merge"):
        return []
    return [
        (f.path, p.values)
        for p in entry.partitions
        if not (mode == "overwrite_partitions" and tuple(sorted(p.values.items())) in produced)
        for f in p.files
    ]


def logged_rows(bucket: Bucket, pipeline: str, location: str, wanted: int = 2) -> list[int]:
    """The rows the pipeline's latest successful runs wrote to a table, newest first (the run
    logs count them; file run ids do not, once files are compacted)."""
    from dataspoc_pipe import runlog

    found: list[int] = []
    for run_id in reversed(runlog.run_ids(bucket, pipeline)[-200:]):
        log = runlog.load(bucket, pipeline, run_id)
        if log is None or log.status != "success" or log.step == "compact":
            continue  # a compaction moves rows, it writes none
        rows = [t.rows for t in log.tables if t.location == location]
        if rows:
            found.append(rows[0])
            if len(found) == wanted:
                break
    return found


def subject_of(bucket: Bucket, entry: Table | None, table: Any) -> checks.Subject:
    """A staged table as it will be once published: the files that stay, and the run's."""
    produced = {tuple(sorted(f.partition.items())) for f in table.files}
    kept = [(engine.path_of(bucket, path), values) for path, values in staying(entry, table.mode, produced)]
    new = [(str(f.local_path), f.partition) for f in table.files]
    return checks.Subject(
        location=table.location,
        listed=[path for path, _ in kept + new],
        new=[path for path, _ in new],
        dt={path: values.get("dt", "") for path, values in kept + new},
    )


def references(bucket: Bucket, manifest: Manifest, declared: list, staged: list | None = None) -> dict[str, list[str]]:
    """The files of the tables relationships checks look up, as they will be once this run's
    tables (`staged`) are published too."""
    found: dict[str, list[str]] = {}
    by_location = {t.location: t for t in staged or []}
    for check in declared:
        if isinstance(check, checks.Relationships):
            table = manifest.find(check.to)
            if check.to in by_location:
                found[check.to] = subject_of(bucket, table, by_location[check.to]).listed
            else:
                found[check.to] = [engine.path_of(bucket, f.path) for f in table.files] if table else []
    return found


def judge(
    bucket: Bucket,
    manifest: Manifest,
    staged: list,
    checks_of: Callable[[Any], list],
    policy: str,
    run_id: str,
    staging: Path,
    pipeline: str,
) -> Verdict:
    """Check each staged table (publish.StagedTable) and, by `policy`, stop the run or
    quarantine the failing rows. Sets each checked table's `quality`."""
    verdict = Verdict()
    for table in staged:
        declared = checks_of(table)
        if not declared or (not table.files and table.mode != "overwrite"):
            continue  # a table this run does not change; an emptied one is checked
        subject = subject_of(bucket, manifest.find(table.location), table)
        subject.new_rows = sum(f.rows for f in table.files)
        previous = logged_rows(bucket, pipeline, table.location, 1)
        subject.previous_rows = previous[0] if previous else None
        con = engine.connect(bucket)
        try:
            outcome = checks.evaluate(con, subject, declared, references(bucket, manifest, declared, staged))
            if outcome.error_checks and policy == "quarantine" and table.files:
                verdict.quarantined += _quarantine(con, table, outcome, run_id, staging)
        finally:
            con.close()
        verdict.results += outcome.results
        table.quality = checks.quality(outcome.results, run_id, datetime.now(timezone.utc))
    failures = checks.failed_errors(verdict.results)
    if failures and policy == "fail":
        raise ChecksFailed(
            f"{checks.summary(failures)}; nothing was published (on_check_failure: fail)", verdict.results
        )
    return verdict


def _quarantine(con, table, outcome: checks.Outcome, run_id: str, staging: Path) -> list[Quarantined]:
    """Move the failing rows of each of the table's new files into a quarantine file."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    per_file = checks.mark_failing(con, outcome.error_checks, [str(f.local_path) for f in table.files])
    moved: list[Quarantined] = []
    kept_files = []
    folder = staging / f"{table.name}-quarantine"
    folder.mkdir(exist_ok=True)
    for number, written in enumerate(table.files):
        if not per_file.get(str(written.local_path)):
            kept_files.append(written)
            continue
        rows, why = checks.failing_rows(con, str(written.local_path))
        data = pq.read_table(written.local_path)
        mask = pc.invert(pc.is_in(pa.array(range(data.num_rows), pa.int64()), value_set=pa.array(rows, pa.int64())))
        kept = data.filter(mask)
        bad = data.take(pa.array(rows, pa.int64())).append_column(
            checks.FAILED_CHECKS_COLUMN, pa.array(why, pa.string())
        )
        directory = "/".join(f"{k}={v}" for k, v in written.partition.items())
        name = f"part-{run_id}-q{number:05d}.parquet"
        rel = f"quarantine/{table.location}/{directory}/{name}" if directory else f"quarantine/{table.location}/{name}"
        local = folder / name
        pq.write_table(bad, local, compression=COMPRESSION)
        moved.append(
            Quarantined(
                table.location, WrittenFile(dict(written.partition), local, rel, bad.num_rows, local.stat().st_size)
            )
        )
        if kept.num_rows:
            pq.write_table(kept, written.local_path, compression=COMPRESSION)
            written.rows = kept.num_rows
            written.bytes = written.local_path.stat().st_size
            kept_files.append(written)
    counts = {c.label(): checks.failing_count(con, c) for c in outcome.error_checks}
    for result in outcome.results:
        if result.name in counts:
            result.quarantined_rows = counts[result.name]
    table.files = kept_files
    return moved


def check_published(bucket: Bucket, name: str, pipeline) -> Any:
    """`dataspoc-pipe check NAME`: the pipeline's checks on its published tables (raw and
    curated); the results go into a run log (step: check) and each table's `quality` into the
    manifest. Nothing is quarantined: published rows stay published."""
    from dataspoc_pipe import catalog, publish, runlog

    clock = publish.Clock(runlog.new_run_id(), datetime.now(timezone.utc))
    manifest = catalog.load(bucket)
    from dataspoc_pipe import evolution

    declared: dict[str, list] = {}
    for table_name, table_checks in pipeline.checks.items():
        if table_checks:  # the newest version of the table (on_schema_change: new_table)
            location = f"raw/{pipeline.target.namespace}/{table_name}"
            latest = evolution.latest(manifest, location)
            declared[latest.location if latest else location] = table_checks
    if pipeline.transform is not None:
        for target, spec in pipeline.transform.tables.items():
            if spec.checks:
                declared[f"curated/{pipeline.transform.domain}/{target}"] = spec.checks
    results: list[CheckResult] = []
    qualities: dict[str, dict] = {}
    for location, table_checks in declared.items():
        entry = manifest.find(location)
        if entry is None:
            continue  # not published yet
        rows = logged_rows(bucket, name, location)
        subject = checks.Subject(
            location=location,
            listed=[engine.path_of(bucket, f.path) for f in entry.files],
            dt={engine.path_of(bucket, f.path): p.values.get("dt", "") for p in entry.partitions for f in p.files},
            new_rows=rows[0] if rows else None,
            previous_rows=rows[1] if len(rows) > 1 else None,
        )
        con = engine.connect(bucket)
        try:
            outcome = checks.evaluate(con, subject, table_checks, references(bucket, manifest, table_checks))
        finally:
            con.close()
        results += outcome.results
        found = checks.quality(outcome.results, clock.run_id, datetime.now(timezone.utc))
        if found:
            qualities[location] = found
    log = runlog.build(
        clock.run_id, name, "success", clock.started, clock.elapsed(), [], step="check", checks=results or None
    )
    runlog.save(bucket, log)
    if qualities:
        catalog.update(bucket, lambda document: catalog.set_quality(document, qualities))
    return log

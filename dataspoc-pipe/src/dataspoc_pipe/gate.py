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


def staying(entry: Table | None, mode: str, produced: set[tuple]) -> list[str]:
    """Bucket paths of the table's files that stay listed after a run in `mode`."""
    if entry is None or mode in ("overwrite", "merge"):
        return []
    return [
        f.path
        for p in entry.partitions
        if not (mode == "overwrite_partitions" and tuple(sorted(p.values.items())) in produced)
        for f in p.files
    ]


def previous_run_rows(entry: Table | None) -> int | None:
    """Rows the table's newest run wrote (listed or since replaced)."""
    if entry is None:
        return None
    by_run: dict[str, int] = {}
    for p in entry.partitions:
        for f in p.files:
            by_run[f.run_id or ""] = by_run.get(f.run_id or "", 0) + f.rows
    for r in entry.replaced or []:
        by_run[r.run_id or ""] = by_run.get(r.run_id or "", 0) + r.rows
    return by_run[max(by_run)] if by_run else None


def references(bucket: Bucket, manifest: Manifest, declared: list) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for check in declared:
        if isinstance(check, checks.Relationships):
            table = manifest.find(check.to)
            found[check.to] = (
                [engine.path_of(bucket, f.path) for p in table.partitions for f in p.files] if table else []
            )
    return found


def judge(
    bucket: Bucket,
    manifest: Manifest,
    staged: list,
    checks_of: Callable[[Any], list],
    policy: str,
    run_id: str,
    staging: Path,
) -> Verdict:
    """Check each staged table (publish.StagedTable) and, by `policy`, stop the run or
    quarantine the failing rows. Sets each checked table's `quality`."""
    verdict = Verdict()
    for table in staged:
        declared = checks_of(table)
        if not declared or not table.files:
            continue
        entry = manifest.find(table.location)
        produced = {tuple(sorted(f.partition.items())) for f in table.files}
        new = [str(f.local_path) for f in table.files]
        subject = checks.Subject(
            location=table.location,
            listed=[engine.path_of(bucket, p) for p in staying(entry, table.mode, produced)] + new,
            new=new,
            new_rows=sum(f.rows for f in table.files),
            previous_rows=previous_run_rows(entry),
        )
        con = engine.connect(bucket)
        try:
            outcome = checks.evaluate(con, subject, declared, references(bucket, manifest, declared))
            if outcome.error_checks and policy == "quarantine":
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
    declared: dict[str, list] = {f"raw/{pipeline.target.namespace}/{t}": c for t, c in pipeline.checks.items() if c}
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
        by_run: dict[str, int] = {}
        for f in entry.files:
            by_run[f.run_id or ""] = by_run.get(f.run_id or "", 0) + f.rows
        runs = sorted(by_run)
        subject = checks.Subject(
            location=location,
            listed=[engine.path_of(bucket, f.path) for f in entry.files],
            new_rows=by_run[runs[-1]] if runs else None,
            previous_rows=by_run[runs[-2]] if len(runs) > 1 else None,
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

"""Run ids and run logs: .dataspoc/logs/<pipeline>/<run-id>.json."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

from dataspoc_pipe import __version__
from dataspoc_pipe.bucket import Bucket
from dataspoc_pipe.contract import CONTRACT_VERSION, log_dir, log_path
from dataspoc_pipe.contract.models import (
    CheckResult,
    LoggedTable,
    QuarantinedFile,
    RunError,
    RunLog,
    RunStatus,
    Step,
    dump,
    parse,
)


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def build(
    run_id: str,
    pipeline: str,
    status: RunStatus,
    started: datetime,
    duration: float,
    tables: list[LoggedTable],
    error: RunError | None = None,
    step: Step | None = None,
    checks: list[CheckResult] | None = None,
    quarantine: list[QuarantinedFile] | None = None,
) -> RunLog:
    return RunLog(
        contract_version=CONTRACT_VERSION,
        run_id=run_id,
        pipeline=pipeline,
        tool=f"dataspoc-pipe/{__version__}",
        status=status,
        started_at=started,
        finished_at=datetime.now(timezone.utc),
        duration_seconds=duration,
        rows_written=sum(t.rows for t in tables),
        files_written=sum(len(t.files) for t in tables),
        bytes_written=sum(f.bytes for t in tables for f in t.files),
        tables=tables,
        error=error,
        step=step,
        checks=checks,
        quarantine=quarantine,
    )


def save(bucket: Bucket, log: RunLog) -> None:
    bucket.write_json(log_path(log.pipeline, log.run_id), dump(log))


def load(bucket: Bucket, pipeline: str, run_id: str) -> RunLog | None:
    path = log_path(pipeline, run_id)
    document = bucket.read_json(path)
    return None if document is None else parse("run-log", document, bucket.display(path))


def run_ids(bucket: Bucket, pipeline: str) -> list[str]:
    """Run ids of a pipeline, oldest first (run ids sort by time)."""
    names = [p.rsplit("/", 1)[-1] for p in bucket.list(log_dir(pipeline))]
    return sorted(n[: -len(".json")] for n in names if n.endswith(".json"))


def pipelines(bucket: Bucket) -> list[str]:
    """Every pipeline with run logs (`lens/` holds dataspoc-lens's, not a pipeline's)."""
    from dataspoc_pipe.config import RESERVED_PIPELINE
    from dataspoc_pipe.contract import LOGS_DIR

    names = [p.rstrip("/").rsplit("/", 1)[-1] for p in bucket.list(LOGS_DIR)]
    return sorted(n for n in names if n != RESERVED_PIPELINE and not n.endswith(".json"))


def owner(bucket: Bucket, location: str) -> str | None:
    """The pipeline whose newest successful run wrote `location`."""
    found: tuple[str, str] | None = None
    for pipeline in pipelines(bucket):
        for run_id in reversed(run_ids(bucket, pipeline)):
            if found is not None and run_id <= found[0]:
                break
            log = load(bucket, pipeline, run_id)
            if log is not None and log.status == "success" and any(t.location == location for t in log.tables):
                found = (run_id, pipeline)
                break
    return found[1] if found else None

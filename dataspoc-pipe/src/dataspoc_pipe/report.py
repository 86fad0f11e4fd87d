"""What status and logs show, as plain dictionaries (the CLI renders or prints them as JSON)."""

from __future__ import annotations

from typing import Any

from dataspoc_pipe import catalog, runlog, schedule, state
from dataspoc_pipe.bucket import Bucket
from dataspoc_pipe.config import Project
from dataspoc_pipe.contract.models import RunLog, dump
from dataspoc_pipe.errors import UsageError


def _summary(log: RunLog) -> dict[str, Any]:
    return {
        "run_id": log.run_id,
        "status": log.status,
        "started_at": log.started_at.isoformat(),
        "duration_seconds": log.duration_seconds,
        "rows_written": log.rows_written,
        "files_written": log.files_written,
        "bytes_written": log.bytes_written,
        "error": log.error.message if log.error else None,
    }


def status(bucket: Bucket, project: Project) -> list[dict[str, Any]]:
    manifest = catalog.load(bucket)
    rows = []
    for name, pipeline in sorted(project.pipelines.items()):
        ids = runlog.run_ids(bucket, name)
        last = runlog.load(bucket, name, ids[-1]) if ids else None
        saved = state.load(bucket, name)
        last_run = _summary(last) if last else None
        if saved and saved.last_check and (last_run is None or saved.last_check.run_id > last_run["run_id"]):
            last_run = _check_summary(saved.last_check)
        one_table = pipeline.target.table or name
        streams = sorted(state.streams(saved, one_table)) or [one_table]
        locations = [f"raw/{pipeline.target.namespace}/{stream}" for stream in streams]
        if pipeline.transform is not None:
            locations += [f"curated/{pipeline.transform.domain}/{t}" for t in sorted(pipeline.transform.tables)]
        tables = [t for t in (manifest.find(location) for location in locations) if t is not None]
        scores = [t.quality.score for t in tables if t.quality is not None]
        rows.append(
            {
                "pipeline": name,
                "kind": pipeline.source.get("kind"),
                "tables": locations,
                "table": ", ".join(locations),
                "table_rows": sum(t.row_count for t in tables),
                "last_run": last_run,
                "score": min(scores) if scores else None,  # the lowest of its tables'
                "schedule": pipeline.schedule,
                "next_run": schedule.next_run(pipeline),
            }
        )
    return rows


def recent_logs(bucket: Bucket, pipeline: str, limit: int) -> list[dict[str, Any]]:
    """The recent runs, newest first; the last run that found nothing new (kept in the state,
    not as a log) leads when it is the newest."""
    ids = runlog.run_ids(bucket, pipeline)[-limit:]
    logs = [runlog.load(bucket, pipeline, run_id) for run_id in reversed(ids)]
    runs = [_summary(log) for log in logs if log is not None]
    saved = state.load(bucket, pipeline)
    if saved and saved.last_check and (not runs or saved.last_check.run_id > runs[0]["run_id"]):
        runs = [_check_summary(saved.last_check), *runs][:limit]
    return runs


def _check_summary(check) -> dict[str, Any]:
    return {
        "run_id": check.run_id,
        "status": check.status,
        "started_at": check.at.isoformat(),
        "duration_seconds": check.duration_seconds or 0.0,
        "rows_written": 0,
        "files_written": 0,
        "bytes_written": 0,
        "error": None,
    }


def one_log(bucket: Bucket, pipeline: str, run_id: str) -> dict[str, Any]:
    log = runlog.load(bucket, pipeline, run_id)
    if log is None:
        raise UsageError(f"no run {run_id} for pipeline '{pipeline}'; list runs with `dataspoc-pipe logs {pipeline}`")
    return dump(log)


def pipelines(project: Project) -> list[dict[str, Any]]:
    return [
        {
            "pipeline": name,
            "kind": pipeline.source.get("kind"),
            "namespace": pipeline.target.namespace,
            "schedule": pipeline.schedule,
        }
        for name, pipeline in sorted(project.pipelines.items())
    ]

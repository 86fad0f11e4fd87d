"""`validate`: what a run needs, checked without reading or writing a row.

Each check is a result: the project's settings resolve (every ${VAR} set), the source answers
and has something to read (files found, database reached, tap discovered), and the bucket
accepts a write. Nothing is published; a probe object is written and removed.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from dataspoc_pipe import config, diagnostics, runlog, runner
from dataspoc_pipe.bucket import Bucket
from dataspoc_pipe.config import Pipeline
from dataspoc_pipe.errors import ExitCode, PipeError

PROBE_DIR = ".dataspoc/tmp"


def bucket_writable(bucket: Bucket) -> dict[str, Any]:
    probe = f"{PROBE_DIR}/validate-{secrets.token_hex(4)}"
    try:
        bucket.check_reachable()
        bucket.write_bytes(probe, b"probe")
        bucket.delete(probe)
        return _ok(f"bucket {bucket.display()} accepts writes")
    except PipeError as exc:
        return _failed(f"bucket {bucket.display()} accepts writes", exc)


def pipeline(name: str, pipeline: Pipeline, project_dir: Path) -> list[dict[str, Any]]:
    results = []
    try:
        config.source_config(pipeline, name)
        results.append(_ok("settings resolve"))
    except PipeError as exc:
        return [_failed("settings resolve", exc)]
    try:
        opened = runner.open_streams(name, pipeline, project_dir, None, runlog.new_run_id(), runner.Options())
        planned = opened.plan() if isinstance(opened, runner.Interleaved) else {s.name: s.plan() for s in opened}
        if not isinstance(opened, runner.Interleaved):
            for stream in opened:
                stream.close()
        streams = ", ".join(sorted(planned)) or "none"
        results.append(_ok(f"source answers (streams: {streams})"))
    except PipeError as exc:
        results.append(_failed("source answers", exc))
    return results


def exit_code(results: list[dict[str, Any]]) -> ExitCode:
    codes = [ExitCode(r["code"]) for r in results if not r["ok"]]
    return max(codes, default=ExitCode.OK)


def _ok(check: str) -> dict[str, Any]:
    return {"check": check, "ok": True, "code": int(ExitCode.OK), "message": None}


def _failed(check: str, exc: PipeError) -> dict[str, Any]:
    outcome = diagnostics.diagnose(exc)
    return {"check": check, "ok": False, "code": int(outcome.code), "message": outcome.message}

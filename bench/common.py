"""What every benchmark shares: whole processes measured alike, medians, a report."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
PIPE = HERE.parent / "dataspoc-pipe" / ".venv" / "bin" / "dataspoc-pipe"


def measure(argv: list[str], cwd: Path, env: dict | None = None, shell: bool = False) -> tuple[float, float]:
    """Wall seconds and peak RSS in MB of one process (and the children it waited for)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}, shell=shell
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv if shell else argv[0]} failed: {proc.stderr.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def pipe_project(name: str, pipelines: dict) -> Path:
    """A fresh project folder with this pipeline config and an empty local bucket."""
    import yaml  # the bench environment has PyYAML through DuckDB-free deps

    project = WORK / name
    shutil.rmtree(project, ignore_errors=True)
    (project / "bucket").mkdir(parents=True)
    (project / "dataspoc-pipe.yaml").write_text(
        yaml.safe_dump({"version": 1, "bucket": "./bucket", "pipelines": pipelines})
    )
    return project


def run_pipe(project: Path, name: str, env: dict | None = None) -> tuple[float, float]:
    shutil.rmtree(project / "bucket", ignore_errors=True)
    (project / "bucket").mkdir()
    return measure([str(PIPE), "run", name], project, env)


def summarize(results: dict[str, list[tuple[float, float]]], rows: int) -> dict:
    summary = {}
    for name, runs in results.items():
        seconds = statistics.median(r[0] for r in runs)
        summary[name] = {
            "seconds": round(seconds, 2),
            "rows_per_second": round(rows / seconds),
            "peak_rss_mb": round(statistics.median(r[1] for r in runs)),
        }
    return summary


def report(title: str, name: str, summary: dict, labels: dict[str, str], extra: dict) -> None:
    print(f"\n{title}")
    print(f"{'':30}{'seconds':>10}{'rows/s':>14}{'peak RSS MB':>14}")
    for key, label in labels.items():
        s = summary[key]
        print(f"{label:30}{s['seconds']:>10}{s['rows_per_second']:>14,}{s['peak_rss_mb']:>14}")
    for key, value in extra.items():
        print(f"{key}: {value}")
    (HERE / "results").mkdir(exist_ok=True)
    document = {"results": summary, **extra, "cores": os.cpu_count()}
    (HERE / "results" / f"{name}.json").write_text(json.dumps(document, indent=2) + "\n")

"""`schedule install|list|remove`: the pipelines' `schedule:` as crontab lines, and `run --if-due`.

The lines of one project live in a block of the crontab marked with the project file's path,
so installing again replaces them and other lines are never touched. Each line changes to the
project's folder, takes a local `flock` (when installed) so a slow run is never doubled on one
host (the run lock in the bucket covers several hosts), and appends the run's output to a log
file. Cron starts commands with an almost empty environment: `${VAR}` values are not written
into the crontab; give them to cron yourself (variables at the top of the crontab, or an
environment file the line sources).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dataspoc_pipe import cron, runlog, state
from dataspoc_pipe.bucket import Bucket
from dataspoc_pipe.config import Pipeline, Project
from dataspoc_pipe.errors import UsageError

TAG = "dataspoc-pipe"


def _begin(project_file: Path) -> str:
    return f"# >>> {TAG} {project_file} >>>"


def _end(project_file: Path) -> str:
    return f"# <<< {TAG} {project_file} <<<"


def executable() -> str:
    here = Path(sys.argv[0])
    if here.name == TAG and here.exists():
        return str(here.resolve())
    return shutil.which(TAG) or TAG


def line(project_file: Path, name: str, pipeline: Pipeline, log_dir: Path) -> str:
    assert pipeline.schedule is not None
    folder = project_file.parent
    command = [executable(), "run", name, "--quiet", "--project", str(project_file)]
    guard = ""
    if shutil.which("flock"):
        guard = f"flock -n {shlex.quote(str(log_dir / f'.{name}.lock'))} "
    text = (
        f"cd {shlex.quote(str(folder))} && {guard}{shlex.join(command)} "
        f">> {shlex.quote(str(log_dir / f'{name}.log'))} 2>&1"
    )
    return f"{pipeline.schedule} {text.replace('%', chr(92) + '%')}  # {TAG}:{name}"


def read_crontab(file: Path | None) -> str:
    if file is not None:
        return file.read_text() if file.exists() else ""
    if not shutil.which("crontab"):
        raise UsageError("no crontab command on this machine; install cron, or pass --crontab-file FILE")
    done = subprocess.run(["crontab", "-l"], check=False, capture_output=True, text=True)
    if done.returncode != 0:
        if "no crontab" in done.stderr.lower():
            return ""
        raise UsageError(f"crontab -l failed: {done.stderr.strip() or done.returncode}")
    return done.stdout


def write_crontab(text: str, file: Path | None) -> None:
    if file is not None:
        tmp = file.with_name(f".{file.name}.tmp")
        tmp.write_text(text)
        os.replace(tmp, file)
        return
    done = subprocess.run(["crontab", "-"], check=False, input=text, capture_output=True, text=True)
    if done.returncode != 0:
        raise UsageError(f"crontab refused the new table: {done.stderr.strip() or done.returncode}")


def _without_block(text: str, project_file: Path) -> tuple[list[str], list[str]]:
    """(the crontab's lines outside this project's block, the block's lines)."""
    outside, inside, within = [], [], False
    for row in text.splitlines():
        if row == _begin(project_file):
            within = True
        elif row == _end(project_file):
            within = False
        elif within:
            inside.append(row)
        else:
            outside.append(row)
    return outside, inside


def install(project_file: Path, project: Project, names: list[str], file: Path | None, log_dir: Path) -> list[str]:
    """Write the lines of `names` (every scheduled pipeline when empty) in place of the
    project's block; the lines of pipelines not named stay as they were. Returns the lines."""
    chosen = names or [n for n, p in sorted(project.pipelines.items()) if p.schedule]
    if not chosen:
        raise UsageError(
            f"no pipeline in {project_file} has a schedule; set one: dataspoc-pipe add NAME --schedule '0 3 * * *'"
        )
    for name in chosen:
        if name not in project.pipelines:
            raise UsageError(f"no pipeline '{name}' in {project_file}")
        if not project.pipelines[name].schedule:
            raise UsageError(f"pipeline '{name}' has no schedule; set schedule: in {project_file}")
    log_dir.mkdir(parents=True, exist_ok=True)
    outside, inside = _without_block(read_crontab(file), project_file)
    kept = [row for row in inside if _owner(row) not in chosen and _owner(row) in project.pipelines]
    new = [line(project_file, name, project.pipelines[name], log_dir) for name in chosen]
    block = [_begin(project_file), *sorted(kept + new, key=_owner), _end(project_file)]
    write_crontab("\n".join(outside + block) + "\n", file)
    return new


def remove(project_file: Path, names: list[str], file: Path | None) -> list[str]:
    """Remove the lines of `names` (the whole block when empty). Returns the pipelines removed."""
    outside, inside = _without_block(read_crontab(file), project_file)
    gone = [_owner(row) for row in inside if not names or _owner(row) in names]
    kept = [row for row in inside if names and _owner(row) not in names]
    block = [_begin(project_file), *kept, _end(project_file)] if kept else []
    text = "\n".join(outside + block)
    write_crontab(text + "\n" if text else "", file)
    return [g for g in gone if g]


def _owner(row: str) -> str:
    marker = f"# {TAG}:"
    return row.rsplit(marker, 1)[1].strip() if marker in row else ""


def listing(
    project_file: Path, project: Project, file: Path | None, now: datetime | None = None
) -> list[dict[str, Any]]:
    now = now or datetime.now(timezone.utc)
    try:
        _, inside = _without_block(read_crontab(file), project_file)
    except UsageError:
        inside = []
    installed = {_owner(row) for row in inside}
    rows = []
    for name, pipeline in sorted(project.pipelines.items()):
        rows.append(
            {
                "pipeline": name,
                "schedule": pipeline.schedule,
                "installed": name in installed,
                "next_run": next_run(pipeline, now),
            }
        )
    return rows


def next_run(pipeline: Pipeline, now: datetime | None = None) -> str | None:
    if not pipeline.schedule:
        return None
    at = cron.parse(pipeline.schedule).next_after(now or datetime.now(timezone.utc))
    return at.isoformat().replace("+00:00", "Z")


def last_attempt(bucket: Bucket, name: str) -> datetime | None:
    """When the pipeline last started a run: its newest extract log, or the last run that found
    nothing (a `check` or a `transform` run alone is not a run of the schedule)."""
    saved = state.load(bucket, name)
    candidates = [saved.last_check.run_id] if saved and saved.last_check else []
    for run_id in reversed(runlog.run_ids(bucket, name)[-50:]):
        log = runlog.load(bucket, name, run_id)
        if log is not None and log.step in (None, "extract"):
            candidates.append(run_id)
            break
    if not candidates:
        return None
    newest = max(candidates)
    return datetime.strptime(newest[:19], "%Y%m%dT%H%M%S.%f").replace(tzinfo=timezone.utc)


def due(bucket: Bucket, name: str, pipeline: Pipeline, now: datetime | None = None) -> tuple[bool, str]:
    """Whether `run --if-due` runs the pipeline now, and why (or why not)."""
    if not pipeline.schedule:
        return False, "no schedule"
    now = now or datetime.now(timezone.utc)
    fired = cron.parse(pipeline.schedule).last_before(now)
    last = last_attempt(bucket, name)
    if last is None or last < fired:
        return True, f"due since {fired.isoformat().replace('+00:00', 'Z')}"
    return False, f"not due: last run {last.isoformat().replace('+00:00', 'Z')}, next {next_run(pipeline, now)}"

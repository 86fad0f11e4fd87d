"""Human output on stderr: run summaries, progress, status and log tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dataspoc_pipe import console
from dataspoc_pipe.contract.models import RunLog, dump
from dataspoc_pipe.diagnostics import scrub
from dataspoc_pipe.runner import Plan, Progress


def size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} B"


def run_summary(log: RunLog) -> str:
    step = " transform" if log.step == "transform" else ""
    if log.status == "no_new_data":
        return f"{log.pipeline}:{step} no new data (run {log.run_id})"
    if len(log.tables) == 1:
        lines = [
            f"{log.pipeline}:{step} {log.rows_written:,} rows -> {log.tables[0].location} "
            f"({_files(log.files_written)}, {size(log.bytes_written)}) in {log.duration_seconds:.1f} s, run {log.run_id}"
        ]
    else:  # one line per table
        lines = [
            f"{log.pipeline}:{step} {log.rows_written:,} rows -> {len(log.tables)} tables "
            f"({_files(log.files_written)}, {size(log.bytes_written)}) in {log.duration_seconds:.1f} s, run {log.run_id}"
        ]
        for t in log.tables:
            written = sum(f.bytes for f in t.files)
            lines.append(f"  {t.location}: {t.rows:,} rows ({_files(len(t.files))}, {size(written)})")
    return "\n".join(lines + check_lines(log))


def _files(count: int) -> str:
    return f"{count} file{'' if count == 1 else 's'}"


def check_lines(log: RunLog) -> list[str]:
    """One line for the checks of the run, and one per check that failed."""
    results = log.checks or []
    if not results:
        return []
    failed = [r for r in results if r.status == "fail"]
    lines = [f"  checks: {len(results) - len(failed)} of {len(results)} passed"]
    for r in failed:
        kept = f", {r.quarantined_rows} rows quarantined" if r.quarantined_rows else ""
        lines.append(
            f"  {'ERROR' if r.severity == 'error' else 'warn'} {r.location} {r.name}: {r.message or 'failed'}{kept}"
        )
    return lines


def log_document(log: RunLog) -> dict[str, Any]:
    return dump(log)


def plan_summary(plan: Plan) -> str:
    lines = [f"{plan.pipeline}: dry run, nothing read or written"]
    for stream, items in plan.streams.items():
        target = f"raw/{plan.namespace}/{stream}"
        if not items:
            lines.append(f"  {target}: nothing new")
        for item in items:
            lines.append(f"  {target} <- {item}")
    return scrub("\n".join(lines))


@contextmanager
def run_progress(name: str, quiet: bool = False) -> Iterator[Progress]:
    """Rows and rows/s of the stream being read, on stderr when it is a terminal."""
    if quiet:
        yield Progress()
        return
    import time

    with console.progress() as bar:
        task = bar.add_task(name, total=None, rows=0)
        rows = 0
        stream = ""
        started = time.monotonic()

        volume = 0

        def on_file(current: str) -> None:
            nonlocal stream, rows, started, volume
            stream, rows, started, volume = current, 0, time.monotonic(), 0
            bar.update(task, description=f"{name}: {stream}", rows=0)

        def on_rows(n: int, nbytes: int = 0) -> None:
            nonlocal rows, volume
            rows += n
            volume += nbytes
            rate = rows / max(time.monotonic() - started, 1e-6)
            bar.update(task, rows=rows, description=f"{name}: {stream} {size(volume)} ({rate:,.0f} rows/s)")

        yield Progress(on_file=on_file, on_rows=on_rows)


def _table(title: str, headers: list[str], rows: list[list[str]], keep: tuple[str, ...] = ()) -> None:
    """A table on stdout (what was asked for, so `| grep` finds it); columns named in `keep`
    (run ids, which `logs --run` needs) are never cut or wrapped."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for header in headers:
        if header in keep:
            table.add_column(header, no_wrap=True, min_width=len(rows[0][headers.index(header)]) if rows else None)
        else:
            table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console(highlight=False, soft_wrap=False).print(table)


def pipelines_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.say("no pipelines yet: add one with `dataspoc-pipe add`")
        return
    body = [[r["pipeline"], r["kind"], r["namespace"], r["schedule"] or "-"] for r in rows]
    _table("pipelines", ["pipeline", "kind", "namespace", "schedule"], body)


def checks(name: str, results: list[dict[str, Any]]) -> None:
    for result in results:
        mark = "ok  " if result["ok"] else "FAIL"
        console.out(f"{mark} {name}: {result['check']}" + ("" if result["ok"] else f": {result['message']}"))


def _short_time(text: str | None) -> str:
    """`11-24 21:44` from an ISO timestamp (UTC): the year is in --json."""
    if not text:
        return "-"
    from datetime import datetime, timezone

    at = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
    return at.strftime("%m-%d %H:%M")


def status_table(rows: list[dict[str, Any]]) -> None:
    """Fits 80 columns: the first table of each pipeline in full, times to the minute (UTC)."""
    if not rows:
        console.say("no pipelines yet: add one with `dataspoc-pipe add`")
        return
    body = []
    for row in rows:
        last = row["last_run"] or {}
        tables = row["tables"]
        more = f" +{len(tables) - 1}" if len(tables) > 1 else ""
        body.append(
            [
                row["pipeline"],
                (tables[0] if tables else "-") + more,
                f"{row['table_rows']:,}",
                "-" if row.get("score") is None else f"{row['score']:g}",
                last.get("status", "never run"),
                _short_time(last.get("started_at")),
                _short_time(row.get("next_run")),
            ]
        )
    headers = ["pipeline", "table", "rows", "score", "last status", "last run", "next run"]
    _table("pipelines (times UTC)", headers, body, keep=("table", "last run", "next run"))


def logs_table(name: str, runs: list[dict[str, Any]]) -> None:
    if not runs:
        console.say(f"no runs of '{name}' yet")
        return
    body = [
        [r["run_id"], r["status"], f"{r['rows_written']:,}", f"{r['duration_seconds']:.1f} s", r["error"] or ""]
        for r in runs
    ]
    _table(f"runs of {name}, newest first", ["run", "status", "rows", "took", "error"], body, keep=("run",))


def vacuum_summary(report) -> str:
    verb = "would delete" if report.dry_run else "deleted"
    document = report.document()
    return (
        f"{verb} {len(report.deleted)} replaced file{'' if len(report.deleted) == 1 else 's'} and "
        f"{len(report.orphans)} file{'' if len(report.orphans) == 1 else 's'} no table lists "
        f"({size(document['bytes'])}), and {len(report.logs)} old run log{'' if len(report.logs) == 1 else 's'}; "
        f"{report.kept} replaced kept within the retention"
    )


def checks_table(log: RunLog) -> None:
    """One line per check on stdout, never cut, so `| grep FAIL` finds them."""
    results = log.checks or []
    if not results:
        console.say(f"{log.pipeline}: no checks declared, or no published table to check")
        return
    lines = [f"checks of {log.pipeline} (run {log.run_id})"]
    width = max(len(r.name) for r in results)
    where = max(len(r.location) for r in results)
    for r in results:
        counted = "" if r.failing_rows is None else f"{r.failing_rows:,}/{r.checked_rows or 0:,} rows"
        if r.failing_rows is None:
            detail = r.message or ("" if r.observed is None else f"measured {r.observed:g}")
        else:
            detail = counted
        status = "FAIL" if r.status == "fail" else "pass"
        lines.append(f"  {status}  {r.severity:<5}  {r.location:<{where}}  {r.name:<{width}}  {detail}".rstrip())
    console.out("\n".join(lines))


def schedules_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.say("no pipelines yet: add one with `dataspoc-pipe add`")
        return
    body = [
        [r["pipeline"], r["schedule"] or "-", "yes" if r["installed"] else "no", r["next_run"] or "-"] for r in rows
    ]
    _table("schedules (UTC)", ["pipeline", "schedule", "installed", "next run"], body, keep=("next run",))

"""What `transform run` and `test` print: one line per model or check on stderr as it ends, a
summary, and the one-line reason a run exits 1."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataspoc_lens.console import out, say

if TYPE_CHECKING:
    from dataspoc_lens.gold.check_run import TableChecks
    from dataspoc_lens.gold.run import Outcome, Report

MARK = {"success": "ok  ", "unchanged": "same", "failed": "FAIL", "skipped": "skip"}


def _partitions(values: list[dict[str, str]]) -> str:
    shown = ", ".join(",".join(f"{k}={v}" for k, v in p.items()) for p in values[:3])
    more = f" +{len(values) - 3}" if len(values) > 3 else ""
    return f"{len(values)} partition{'s' if len(values) != 1 else ''} ({shown}{more})" if values else "no partition"


def done(outcome: Outcome) -> None:
    if outcome.status == "success":
        what = {
            "full": "rebuilt",
            "partitions": f"rebuilt {_partitions(outcome.partitions or [])}",
            "merge": f"merged into {_partitions(outcome.partitions)}" if outcome.partitions is not None else "merged",
        }.get(outcome.mode, outcome.mode)
        detail = f"{what}: {outcome.rows:,} row{'s' if outcome.rows != 1 else ''}, {outcome.files} file{'s' if outcome.files != 1 else ''} ({outcome.reason}) {outcome.seconds:.1f}s"
    elif outcome.status == "unchanged":
        detail = outcome.reason
    else:
        detail = outcome.error or ""
    say(f"{MARK[outcome.status]}  {outcome.model}  {detail}")


def summary(report: Report) -> str:
    counts: dict[str, int] = {}
    for o in report.outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    parts = [f"{n} {status}" for status, n in counts.items()]
    return (
        f"{len(report.outcomes)} model{'s' if len(report.outcomes) != 1 else ''}: {', '.join(parts) or 'none selected'}"
    )


def failure(report: Report) -> str:
    failed = [o for o in report.outcomes if o.status == "failed"]
    skipped = [o for o in report.outcomes if o.status == "skipped"]
    first = failed[0] if failed else skipped[0]
    rest = len(failed) + len(skipped) - 1
    more = f" ({len(skipped)} downstream skipped)" if failed and skipped else (f" (and {rest} more)" if rest else "")
    return f"{first.error}{more}; the previous versions stay published"


def checks(reports: list[TableChecks]) -> None:
    """One line per check on stdout, never cut, so `| grep FAIL` finds them; the first failing
    rows under each failed check."""
    for report in reports:
        if report.missing:
            out(f"{report.table}: not built yet")
            continue
        score = "" if report.score is None else f" score {report.score:g}"
        out(f"{report.table}{score}")
        width = max((len(r.name) for r in report.results), default=0)
        for r in report.results:
            status = "FAIL" if r.status == "fail" else "pass"
            counted = f"{r.failing_rows:,}/{r.checked_rows:,} rows" if r.failing_rows is not None else (r.message or "")
            out(f"  {status}  {r.severity:<5}  {r.name:<{width}}  {counted}".rstrip())
            if r.status == "fail" and r.failing_rows is None and r.message:
                continue
            for row in r.sample:
                out("        " + ", ".join(f"{k}={v}" for k, v in row.items()))

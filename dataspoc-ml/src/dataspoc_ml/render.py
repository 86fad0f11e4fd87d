"""How the train, predict, evaluate and explain reports look on a terminal.

Narration (steps with their elapsed time, row counts, warnings) goes to stderr; what a command
produces as data (evaluate's metrics, explain's importance and contributions) to stdout. The
--json documents are printed by the CLI itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dataspoc_ml import console
from dataspoc_ml.tasks import Progress

if TYPE_CHECKING:
    from dataspoc_ml.contract.models import Baseline, CrossValidation, Importance, Segment
    from dataspoc_ml.evaluate import EvaluateReport
    from dataspoc_ml.explain import ExplainReport
    from dataspoc_ml.predict import PredictReport
    from dataspoc_ml.train import TrainReport

TOP_FEATURES = 5
SHOWN_CONTRIBUTIONS = 8


class Narration(Progress):
    """Progress on stderr: one line per step, prefixed with the time since the command began;
    on a terminal, a spinner with the step's own elapsed time and the rows read so far.
    Use it as a context manager so the spinner is gone before anything else is printed."""

    def __init__(self) -> None:
        super().__init__()
        self._live: Any = None
        self._task: Any = None
        self._description = ""

    def __enter__(self) -> Narration:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def step(self, message: str) -> None:
        super().step(message)
        self._stop()
        console.say(f"[{self.elapsed():7.1f}s] {message}")
        if console.is_terminal():
            from rich.progress import Progress as Live
            from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

            self._description = message
            self._live = Live(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console.err(),
                transient=True,
            )
            self._task = self._live.add_task(message)
            self._live.start()

    def rows(self, done: int, total: int) -> None:
        if self._live is not None:
            shown = f"{done:,} of {total:,} rows" if total else f"{done:,} rows"
            self._live.update(self._task, description=f"{self._description} ({shown})")

    def note(self, message: str) -> None:
        console.say(message)

    def warn(self, message: str) -> None:
        console.warn(message)


def number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if abs(value) < 1e6 else f"{value:,.0f}"


def grid(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows of cells as aligned lines, the first row being the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def metric_lines(metrics: dict[str, float], baseline: Baseline | None, cv: CrossValidation | None = None) -> list[str]:
    header = ["metric", "model"]
    if baseline is not None:
        header.append(f"baseline ({baseline.name})")
    if cv is not None:
        header.append(f"cv ({cv.folds} folds)")
    rows = [header]
    for name, value in metrics.items():
        row = [name, number(value)]
        if baseline is not None:
            row.append(number(baseline.metrics.get(name)))
        if cv is not None:
            spread = cv.metrics.get(name)
            row.append(f"{number(spread.mean)} ± {number(spread.std)}" if spread else "-")
        rows.append(row)
    return grid(rows)


def importance_line(importance: list[Importance] | None) -> str | None:
    if not importance:
        return None
    shown = ", ".join(f"{i.feature} {number(i.mean)}" for i in importance[:TOP_FEATURES])
    more = f" (+{len(importance) - TOP_FEATURES} more)" if len(importance) > TOP_FEATURES else ""
    return f"most important (permutation, on the holdout): {shown}{more}"


def segment_lines(segments: list[Segment]) -> list[str]:
    names = sorted({name for s in segments for name in (s.means or {})})
    rows = [["segment", "size", *(f"mean {n}" for n in names)]]
    for s in segments:
        rows.append([str(s.segment), f"{s.size:,}", *(number((s.means or {}).get(n)) for n in names)])
    return grid(rows)


def train_summary(report: TrainReport) -> None:
    """The result of a training, on stderr; its warnings last."""
    metrics = report.metrics
    version = f" v{report.version}" if report.version else ""
    console.say(
        f"model '{report.model}'{version}: {report.task} with {metrics.algorithm} on {report.table}, "
        f"trained in {report.seconds:.1f}s; holdout of {metrics.holdout.test_rows:,} rows "
        f"(trained on {metrics.holdout.train_rows:,})"
    )
    for line in metric_lines(metrics.metrics, metrics.baseline, metrics.cv):
        console.say("  " + line)
    top = importance_line(metrics.importance)
    if top:
        console.say(top)
    if metrics.segments:
        for line in segment_lines(metrics.segments):
            console.say("  " + line)
    for warning in report.warnings:
        console.warn(warning)


def predict_summary(report: PredictReport, display: str) -> None:
    what = f"{report.horizon} period(s) of forecast per series" if report.horizon else "predictions"
    version = f" v{report.version}" if report.version else ""
    console.say(
        f"wrote {report.rows:,} rows ({what}) of model '{report.model}'{version} on {report.table} "
        f"to {report.output_table} ({display})"
    )
    if report.trained_on_these_rows and report.task in ("classification", "regression"):
        console.warn(
            f"model '{report.model}' was trained on these very rows ({report.table} at its run of training): "
            "their predictions are no test of it; use `dataspoc-ml evaluate` on other data"
        )


def evaluate_summary(report: EvaluateReport) -> None:
    """The metrics on stdout; which model and table on stderr, with any warning."""
    version = f" v{report.version}" if report.version else ""
    console.say(f"model '{report.model}'{version} ({report.task}) on {report.table}: {report.rows:,} rows")
    for line in metric_lines(report.metrics, report.baseline):
        console.out(line)
    if report.beats_baseline is False and report.baseline is not None:
        name = report.main_metric
        console.warn(
            f"model '{report.model}' does not beat the baseline ({report.baseline.name}) on {report.table}: "
            f"{name} {number(report.metrics.get(name))} against {number(report.baseline.metrics.get(name))}"
        )
    if report.trained_on_these_rows:
        console.warn(
            f"model '{report.model}' was trained on these very rows ({report.table}): these metrics are optimistic"
        )


def explain_summary(report: ExplainReport) -> None:
    """The importance (or segments) and each row's contributions, on stdout."""
    version = f" v{report.version}" if report.version else ""
    console.say(f"model '{report.model}'{version}: {report.task} with {report.algorithm}")
    if report.importance:
        rows = [["feature", "importance", "std"]]
        rows += [[i.feature, number(i.mean), number(i.std)] for i in report.importance]
        for line in grid(rows):
            console.out(line)
    elif report.segments:
        for line in segment_lines(report.segments):
            console.out(line)
    else:
        console.say("no importance recorded for this model; retrain it to measure one")
    if report.rows:
        console.out("")
        console.out(f"contributions ({report.method}) to the {report.output}, rows of {report.table}:")
        for row in report.rows:
            console.out(
                f"row {row.row}: prediction {row.prediction!r}, {number(row.output)} = "
                f"reference {number(row.reference)} + contributions"
            )
            for name, value in row.contributions[:SHOWN_CONTRIBUTIONS]:
                console.out(f"  {name}  {value:+.4g}")
            hidden = len(row.contributions) - SHOWN_CONTRIBUTIONS
            if hidden > 0:
                rest = sum(v for _, v in row.contributions[SHOWN_CONTRIBUTIONS:])
                console.out(f"  ({hidden} more)  {rest:+.4g}")

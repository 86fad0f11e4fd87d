"""What the registry commands show: a version's summary, comparison rows, and their cells."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataspoc_ml.artifacts import ModelInfo


def main_metric(task: str, metrics: dict[str, float]) -> tuple[str, float | None]:
    """The task's main metric (tasks/) and its value; the first metric when it is missing."""
    from dataspoc_ml.tasks import Task
    from dataspoc_ml.tasks import main_metric as main_of

    name = main_of(task) if task in {t.value for t in Task} else ""
    if name in metrics:
        return name, metrics[name]
    if metrics:
        first = next(iter(metrics))
        return first, metrics[first]
    return "", None


def summary(info: ModelInfo) -> dict[str, Any]:
    metric, value = main_metric(info.metrics.task, info.metrics.metrics)
    baseline = info.metrics.baseline.metrics.get(metric) if info.metrics.baseline else None
    return {
        "model": info.name,
        "version": info.version,
        "promoted": info.promoted,
        "task": info.features.task,
        "target": info.features.target.name,
        "table": info.features.training_table.location,
        "table_run_id": info.features.training_table.run_id,
        "metric": metric,
        "value": value,
        "baseline": baseline,
        "beats_baseline": info.metrics.beats_baseline,
        "trained_at": info.metrics.trained_at.isoformat().replace("+00:00", "Z"),
    }


def metric_cell(row: dict[str, Any]) -> str:
    return f"{row['metric']}={row['value']:.3f}" if row.get("value") is not None else "-"


def baseline_cell(row: dict[str, Any]) -> str:
    if row.get("baseline") is None:
        return "-"
    flag = "" if row.get("beats_baseline") is not False else " (not beaten)"
    return f"{row['baseline']:.3f}{flag}"


def comparison(infos: list[ModelInfo]) -> dict[str, Any]:
    names: list[str] = []
    for info in infos:
        names += [n for n in info.metrics.metrics if n not in names]
    rows = []
    for info in infos:
        cv = info.metrics.cv.metrics if info.metrics.cv else {}
        baseline = info.metrics.baseline.metrics if info.metrics.baseline else {}
        rows.append(
            {
                "version": info.version,
                "promoted": info.promoted,
                "algorithm": info.metrics.algorithm,
                "trained_at": info.metrics.trained_at.isoformat().replace("+00:00", "Z"),
                "table_run_id": info.features.training_table.run_id,
                "metrics": dict(info.metrics.metrics),
                "baseline": dict(baseline),
                "cv": {k: {"mean": v.mean, "std": v.std} for k, v in cv.items()},
            }
        )
    return {"model": infos[0].name if infos else None, "metrics": names, "versions": rows}


def cell(row: dict[str, Any], metric: str) -> str:
    value = row["metrics"].get(metric)
    if value is None:
        return "-"
    spread = row["cv"].get(metric)
    return f"{value:.3f}" + (f" (cv {spread['mean']:.3f}±{spread['std']:.3f})" if spread else "")

"""`models` and the registry: what is trained, its versions, which one is promoted."""

from __future__ import annotations

from dataspoc_ml import console
from dataspoc_ml.cli import common as shared
from dataspoc_ml.cli.common import BucketOpt, DebugOpt, JsonOpt, command


@command("dataspoc-ml models --json")
def models(
    bucket: str | None = BucketOpt,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """List trained models with their task, target, main metric and training time."""
    from dataspoc_ml.artifacts import all_models
    from dataspoc_ml.evaluate import main_metric

    rows = []
    for info in all_models(shared.open_bucket(bucket)):
        metric, value = main_metric(info.metrics.task, info.metrics.metrics)
        rows.append(
            {
                "model": info.name,
                "task": info.features.task,
                "target": info.features.target.name,
                "table": info.features.training_table.location,
                "metric": metric,
                "value": value,
                "trained_at": info.metrics.trained_at.isoformat().replace("+00:00", "Z"),
            }
        )
    if as_json:
        shared.print_json(rows)
        return
    if not rows:
        console.say("no models yet; train one with 'dataspoc-ml train'")
        return
    header = ("MODEL", "TASK", "TARGET", "METRIC", "TRAINED_AT")
    lines: list[tuple[str, ...]] = [
        header,
        *(
            (
                str(r["model"]),
                str(r["task"]),
                str(r["target"]),
                f"{r['metric']}={r['value']:.3f}" if r["value"] is not None else "-",
                str(r["trained_at"]),
            )
            for r in rows
        ),
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        console.out("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())

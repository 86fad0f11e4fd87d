"""The model card (card.md): what a model is for, what trained it, how well it does against a
baseline, what it relies on, and where it stops being trustworthy. Generated from the version's
features.json and metrics.json, so it never disagrees with them."""

from __future__ import annotations

from dataspoc_ml.contract.models import Features, Metrics

MAX_IMPORTANCE = 10


def _number(value: float) -> str:
    return f"{value:.4g}"


def render(features: Features, metrics: Metrics) -> str:
    version = f" v{features.version}" if features.version else ""
    lines = [f"# Model card: {features.model}{version}", ""]
    lines += [features.description or "_No description: give one with `dataspoc-ml train --description`._", ""]
    table = features.training_table
    lines += [
        "## Model",
        "",
        f"- Task: {features.task}; estimator `{metrics.algorithm}`",
        f"- Target: `{features.target.name}` ({features.target.type})",
        f"- Features ({len(features.features)}): " + ", ".join(f"`{f.name}`" for f in features.features),
        f"- Trained: {features.trained_at.isoformat().replace('+00:00', 'Z')}",
    ]
    if features.options:
        lines.append("- Options: " + ", ".join(f"{k}={v}" for k, v in sorted(features.options.items())))
    lines += [
        "",
        "## Data and lineage",
        "",
        f"- Table: `{table.layer}.{table.namespace}.{table.name}` at run `{table.run_id}`",
    ]
    lineage = features.lineage
    if lineage is not None:
        lines.append(f"- {lineage.rows:,} rows in {len(lineage.files)} file(s), {lineage.partitions or 0} partition(s)")
        if lineage.runs:
            lines.append("- Produced by runs: " + ", ".join(f"`{r}`" for r in lineage.runs))
        if lineage.date_range and lineage.date_range.column:
            lines.append(f"- `{lineage.date_range.column}` from {lineage.date_range.min} to {lineage.date_range.max}")
        if lineage.libraries:
            lines.append("- Libraries: " + ", ".join(f"{k} {v}" for k, v in sorted(lineage.libraries.items())))
        if lineage.command:
            lines.append(f"- Command: `{lineage.command}`")
    holdout = metrics.holdout
    lines += [
        "",
        "## Evaluation",
        "",
        f"Holdout of {holdout.test_rows:,} rows ({holdout.fraction:.0%}), trained on {holdout.train_rows:,} rows, seed {holdout.seed}.",
        "",
    ]
    baseline = metrics.baseline.metrics if metrics.baseline else {}
    header = "| metric | model | baseline" + (f" ({metrics.baseline.name})" if metrics.baseline else "") + " |"
    cv = metrics.cv.metrics if metrics.cv else {}
    if cv:
        header += f" cross-validation ({metrics.cv.folds} folds) |" if metrics.cv else ""
    lines += [header, "| --- | --- | --- |" + (" --- |" if cv else "")]
    for name, value in metrics.metrics.items():
        row = f"| {name} | {_number(value)} | {_number(baseline[name]) if name in baseline else '—'} |"
        if cv:
            spread = cv.get(name)
            row += f" {_number(spread.mean)} ± {_number(spread.std)} |" if spread else " — |"
        lines.append(row)
    if metrics.beats_baseline is False:
        lines += ["", "**Warning: this model does not beat its baseline on the holdout.**"]
    if metrics.importance:
        lines += ["", "## What it relies on", "", "Permutation importance on the holdout (largest first):", ""]
        lines += [f"- `{i.feature}`: {_number(i.mean)} ± {_number(i.std)}" for i in metrics.importance[:MAX_IMPORTANCE]]
    if metrics.segments:
        lines += ["", "## Segments", ""]
        lines += [f"- segment {s.segment}: {s.size:,} rows" for s in metrics.segments]
    lines += ["", "## Limits", ""]
    lines.append(
        f"- Trained on {holdout.train_rows + holdout.test_rows:,} rows of one table; scores on other data may differ."
    )
    if features.target.kind in ("categorical", "boolean") and features.task == "classification":
        lines.append("- Predicts only the classes it saw in training.")
    if lineage is not None and lineage.date_range and lineage.date_range.max:
        lines.append(f"- Saw no data after {lineage.date_range.max}.")
    return "\n".join(lines) + "\n"

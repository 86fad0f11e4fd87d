"""The dataspoc-ml command line: parse, call the core, render. No logic here.

Heavy libraries (scikit-learn, pyarrow, pandas, numpy, joblib) are imported by the core
modules inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import typer

from dataspoc_ml import console, diagnostics
from dataspoc_ml.diagnostics import DEBUG_HELP, EXIT_CODES_HELP, epilog

app = typer.Typer(
    name="dataspoc-ml",
    help=(
        "Train scikit-learn models on tables of a DataSpoc bucket and publish predictions back to it.\n\n"
        "Example: dataspoc-ml train churn --table raw.crm.customers --target churned\n\n" + EXIT_CODES_HELP
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)

BUCKET_HELP = "Bucket URL (local path, s3://, gs://, az://, memory://). Default: $DATASPOC_BUCKET, else ./bucket."
BucketOpt = typer.Option(None, "--bucket", help=BUCKET_HELP, show_default=False)
JsonOpt = typer.Option(False, "--json", help="Print a JSON document on stdout.")
DebugOpt = typer.Option(False, "--debug", help=DEBUG_HELP)


def command(*examples: str) -> Callable[[Callable], Callable]:
    """Register a command: its --help ends with examples and the exit codes, and whatever ends
    it becomes one line on stderr and an exit code (diagnostics.py)."""
    return lambda fn: app.command(epilog=epilog(*examples))(diagnostics.reporting(fn))


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=diagnostics.show_version, is_eager=True, help="Show the version."
    ),
    debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP),
) -> None:
    """Global options."""


def _bucket(url: str | None):
    from dataspoc_ml.bucket import Bucket

    return Bucket(url or os.environ.get("DATASPOC_BUCKET") or "./bucket")


def _print_json(document) -> None:
    console.out(json.dumps(document, indent=2, ensure_ascii=False))


@command("dataspoc-ml train churn --table raw.crm.customers --target churned")
def train(
    model: str = typer.Argument(..., help="Model name: lowercase letters, digits, underscores.", show_default=False),
    table: str = typer.Option(
        ..., "--table", help="Training table: layer.namespace.name, namespace.name or name.", show_default=False
    ),
    target: str = typer.Option(..., "--target", help="Column to predict.", show_default=False),
    task: str = typer.Option("auto", "--task", help="auto, classification or regression."),
    test_size: float = typer.Option(0.2, "--test-size", help="Fraction of rows held out for the metrics."),
    seed: int = typer.Option(
        42, "--seed", min=0, max=2**32 - 1, help="Random seed for the split and the forest (0 to 2**32-1)."
    ),
    exclude: str = typer.Option(
        "", "--exclude", help="Comma-separated columns to leave out of the features.", show_default=False
    ),
    bucket: str | None = BucketOpt,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """Train a model on a table; write ml/models/MODEL/ (model.pkl, features.json, metrics.json)."""
    from dataspoc_ml.contract.models import dump
    from dataspoc_ml.evaluate import main_metric
    from dataspoc_ml.train import TrainOptions
    from dataspoc_ml.train import train as run_train

    opts = TrainOptions(
        model=model,
        table=table,
        target=target,
        task=task,
        test_size=test_size,
        seed=seed,
        exclude=tuple(c.strip() for c in exclude.split(",") if c.strip()),
    )
    metrics = run_train(_bucket(bucket), opts)
    scores = ", ".join(f"{k} {v:.3f}" for k, v in metrics.metrics.items())
    name, _ = main_metric(metrics.task, metrics.metrics)
    console.say(
        f"model '{model}' ({metrics.task}, main metric {name}): {scores} on {metrics.holdout.test_rows:,} holdout rows"
    )
    if as_json:
        _print_json(dump(metrics))


@command("dataspoc-ml predict churn --table raw.crm.customers")
def predict(
    model: str = typer.Argument(..., help="A trained model's name.", show_default=False),
    table: str | None = typer.Option(
        None, "--table", help="Table to score. Default: the model's training table.", show_default=False
    ),
    bucket: str | None = BucketOpt,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """Score a table; publish ml/predictions/MODEL as table ml.predictions.MODEL."""
    from dataspoc_ml.predict import predict as run_predict

    result = run_predict(_bucket(bucket), model, table)
    if as_json:
        _print_json(result.as_dict())


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
    for info in all_models(_bucket(bucket)):
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
        _print_json(rows)
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


def main(argv: list[str] | None = None) -> None:
    diagnostics.run(app, argv)


if __name__ == "__main__":
    main()

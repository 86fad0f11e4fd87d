"""`train` and `predict`: fitting models and scoring tables."""

from __future__ import annotations

import typer

from dataspoc_ml import console
from dataspoc_ml.cli import common as shared
from dataspoc_ml.cli.common import BucketOpt, DebugOpt, JsonOpt, command


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
    metrics = run_train(shared.open_bucket(bucket), opts)
    scores = ", ".join(f"{k} {v:.3f}" for k, v in metrics.metrics.items())
    name, _ = main_metric(metrics.task, metrics.metrics)
    console.say(
        f"model '{model}' ({metrics.task}, main metric {name}): {scores} on {metrics.holdout.test_rows:,} holdout rows"
    )
    if as_json:
        shared.print_json(dump(metrics))


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

    result = run_predict(shared.open_bucket(bucket), model, table)
    if as_json:
        shared.print_json(result.as_dict())

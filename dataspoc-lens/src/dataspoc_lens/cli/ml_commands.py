"""`ml train|predict`: dataspoc-ml on the same bucket, as a command."""

from __future__ import annotations

from typing import Annotated

import typer

from dataspoc_lens.cli.app import (
    BucketOption,
    DebugOption,
    ml_command,
    resolve,
)
from dataspoc_lens.console import say


@ml_command("dataspoc-lens ml predict churn --table curated.crm.customers")
def predict(
    model: Annotated[str, typer.Argument(help="The model's name, e.g. churn.")],
    table: Annotated[str, typer.Option("--table", help="The table to score, e.g. curated.crm.customers.")],
    bucket: BucketOption = "./bucket",
    debug: DebugOption = False,
) -> None:
    """Score a table with a trained model; predictions land in ml.predictions.MODEL."""
    from dataspoc_lens import mlbridge

    code = mlbridge.predict(model, table, resolve(bucket))
    if code == 0:
        say(f"query the predictions with: dataspoc-lens query 'SELECT * FROM ml.predictions.{model} LIMIT 10'")
    raise typer.Exit(code)


@ml_command("dataspoc-lens ml train churn --table curated.crm.customers --target churned")
def train(
    model: Annotated[str, typer.Argument(help="The model's name, e.g. churn.")],
    table: Annotated[str, typer.Option("--table", help="The training table, e.g. curated.crm.customers.")],
    target: Annotated[str, typer.Option("--target", help="The column to predict.")],
    bucket: BucketOption = "./bucket",
    debug: DebugOption = False,
) -> None:
    """Train a model on a table with dataspoc-ml."""
    from dataspoc_lens import mlbridge

    raise typer.Exit(mlbridge.train(model, table, target, resolve(bucket)))

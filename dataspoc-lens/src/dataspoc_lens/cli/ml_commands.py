"""`ml train|predict|evaluate|models|show`: dataspoc-ml on the same bucket, as commands.

Each declares what Lens itself needs and passes every other option on to dataspoc-ml untouched
(`dataspoc-lens ml train churn --table t --target y --estimator rf --cv 5`), so the two CLIs
never drift apart option by option.
"""

from __future__ import annotations

from typing import Annotated

import typer

from dataspoc_lens.cli.app import (
    BucketOption,
    DebugOption,
    ml_command,
    resolve,
)
from dataspoc_lens.console import say, warn

ModelArgument = Annotated[str, typer.Argument(help="The model's name, e.g. churn.")]


def _run(args: list[str], bucket: str) -> None:
    from dataspoc_lens import mlbridge

    raise typer.Exit(mlbridge.run(args, resolve(bucket)))


@ml_command(
    "dataspoc-lens ml predict churn --table curated.crm.customers",
    "dataspoc-lens ml predict churn --table curated.crm.customers --version 2",
    "dataspoc-lens ml predict churn --table curated.crm.customers --key customer_id --output-table churn_today",
)
def predict(
    ctx: typer.Context,
    model: ModelArgument,
    table: Annotated[str, typer.Option("--table", help="The table to score, e.g. curated.crm.customers.")],
    bucket: BucketOption = "./bucket",
    debug: DebugOption = False,
) -> None:
    """Score a table with a trained model; the predictions are at once queryable as
    ml.predictions.MODEL (or --output-table): Lens re-reads the catalog and refreshes a cached
    copy of the table. Other dataspoc-ml options (`--key a,b`, `--output-table NAME`, ...) are
    passed on as they are."""
    from dataspoc_lens import mlbridge

    url = resolve(bucket)
    code = mlbridge.run(["predict", model, "--table", table, *ctx.args], url)
    if code == 0:
        name = mlbridge.output_table(model, ctx.args)
        published = mlbridge.after_predict(url, name)
        if published is None:
            warn(
                f"{name} is not in the bucket's manifest after dataspoc-ml predict; `dataspoc-lens catalog` lists the tables"
            )
        else:
            say(f"query the predictions with: dataspoc-lens query 'SELECT * FROM {name} LIMIT 10'")
    raise typer.Exit(code)


@ml_command(
    "dataspoc-lens ml train churn --table curated.crm.customers --target churned",
    "dataspoc-lens ml train churn --table curated.crm.customers --target churned --estimator rf --cv 5",
)
def train(
    ctx: typer.Context,
    model: ModelArgument,
    table: Annotated[str, typer.Option("--table", help="The training table, e.g. curated.crm.customers.")],
    target: Annotated[str | None, typer.Option("--target", help="The column to predict (not for clustering).")] = None,
    bucket: BucketOption = "./bucket",
    debug: DebugOption = False,
) -> None:
    """Train a model on a table with dataspoc-ml: a new version in its registry. Other
    dataspoc-ml options (`--task`, `--estimator`, `--cv`, ...) are passed on as they are."""
    _run(["train", model, "--table", table, *(["--target", target] if target else []), *ctx.args], bucket)


@ml_command("dataspoc-lens ml evaluate churn --table gold.sales.customers_2026")
def evaluate(
    ctx: typer.Context,
    model: ModelArgument,
    table: Annotated[str, typer.Option("--table", help="The table to measure the model on.")],
    bucket: BucketOption = "./bucket",
    debug: DebugOption = False,
) -> None:
    """The metrics of a model on another table, beside its baseline. Other dataspoc-ml options
    (`--version N`, `--json`) are passed on as they are."""
    _run(["evaluate", model, "--table", table, *ctx.args], bucket)


@ml_command("dataspoc-lens ml models", "dataspoc-lens ml models --json")
def models(ctx: typer.Context, bucket: BucketOption = "./bucket", debug: DebugOption = False) -> None:
    """The bucket's trained models, each with its promoted version and main metric (`--json`
    is passed on)."""
    _run(["models", *ctx.args], bucket)


@ml_command("dataspoc-lens ml show churn", "dataspoc-lens ml show churn --version 1 --json")
def show(
    ctx: typer.Context, model: ModelArgument, bucket: BucketOption = "./bucket", debug: DebugOption = False
) -> None:
    """A model version's card: what trained it, its metrics beside the baseline, its limits
    (`--version N`, `--json` are passed on)."""
    _run(["show", model, *ctx.args], bucket)

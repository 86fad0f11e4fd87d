"""`train`, `predict`, `evaluate` and `explain`: fitting models, scoring tables, and saying why."""

from __future__ import annotations

import sys

import typer

from dataspoc_ml.cli import common as shared
from dataspoc_ml.cli.common import BucketOpt, DebugOpt, JsonOpt, command


def names(value: str | None) -> tuple[str, ...]:
    """A comma-separated list of column names."""
    return tuple(c.strip() for c in (value or "").split(",") if c.strip())


TASK_HELP = (
    "auto, classification, regression, forecast or clustering. auto: forecast when --time is given, else "
    "classification for a bool or string target or an integer one with at most 20 values, else regression."
)
ESTIMATOR_HELP = (
    "hgb (HistGradientBoosting), rf (random forest) or linear (LogisticRegression / Ridge). "
    "Classification, regression and forecast."
)
VersionOpt = typer.Option(
    None,
    "--version",
    min=1,
    help="A version of the model (see `versions`). Default: the promoted one.",
    show_default=False,
)


@command(
    "dataspoc-ml train churn --table raw.crm.customers --target churned",
    "dataspoc-ml train churn --table raw.crm.customers --target churned --estimator rf --class-weight balanced --cv 5",
    "dataspoc-ml train ltv --table crm.customers --target lifetime_value --exclude churned --search 20 --time-budget 300",
    "dataspoc-ml train sales --table gold.shop.daily --target revenue --time day --by store_id --freq D --horizon 14",
    "dataspoc-ml train segments --table raw.crm.customers --task clustering --exclude customer_id,churned",
)
def train(
    model: str = typer.Argument(..., help="Model name: lowercase letters, digits, underscores.", show_default=False),
    table: str = typer.Option(
        ..., "--table", help="Training table: layer.namespace.name, namespace.name or name.", show_default=False
    ),
    target: str | None = typer.Option(
        None, "--target", help="Column to predict (none for clustering).", show_default=False
    ),
    task: str = typer.Option("auto", "--task", help=TASK_HELP),
    estimator: str = typer.Option("hgb", "--estimator", help=ESTIMATOR_HELP),
    class_weight: str | None = typer.Option(
        None, "--class-weight", help="balanced: weigh classes inversely to their frequency.", show_default=False
    ),
    features: str | None = typer.Option(
        None,
        "--features",
        help="Comma-separated columns to learn from. Default: all but the target.",
        show_default=False,
    ),
    exclude: str | None = typer.Option(
        None, "--exclude", help="Comma-separated columns to leave out of the features.", show_default=False
    ),
    exclude_ids: bool = typer.Option(
        False, "--exclude-ids", help="Leave out columns named id or uuid, or ending in _id or _uuid."
    ),
    cv: int = typer.Option(0, "--cv", help="K-fold cross-validation on the training rows (2-20 folds; 0: none)."),
    search: int = typer.Option(
        0, "--search", min=0, help="Random search: try the defaults and N parameter sets (0: no search)."
    ),
    time_budget: float | None = typer.Option(
        None, "--time-budget", help="Stop the search after this many seconds.", show_default=False
    ),
    test_size: float = typer.Option(0.2, "--test-size", help="Fraction of rows (forecast: of periods) held out."),
    seed: int = typer.Option(
        42, "--seed", min=0, max=2**32 - 1, help="Random seed for the split and the estimator (0 to 2**32-1)."
    ),
    time: str | None = typer.Option(
        None, "--time", help="Forecast: the date or timestamp column of the series.", show_default=False
    ),
    by: str | None = typer.Option(
        None, "--by", help="Forecast: comma-separated columns that key each series, e.g. store_id.", show_default=False
    ),
    freq: str | None = typer.Option(
        None, "--freq", help="Forecast: D, W or M periods. [default: D]", show_default=False
    ),
    horizon: int | None = typer.Option(
        None,
        "--horizon",
        help="Forecast: periods predict writes per series. [default: 7 days, 13 weeks, 12 months]",
        show_default=False,
    ),
    k: int | None = typer.Option(
        None,
        "--k",
        help="Clustering: the number of segments. Default: chosen from 2-10 by silhouette.",
        show_default=False,
    ),
    description: str | None = typer.Option(
        None,
        "--description",
        help="What the model is for (kept in features.json and the model card).",
        show_default=False,
    ),
    bucket: str | None = BucketOpt,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """Train a model on a table and add it to the registry as a new version.

    Every metric is shown beside a baseline's (majority class, mean, seasonal naive, random
    segments); a warning says when the model does not beat it. --json prints metrics.json.
    """
    from dataspoc_ml import render
    from dataspoc_ml.contract.models import dump
    from dataspoc_ml.train import TrainOptions
    from dataspoc_ml.train import train as run_train

    opts = TrainOptions(
        model=model,
        table=table,
        target=target,
        task=task,
        estimator=estimator,
        class_weight=class_weight,
        features=names(features),
        exclude=names(exclude),
        exclude_ids=exclude_ids,
        cv=cv,
        search=search,
        time_budget=time_budget,
        test_size=test_size,
        seed=seed,
        time=time,
        by=names(by),
        freq=freq,
        horizon=horizon,
        k=k,
        description=description,
        argv=list(sys.argv),
    )
    with render.Narration() as progress:
        report = run_train(shared.open_bucket(bucket), opts, progress)
    render.train_summary(report)
    if as_json:
        shared.print_json(dump(report.metrics))


@command(
    "dataspoc-ml predict churn --table raw.crm.customers",
    "dataspoc-ml predict churn --table raw.crm.customers --key customer_id --output-table churn_today",
    "dataspoc-ml predict sales --horizon 28",
)
def predict(
    model: str = typer.Argument(..., help="A trained model's name.", show_default=False),
    table: str | None = typer.Option(
        None, "--table", help="Table to score. Default: the model's training table.", show_default=False
    ),
    horizon: int | None = typer.Option(
        None, "--horizon", help="Forecast models: periods per series. Default: the model's.", show_default=False
    ),
    version: int | None = VersionOpt,
    key: str | None = typer.Option(
        None,
        "--key",
        help="Input columns to keep beside each prediction (a,b). Default: the table's primary key, else every column.",
        show_default=False,
    ),
    output_table: str | None = typer.Option(
        None,
        "--output-table",
        help="Publish ml.predictions.NAME instead of ml.predictions.MODEL.",
        show_default=False,
    ),
    bucket: str | None = BucketOpt,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """Score a table with the model's promoted version (or --version N); publish ml/predictions/MODEL as table
    ml.predictions.MODEL (or --output-table).

    Each row: the key columns, then prediction (and probability for two classes, probabilities
    per class for more), or segment for clustering; a forecast model writes the next --horizon
    periods of each series instead (series key, time, prediction, lower, upper). Every row also
    carries model_version and run_id. The input is read in batches, so memory stays flat. A
    warning says when the table is the one the model was trained on.
    """
    from dataspoc_ml import render
    from dataspoc_ml.predict import predict as run_predict

    opened = shared.open_bucket(bucket)
    with render.Narration() as progress:
        keys = [c.strip() for c in key.split(",") if c.strip()] if key else None
        report = run_predict(
            opened,
            model,
            table,
            horizon=horizon,
            progress=progress,
            key=keys,
            output_table=output_table,
            version=version,
        )
    render.predict_summary(report, opened.display(report.path))
    if as_json:
        shared.print_json(report.as_dict())


@command(
    "dataspoc-ml evaluate churn --table raw.crm.customers_2027",
    "dataspoc-ml evaluate churn --table raw.crm.customers_2027 --version 3 --json",
)
def evaluate(
    model: str = typer.Argument(..., help="A trained model's name.", show_default=False),
    table: str | None = typer.Option(
        None, "--table", help="Table with the true values. Default: the model's training table.", show_default=False
    ),
    version: int | None = VersionOpt,
    bucket: str | None = BucketOpt,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """Score a model on a table that holds the true values: its metrics beside the baseline's."""
    from dataspoc_ml import render
    from dataspoc_ml.evaluate import evaluate as run_evaluate

    with render.Narration() as progress:
        report = run_evaluate(shared.open_bucket(bucket), model, table, version=version, progress=progress)
    if as_json:
        shared.print_json(report.as_dict())
    else:
        render.evaluate_summary(report)


@command(
    "dataspoc-ml explain churn",
    "dataspoc-ml explain churn --rows 5 --table raw.crm.customers --json",
)
def explain(
    model: str = typer.Argument(..., help="A trained model's name.", show_default=False),
    rows: int = typer.Option(
        0, "--rows", help="Also split the predictions of the first N rows into per-feature contributions (1-1000)."
    ),
    table: str | None = typer.Option(
        None, "--table", help="Table whose rows --rows explains. Default: the training table.", show_default=False
    ),
    version: int | None = VersionOpt,
    bucket: str | None = BucketOpt,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """What a model relies on: the permutation importance measured at training (a clustering
    model: its segments), and with --rows each row's prediction split by feature (linear models:
    coefficient x value; tree models: a break-down from a reference row, see docs/ml.md)."""
    from dataspoc_ml import render
    from dataspoc_ml.explain import explain as run_explain

    with render.Narration() as progress:
        report = run_explain(
            shared.open_bucket(bucket), model, version=version, rows=rows, table_ref=table, progress=progress
        )
    if as_json:
        shared.print_json(report.as_dict())
    else:
        render.explain_summary(report)

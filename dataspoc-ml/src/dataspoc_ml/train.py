"""Train a model on a table and publish it to the registry (artifacts.save), in four steps:

    resolve  the options, the table, its schema -> the features and the target (a Plan)
    read     the columns needed, the rows with a target -> a Dataset; the task when --task auto
    fit      the task's own fit (tasks/): split, fit, score against the baseline, cv, importance
    publish  features.json, metrics.json and model.pkl as a new version -> a TrainReport

Nothing here prints: narration goes to a Progress, the result comes back as a TrainReport, and
the CLI renders both (render.py).
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataspoc_ml import artifacts, catalog, datasets
from dataspoc_ml.bucket import Bucket
from dataspoc_ml.contract import CONTRACT_VERSION
from dataspoc_ml.contract.models import Feature, Features, Metrics, Table
from dataspoc_ml.errors import DataError, UnknownColumn, UsageError
from dataspoc_ml.tasks import (
    ESTIMATORS,
    FREQUENCIES,
    Dataset,
    Fitted,
    Progress,
    Settings,
    Task,
    beats,
    spec,
    threads_for,
)

if TYPE_CHECKING:
    import pyarrow as pa

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
ID_RE = re.compile(r"^(id|uuid)$|_(id|uuid)$", re.IGNORECASE)
MIN_ROWS = 10
MIN_TEST_ROWS = 5
MAX_SEED = 2**32 - 1
MAX_CLASSES_FOR_INTEGER = 20
MAX_CV = 20
MAX_K = 100
TASKS = ("auto", *(t.value for t in Task))
CLASS_WEIGHTS = ("balanced",)


@dataclass
class TrainOptions:
    model: str
    table: str
    target: str | None = None
    task: str = "auto"
    estimator: str = "hgb"
    class_weight: str | None = None
    features: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    exclude_ids: bool = False
    cv: int = 0
    search: int = 0
    time_budget: float | None = None
    test_size: float = 0.2
    seed: int = 42
    time: str | None = None
    by: tuple[str, ...] = ()
    freq: str | None = None
    horizon: int | None = None
    k: int | None = None
    description: str | None = None
    argv: list[str] | None = None  # the command line, for the model's lineage

    def settings(self) -> Settings:
        return Settings(
            estimator=self.estimator,
            class_weight=self.class_weight,
            cv=self.cv,
            search=self.search,
            time_budget=self.time_budget,
            test_size=self.test_size,
            seed=self.seed,
            time=self.time,
            by=self.by,
            freq=self.freq or "D",
            horizon=self.horizon,
            k=self.k,
        )


@dataclass
class Plan:
    """What a training will read and how: the outcome of resolve()."""

    opts: TrainOptions
    table: Table
    schema: pa.Schema
    task: Task | None  # None: --task auto, decided from the target's values
    features: list[Feature]
    target: Feature | None


@dataclass
class TrainReport:
    model: str
    version: int
    table: str
    features: Features
    metrics: Metrics
    seconds: float
    steps: list[tuple[str, float]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # the verdict: baseline not beaten, negative R²

    @property
    def task(self) -> str:
        return self.metrics.task


def check_model_name(name: str, what: str = "model name") -> None:
    if not NAME_RE.match(name):
        raise UsageError(
            f"bad {what} '{name}': use a lowercase letter, then lowercase letters, digits or "
            "underscores (at most 63 characters), e.g. churn_v2"
        )


# resolve -------------------------------------------------------------------------------------
def requested_task(opts: TrainOptions) -> Task | None:
    """The task the options ask for (None: decide from the target); checks the options fit it."""
    check_model_name(opts.model)
    if opts.task not in TASKS:
        raise UsageError(f"unknown --task '{opts.task}'; use one of: {', '.join(TASKS)}")
    if not 0 < opts.test_size < 1:
        raise UsageError(f"--test-size must be between 0 and 1 (exclusive), not {opts.test_size}")
    if not 0 <= opts.seed <= MAX_SEED:
        raise UsageError(f"--seed must be between 0 and {MAX_SEED}, not {opts.seed}")
    if opts.estimator not in ESTIMATORS:
        raise UsageError(f"unknown --estimator '{opts.estimator}'; use one of: {', '.join(ESTIMATORS)}")
    if opts.class_weight is not None and opts.class_weight not in CLASS_WEIGHTS:
        raise UsageError(f"unknown --class-weight '{opts.class_weight}'; use: {', '.join(CLASS_WEIGHTS)}")
    if opts.cv and not 2 <= opts.cv <= MAX_CV:
        raise UsageError(f"--cv {opts.cv}: use 2 to {MAX_CV} folds, or 0 for no cross-validation")
    if opts.search < 0:
        raise UsageError(f"--search {opts.search}: give the number of parameter sets to try (0: no search)")
    if opts.time_budget is not None:
        if opts.time_budget <= 0:
            raise UsageError(f"--time-budget {opts.time_budget:g}: give a number of seconds above 0")
        if not opts.search:
            raise UsageError("--time-budget bounds a search: give --search N too")
    if opts.freq is not None and opts.freq not in FREQUENCIES:
        raise UsageError(f"unknown --freq '{opts.freq}'; use D (days), W (weeks) or M (months)")
    if opts.horizon is not None and opts.horizon < 1:
        raise UsageError(f"--horizon {opts.horizon}: give the number of periods to forecast, 1 or more")
    if opts.k is not None and not 2 <= opts.k <= MAX_K:
        raise UsageError(f"--k {opts.k}: give 2 to {MAX_K} segments, or leave --k out to choose k by silhouette")

    task = None if opts.task == "auto" else Task(opts.task)
    if task is None and opts.time:
        task = Task.FORECAST
    forecast_only = [name for name, given in (("--time", opts.time), ("--by", opts.by), ("--freq", opts.freq),
                                               ("--horizon", opts.horizon)) if given]  # fmt: skip
    if task != Task.FORECAST and forecast_only:
        raise UsageError(f"{', '.join(forecast_only)} apply to forecasts: add --task forecast, or leave them out")
    if task != Task.CLUSTERING and opts.k is not None:
        raise UsageError("--k applies to clustering: add --task clustering, or leave --k out")
    if task == Task.CLUSTERING:
        if opts.target:
            raise UsageError(
                f"--task clustering learns segments without a target: leave out --target '{opts.target}' "
                "(--exclude keeps a column out of the segments)"
            )
        for name, given in (("--class-weight", opts.class_weight), ("--cv", opts.cv), ("--search", opts.search)):
            if given:
                raise UsageError(f"{name} does not apply to clustering; leave it out (without --k, k is searched)")
        if opts.estimator != "hgb":
            raise UsageError("--estimator does not apply to clustering, which is k-means; leave it out")
        return task
    if not opts.target:
        raise UsageError("give --target COLUMN, the column to predict (or --task clustering for segments)")
    if task == Task.FORECAST:
        if not opts.time:
            raise UsageError("--task forecast needs --time COLUMN, the date or timestamp column of the series")
        if opts.features or opts.exclude or opts.exclude_ids:
            raise UsageError(
                "--features and --exclude do not apply to forecasts, which learn from the target's history, "
                "the calendar and --by"
            )
    if task in (Task.REGRESSION, Task.FORECAST) and opts.class_weight:
        raise UsageError(f"--class-weight applies to classification, not {task.value}")
    return task


def _unknown(option: str, names: list[str], table: Table) -> UnknownColumn:
    return UnknownColumn(
        f"{option} names column(s) not in table {table.ref}: {', '.join(names)}; "
        f"its columns: {', '.join(table.column_names)}"
    )


def _feature(schema: pa.Schema, name: str) -> Feature | None:
    field_ = schema.field(name)
    kind = datasets.kind_of(field_.type)
    return Feature.model_validate({"name": name, "type": str(field_.type), "kind": kind}) if kind else None


def resolve(bucket: Bucket, opts: TrainOptions, progress: Progress) -> Plan:
    task = requested_task(opts)
    bucket.check_exists()  # a missing bucket must not look like one without tables
    table = catalog.resolve(catalog.load(bucket), opts.table, bucket)
    available = set(table.column_names)
    if opts.target and opts.target not in available:
        raise UnknownColumn(
            f"no column '{opts.target}' in table {table.ref}; its columns: {', '.join(table.column_names)}"
        )
    for option, names in (
        ("--features", list(opts.features)),
        ("--exclude", list(opts.exclude)),
        ("--time", [opts.time] if opts.time else []),
        ("--by", list(opts.by)),
    ):
        missing = [n for n in names if n not in available]
        if missing:
            raise _unknown(option, missing, table)
    schema = datasets.schema_of(bucket, table)
    target = None
    if opts.target:
        target = _feature(schema, opts.target)
        if target is None:
            raise UsageError(
                f"target column '{opts.target}' has type {schema.field(opts.target).type}, which cannot be learned; "
                "choose another --target"
            )

    if task == Task.FORECAST:
        assert opts.time is not None and target is not None
        clash = {opts.time, opts.target} & set(opts.by)
        if clash or opts.time == opts.target:
            raise UsageError(
                f"--time, --target and --by must be different columns; '{(clash or {opts.time}).pop()}' is repeated"
            )
        time = _feature(schema, opts.time)
        if time is None or time.kind != "datetime":
            raise UsageError(
                f"--time column '{opts.time}' of table {table.ref} is {schema.field(opts.time).type}, "
                "not a date or a timestamp; choose the column that dates each row"
            )
        if target.kind != "numeric":
            raise UsageError(
                f"--task forecast needs a numeric --target; column '{opts.target}' is {target.type}: "
                "forecast a number, or use --task classification"
            )
        by = []
        for name in opts.by:
            key = _feature(schema, name)
            if key is None:
                raise UsageError(f"--by column '{name}' has type {schema.field(name).type}, which cannot key a series")
            by.append(key)
        return Plan(opts=opts, table=table, schema=schema, task=task, features=[time, *by], target=target)

    if target is not None:
        check_task(task, target, schema.field(target.name).type)
    wanted = list(opts.features) if opts.features else [f.name for f in schema if f.name not in table.partition_by]
    skipped = set(opts.exclude) | ({opts.target} if opts.target else set())
    if opts.exclude_ids:
        skipped |= {name for name in wanted if ID_RE.search(name)}
    features = []
    for name in wanted:
        if name in skipped:
            continue
        feature = _feature(schema, name)
        if feature is None:
            if opts.features:
                raise UsageError(
                    f"--features names column '{name}' ({schema.field(name).type}), which a model cannot learn from; "
                    "leave it out"
                )
            progress.warn(
                f"column '{name}' ({schema.field(name).type}) is not used: a model cannot learn from that type"
            )
            continue
        features.append(feature)
    if not features:
        left_out = ", ".join(sorted(skipped | set(table.partition_by))) or "nothing"
        raise UsageError(f"no feature columns left in table {table.ref} after leaving out {left_out}")
    return Plan(opts=opts, table=table, schema=schema, task=task, features=features, target=target)


# read ----------------------------------------------------------------------------------------
def check_task(requested: Task | None, target: Feature, arrow_type: pa.DataType) -> None:
    """An explicit --task classification or regression must suit the target's type."""
    import pyarrow as pa

    value_type = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    if target.kind == "datetime":
        raise UsageError(
            f"target column '{target.name}' is a {arrow_type}, which a model does not predict; choose a number, a "
            "category or a flag as --target (to forecast a number over time, give the date as --time)"
        )
    if requested == Task.REGRESSION and target.kind != "numeric":
        raise UsageError(
            f"--task regression needs a numeric target; '{target.name}' is {target.kind}: "
            "use --task classification or another --target"
        )
    if requested == Task.CLASSIFICATION and not (
        target.kind in ("boolean", "categorical") or pa.types.is_integer(value_type)
    ):
        raise UsageError(
            f"--task classification needs a bool, string or integer target; column '{target.name}' is "
            f"{arrow_type}: use --task regression or another --target"
        )


def choose_task(requested: Task | None, target: Feature, values: Any) -> Task:
    """The task asked for, or for --task auto the one the target's values suggest."""
    import pyarrow as pa

    if requested is not None:
        return requested
    if target.kind in ("boolean", "categorical"):
        return Task.CLASSIFICATION
    value_type = values.type.value_type if pa.types.is_dictionary(values.type) else values.type
    if pa.types.is_integer(value_type) and len(values.unique()) <= MAX_CLASSES_FOR_INTEGER:
        return Task.CLASSIFICATION
    return Task.REGRESSION


def _check_split(rows: int, test_size: float, table_ref: str) -> None:
    """The holdout split must leave rows to train on and enough rows to score."""
    test_rows = math.ceil(test_size * rows)  # as scikit-learn's train_test_split counts
    if test_rows < MIN_TEST_ROWS:
        raise DataError(
            f"--test-size {test_size} holds out {test_rows} of the {rows} usable rows of table {table_ref}; "
            f"the metrics need at least {MIN_TEST_ROWS}: raise --test-size"
        )
    if rows - test_rows < 1:
        raise DataError(
            f"--test-size {test_size} leaves no rows of the {rows} usable rows of table {table_ref} "
            "to train on: lower --test-size"
        )


def target_array(column: Any, kind: str | None) -> Any:
    """The target as a numpy array: bool, int64, float64 or str values."""
    import numpy as np
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if kind == "categorical":
        return np.array(column.cast(pa.string()).to_pylist(), dtype=object)
    if kind == "numeric" and pa.types.is_decimal(column.type):
        column = column.cast(pa.float64())
    return column.to_numpy(zero_copy_only=False)


def drop_missing(data: pa.Table, column: str) -> tuple[pa.Table, int]:
    """The rows whose `column` has a value (not null, not NaN), and how many were dropped."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = data.column(column)
    if not data.num_rows:
        return data, 0
    keep = pc.is_valid(values)
    if pa.types.is_floating(values.type):
        keep = pc.and_(keep, pc.invert(pc.is_nan(values)))  # NaN is no value either
    keep = pc.fill_null(keep, False)
    dropped = data.num_rows - pc.sum(keep).as_py()
    return (data.filter(keep), dropped) if dropped else (data, 0)


def read(bucket: Bucket, plan: Plan, progress: Progress) -> tuple[Dataset, Task]:
    table, opts = plan.table, plan.opts
    target = plan.target
    columns = [f.name for f in plan.features] + ([target.name] if target else [])
    progress.step(f"reading {table.ref}: {table.row_count:,} rows in {table.file_count:,} file(s)")
    data = datasets.read_table(bucket, table, columns=columns, on_rows=lambda n: progress.rows(n, table.row_count))
    if target is not None:
        data, dropped = drop_missing(data, target.name)
        if dropped:
            progress.note(f"dropped {dropped:,} rows with no value in target '{target.name}'")
    if plan.task == Task.FORECAST and opts.time:
        data, dropped = drop_missing(data, opts.time)
        if dropped:
            progress.note(f"dropped {dropped:,} rows with no value in --time column '{opts.time}'")
    if data.num_rows < MIN_ROWS:
        raise DataError(f"table {table.ref} has {data.num_rows} usable rows; training needs at least {MIN_ROWS}")

    if plan.task == Task.CLUSTERING:
        task, y = Task.CLUSTERING, None
    else:
        assert target is not None
        values = data.column(target.name).combine_chunks()
        task = choose_task(plan.task, target, values)
        y = target_array(values, target.kind)
        if task == Task.CLASSIFICATION and len(set(y.tolist())) < 2:
            raise DataError(
                f"target '{target.name}' in table {table.ref} has a single class ({y[0]!r}); "
                "classification needs two or more"
            )
        if opts.class_weight and task != Task.CLASSIFICATION:
            raise UsageError(f"--class-weight applies to classification; '{target.name}' makes this {task.value}")
    if task != Task.FORECAST:
        _check_split(data.num_rows, opts.test_size, table.ref)

    features = list(plan.features)
    if task == Task.FORECAST:
        assert target is not None
        frame = datasets.to_frame(data, [*features, target], table.ref)
    else:
        frame = datasets.to_frame(data, features, table.ref)
        empty = [f.name for f in features if bool(frame[f.name].isna().all())]
        for name in empty:
            progress.warn(f"column '{name}' of table {table.ref} is not used: it has no values (all null or NaN)")
        if empty:
            features = [f for f in features if f.name not in empty]
            if not features:
                raise DataError(
                    f"every feature column of table {table.ref} is empty (all null or NaN); nothing to learn from"
                )
            frame = frame[[f.name for f in features]]
    return Dataset(table=table.ref, frame=frame, features=features, target=target, y=y), task


# fit -----------------------------------------------------------------------------------------
def fit(task: Task, data: Dataset, settings: Settings, progress: Progress) -> Fitted:
    with warnings.catch_warnings(), threads_for(data.rows):
        warnings.simplefilter("ignore")  # scikit-learn's warnings are noise on a user's stderr
        return spec(task).fit(data, settings, progress)


def verdict(task: Task, model: str, metrics: Metrics) -> list[str]:
    """One line for each reason not to trust the model as it stands."""
    lines = []
    name = spec(task).main_metric
    if metrics.beats_baseline is False and metrics.baseline is not None:
        ours, theirs = metrics.metrics.get(name), metrics.baseline.metrics.get(name)
        lines.append(
            f"model '{model}' does not beat the baseline ({metrics.baseline.name}) on the holdout: "
            f"{name} {ours:.4g} against {theirs:.4g}; look at the features and the data before using it"
        )
    r2 = metrics.metrics.get("r2")
    if task == Task.REGRESSION and r2 is not None and r2 < 0:
        lines.append(f"R² on the holdout is {r2:.3f}: model '{model}' predicts worse than the mean of the target")
    return lines


# publish -------------------------------------------------------------------------------------
def publish(
    bucket: Bucket, plan: Plan, task: Task, data: Dataset, fitted: Fitted, progress: Progress
) -> tuple[int, Features, Metrics]:
    from dataspoc_ml.tasks.clustering import SEGMENT

    opts, table = plan.opts, plan.table
    progress.step(f"publishing model '{opts.model}'")
    trained_at = catalog.iso(catalog.now_utc())
    target = SEGMENT if task == Task.CLUSTERING else data.target
    assert target is not None
    features_doc = Features.model_validate(
        {
            "contract_version": CONTRACT_VERSION,
            "model": opts.model,
            "task": task.value,
            "target": target,
            "features": data.features,
            "training_table": {
                "layer": table.layer,
                "namespace": table.namespace,
                "name": table.name,
                "location": table.location,
                "run_id": table.last_run_id,
            },
            "trained_at": trained_at,
            "description": opts.description,
            "options": opts.settings().options(task) | fitted.options,
        }
    )
    metrics_doc = Metrics.model_validate(
        {
            "contract_version": CONTRACT_VERSION,
            "model": opts.model,
            "task": task.value,
            "algorithm": fitted.algorithm,
            "holdout": {
                "fraction": float(opts.test_size),
                "train_rows": fitted.train_rows,
                "test_rows": fitted.test_rows,
                "seed": opts.seed,
            },
            "metrics": fitted.metrics,
            "trained_at": trained_at,
            "baseline": fitted.baseline,
            "beats_baseline": beats(task, fitted.metrics, fitted.baseline),
            "cv": fitted.cv,
            "importance": fitted.importance,
            "segments": fitted.segments,
        }
    )
    version = artifacts.save(
        bucket,
        fitted.estimator,
        features_doc,
        metrics_doc,
        table=table,
        argv=opts.argv,
        date_range=date_range(table, data, fitted.estimator if task == Task.FORECAST else None),
    )
    stored = artifacts.info(bucket, opts.model, version)  # the documents as the registry wrote them
    return version, stored.features, stored.metrics


def date_range(table: Table, data: Dataset, forecaster: Any = None) -> dict[str, str] | None:
    """The dates the model saw, for its lineage and card: a forecast's time column; else the
    table's `dt` partitions; else its first datetime feature. None when the data has no dates."""
    from datetime import datetime, timezone

    import numpy as np

    column = forecaster.time if forecaster is not None else None
    if column is None and "dt" in table.partition_by:
        days = sorted(str(p.values["dt"]) for p in table.partitions if p.values.get("dt"))
        return {"column": "dt", "min": days[0], "max": days[-1]} if days else None
    if column is None:
        column = next((f.name for f in data.features if f.kind == "datetime"), None)
    if column is None or column not in data.frame:
        return None
    seconds = data.frame[column].to_numpy(dtype="float64")  # datetimes travel as epoch seconds
    seen = seconds[~np.isnan(seconds)]
    if not len(seen) or not all(math.isfinite(v) for v in (seen.min(), seen.max())):
        return None

    def day(value: float) -> str:
        return datetime.fromtimestamp(value, tz=timezone.utc).date().isoformat()

    return {"column": column, "min": day(seen.min()), "max": day(seen.max())}


def train(bucket: Bucket, opts: TrainOptions, progress: Progress | None = None) -> TrainReport:
    progress = progress or Progress()
    plan = resolve(bucket, opts, progress)
    data, task = read(bucket, plan, progress)
    fitted = fit(task, data, opts.settings(), progress)
    version, features_doc, metrics_doc = publish(bucket, plan, task, data, fitted, progress)
    return TrainReport(
        model=opts.model,
        version=version,
        table=plan.table.ref,
        features=features_doc,
        metrics=metrics_doc,
        seconds=progress.elapsed(),
        steps=list(progress.steps),
        warnings=verdict(task, opts.model, metrics_doc),
    )

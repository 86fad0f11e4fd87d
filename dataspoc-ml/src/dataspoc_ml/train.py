"""Train one scikit-learn Pipeline on a table and publish it as ml/models/<model>/.

Features are every column except the target, the partition columns and --exclude. Numeric
(and datetime, as epoch seconds) columns get a median imputer; string, bool and dictionary
columns a most-frequent imputer and a one-hot encoder; the estimator is a random forest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dataspoc_ml import artifacts, catalog, console, datasets
from dataspoc_ml.bucket import Bucket
from dataspoc_ml.contract import CONTRACT_VERSION
from dataspoc_ml.contract.models import Features, Metrics
from dataspoc_ml.errors import DataError, UnknownColumn, UsageError
from dataspoc_ml.evaluate import evaluate

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
MIN_ROWS = 10
MIN_TEST_ROWS = 5
MAX_SEED = 2**32 - 1
MAX_CLASSES_FOR_INTEGER = 20
N_ESTIMATORS = 100
TASKS = ("auto", "classification", "regression")


@dataclass
class TrainOptions:
    model: str
    table: str
    target: str
    task: str = "auto"
    test_size: float = 0.2
    seed: int = 42
    exclude: tuple[str, ...] = ()
    n_estimators: int = N_ESTIMATORS


def check_model_name(name: str) -> None:
    if not NAME_RE.match(name):
        raise UsageError(
            f"bad model name '{name}': use a lowercase letter, then lowercase letters, digits or "
            "underscores (at most 63 characters), e.g. churn_v2"
        )


def _check_options(opts: TrainOptions) -> None:
    check_model_name(opts.model)
    if opts.task not in TASKS:
        raise UsageError(f"unknown --task '{opts.task}'; use one of: {', '.join(TASKS)}")
    if not 0 < opts.test_size < 1:
        raise UsageError(f"--test-size must be between 0 and 1 (exclusive), not {opts.test_size}")
    if not 0 <= opts.seed <= MAX_SEED:
        raise UsageError(f"--seed must be between 0 and {MAX_SEED}, not {opts.seed}")


def _check_split(rows: int, opts: TrainOptions, table_ref: str) -> None:
    """The holdout split must leave rows to train on and enough rows to score."""
    import math

    test_rows = math.ceil(opts.test_size * rows)  # as scikit-learn's train_test_split counts
    train_rows = rows - test_rows
    if test_rows < MIN_TEST_ROWS:
        raise DataError(
            f"--test-size {opts.test_size} holds out {test_rows} of the {rows} usable rows of table {table_ref}; "
            f"the metrics need at least {MIN_TEST_ROWS}: raise --test-size"
        )
    if train_rows < 1:
        raise DataError(
            f"--test-size {opts.test_size} leaves no rows of the {rows} usable rows of table {table_ref} "
            "to train on: lower --test-size"
        )


def choose_task(requested: str, target_kind: str | None, target_values: Any, target: str) -> str:
    if target_kind is None:
        raise UsageError(
            f"target column '{target}' has type {target_values.type}, which cannot be learned; choose another --target"
        )
    if requested == "regression" and target_kind != "numeric":
        raise UsageError(f"--task regression needs a numeric target; '{target}' is {target_kind or 'not usable'}")
    if requested == "classification":
        import pyarrow as pa

        value_type = target_values.type
        if pa.types.is_dictionary(value_type):
            value_type = value_type.value_type
        if not (target_kind in ("boolean", "categorical") or pa.types.is_integer(value_type)):
            raise UsageError(
                f"--task classification needs a bool, string or integer target; column '{target}' is "
                f"{target_values.type}: use --task regression or another --target"
            )
    if requested != "auto":
        return requested
    import pyarrow as pa

    if target_kind in ("boolean", "categorical"):
        return "classification"
    if target_kind == "numeric":
        if pa.types.is_integer(target_values.type):
            distinct = len(target_values.unique())
            if distinct <= MAX_CLASSES_FOR_INTEGER:
                return "classification"
        return "regression"
    raise UsageError(
        f"target column '{target}' has type {target_values.type}, which cannot be learned; choose another --target"
    )


def build_pipeline(features: list[dict[str, Any]], task: str, seed: int, n_estimators: int) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    numeric = [f["name"] for f in features if f["kind"] in ("numeric", "datetime")]
    categorical = [f["name"] for f in features if f["kind"] in ("categorical", "boolean")]
    transformers = []
    if numeric:
        transformers.append(("numeric", SimpleImputer(strategy="median"), numeric))
    if categorical:
        transformers.append(
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore")),
                    ]
                ),
                categorical,
            )
        )
    estimator_class = RandomForestClassifier if task == "classification" else RandomForestRegressor
    return Pipeline(
        [
            ("prepare", ColumnTransformer(transformers)),
            ("model", estimator_class(n_estimators=n_estimators, random_state=seed, n_jobs=1)),
        ]
    )


def _split(x: Any, y: Any, task: str, opts: TrainOptions) -> tuple[Any, Any, Any, Any]:
    from sklearn.model_selection import train_test_split

    stratify = None
    if task == "classification":
        import numpy as np

        _, counts = np.unique(y, return_counts=True)
        test_rows = int(np.ceil(opts.test_size * len(y)))
        if counts.min() >= 2 and len(counts) <= test_rows <= len(y) - len(counts):
            stratify = y
    return train_test_split(x, y, test_size=opts.test_size, random_state=opts.seed, stratify=stratify)


def _target_array(column: Any, kind: str | None) -> Any:
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


def train(bucket: Bucket, opts: TrainOptions) -> Metrics:
    _check_options(opts)
    bucket.check_exists()  # a missing bucket must not look like one without tables
    manifest = catalog.load(bucket)
    table = catalog.resolve(manifest, opts.table, bucket)
    available = table.column_names
    if opts.target not in available:
        raise UnknownColumn(f"no column '{opts.target}' in table {table.ref}; its columns: {', '.join(available)}")
    unknown = [c for c in opts.exclude if c not in available]
    if unknown:
        raise UnknownColumn(
            f"--exclude names columns not in table {table.ref}: {', '.join(unknown)}; its columns: {', '.join(available)}"
        )

    import pyarrow as pa

    schema = datasets.schema_of(bucket, table)
    skipped = set(table.partition_by) | set(opts.exclude) | {opts.target}
    features: list[dict[str, Any]] = []
    for field in schema:
        if field.name in skipped:
            continue
        kind = datasets.kind_of(field.type)
        if kind is None:
            console.warn(f"column '{field.name}' ({field.type}) is not used: a model cannot learn from that type")
            continue
        features.append({"name": field.name, "type": str(field.type), "kind": kind})
    if not features:
        raise UsageError(f"no feature columns left in table {table.ref} after leaving out {', '.join(sorted(skipped))}")

    data = datasets.read_table(bucket, table, columns=[f["name"] for f in features] + [opts.target])
    target_field = schema.field(opts.target)
    target_kind = datasets.kind_of(target_field.type)
    target_column = data.column(opts.target).combine_chunks() if data.num_rows else pa.array([], type=target_field.type)
    import pyarrow.compute as pc

    keep = pc.is_valid(target_column)
    if pa.types.is_floating(target_column.type):
        keep = pc.and_(keep, pc.invert(pc.is_nan(target_column)))  # NaN is no value either
    dropped = len(target_column) - pc.sum(keep).as_py() if len(target_column) else 0
    if dropped:
        keep = pc.fill_null(keep, False)
        data = data.filter(keep)
        target_column = target_column.filter(keep)
        console.say(f"dropped {dropped:,} rows with no value in target '{opts.target}'")
    if data.num_rows < MIN_ROWS:
        raise DataError(f"table {table.ref} has {data.num_rows} usable rows; training needs at least {MIN_ROWS}")
    _check_split(data.num_rows, opts, table.ref)

    task = choose_task(opts.task, target_kind, target_column, opts.target)
    y = _target_array(target_column, target_kind)
    if task == "classification" and len(set(y.tolist())) < 2:
        raise DataError(
            f"target '{opts.target}' in table {table.ref} has a single class ({y[0]!r}); classification needs two or more"
        )
    x = datasets.to_frame(data, features, table.ref)
    empty = [f["name"] for f in features if bool(x[f["name"]].isna().all())]
    if empty:
        for name in empty:
            console.warn(f"column '{name}' of table {table.ref} is not used: it has no values (all null or NaN)")
        features = [f for f in features if f["name"] not in empty]
        if not features:
            raise DataError(
                f"every feature column of table {table.ref} is empty (all null or NaN); nothing to learn from"
            )
        x = x[[f["name"] for f in features]]

    x_train, x_test, y_train, y_test = _split(x, y, task, opts)
    console.say(f"training {task} model '{opts.model}' on {table.ref}: {len(y_train):,} rows, {len(features)} features")
    pipeline = build_pipeline(features, task, opts.seed, opts.n_estimators)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's warnings are noise on a user's stderr
        pipeline.fit(x_train, y_train)
        scores = evaluate(task, pipeline, x_test, y_test)

    trained_at = catalog.iso(catalog.now_utc())
    estimator = pipeline.named_steps["model"]
    features_doc = Features.model_validate(
        {
            "contract_version": CONTRACT_VERSION,
            "model": opts.model,
            "task": task,
            "target": {"name": opts.target, "type": str(target_field.type), "kind": target_kind},
            "features": features,
            "training_table": {
                "layer": table.layer,
                "namespace": table.namespace,
                "name": table.name,
                "location": table.location,
                "run_id": table.last_run_id,
            },
            "trained_at": trained_at,
        }
    )
    metrics_doc = Metrics.model_validate(
        {
            "contract_version": CONTRACT_VERSION,
            "model": opts.model,
            "task": task,
            "algorithm": f"sklearn.ensemble.{type(estimator).__name__}",
            "holdout": {
                "fraction": float(opts.test_size),
                "train_rows": len(y_train),
                "test_rows": len(y_test),
                "seed": opts.seed,
            },
            "metrics": scores,
            "trained_at": trained_at,
        }
    )
    import sys

    version = artifacts.save(bucket, pipeline, features_doc, metrics_doc, table=table, argv=sys.argv)
    return metrics_doc.model_copy(update={"version": version, "contract_version": artifacts.CONTRACT})

"""A trained model's metrics on another table (`dataspoc-ml evaluate`), beside its baseline.

The promoted version by default, or any version. The table must hold the model's features and
its target (a forecast's time, series key and target). The baseline is the task's, computed on
the evaluated table itself: its own majority class or mean (a baseline that knows these rows,
so a hard one to beat), random segments, or the seasonal naive forecast over the last
--test-size of its periods, the span the model forecasts too.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from dataspoc_ml import artifacts, datasets
from dataspoc_ml.bucket import Bucket
from dataspoc_ml.contract.models import Baseline, dump
from dataspoc_ml.errors import DataError, UnknownColumn, UsageError
from dataspoc_ml.predict import check_columns, inputs_of, resolve_table, same_rows
from dataspoc_ml.tasks import Dataset, Progress, Task, beats, spec, threads_for
from dataspoc_ml.train import check_model_name, drop_missing, target_array


@dataclass
class EvaluateReport:
    model: str
    version: int | None
    task: str
    table: str
    rows: int
    main_metric: str
    metrics: dict[str, float]
    baseline: Baseline | None
    beats_baseline: bool | None
    trained_on_these_rows: bool

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "model": self.model,
            "version": self.version,
            "task": self.task,
            "table": self.table,
            "rows": self.rows,
            "main_metric": self.main_metric,
            "metrics": self.metrics,
            "trained_on_these_rows": self.trained_on_these_rows,
        }
        if self.baseline is not None:
            document["baseline"] = dump(self.baseline)
            document["beats_baseline"] = self.beats_baseline
        return document


def check_version(version: int | None) -> None:
    if version is not None and version < 1:
        raise UsageError(f"--version {version}: versions are numbered from 1 (see `dataspoc-ml versions MODEL`)")


def evaluate(
    bucket: Bucket,
    model: str,
    table_ref: str | None = None,
    version: int | None = None,
    progress: Progress | None = None,
) -> EvaluateReport:
    progress = progress or Progress()
    check_model_name(model)
    check_version(version)
    bucket.check_exists()
    info = artifacts.info(bucket, model, version)
    task = Task(info.features.task)
    table = resolve_table(bucket, info, table_ref)
    target = info.features.target
    supervised = task in (Task.CLASSIFICATION, Task.REGRESSION)
    if supervised and target.name not in table.column_names:
        raise UnknownColumn(
            f"table {table.ref} has no column '{target.name}', the target of model '{model}'; "
            "evaluate on a table that holds the true values"
        )
    inputs = inputs_of(info)
    schema = check_columns(bucket, info, table)
    if supervised:
        kind = datasets.kind_of(schema.field(target.name).type)
        if kind != target.kind:
            raise UsageError(
                f"column '{target.name}' of table {table.ref} is {schema.field(target.name).type} ({kind or 'unusable'}), "
                f"but model '{model}' learned a {target.type} target; evaluate on a table of the same kind"
            )
    estimator, info = artifacts.load(bucket, model, version=version)

    columns = [f.name for f in inputs] + ([target.name] if supervised else [])
    progress.step(f"reading {table.ref}: {table.row_count:,} rows in {table.file_count:,} file(s)")
    data = datasets.read_table(bucket, table, columns=columns, on_rows=lambda n: progress.rows(n, table.row_count))
    y = None
    if supervised:
        data, dropped = drop_missing(data, target.name)
        if dropped:
            progress.note(f"left out {dropped:,} rows with no value in target '{target.name}'")
        y = target_array(data.column(target.name).combine_chunks(), target.kind)
    if data.num_rows < 2:
        raise DataError(f"table {table.ref} has {data.num_rows} usable row(s); evaluating a model needs at least 2")
    features = inputs if task == Task.FORECAST else list(info.features.features)
    dataset = Dataset(table=table.ref, frame=datasets.to_frame(data, features, table.ref), features=features, y=y)
    progress.step(f"scoring model '{model}' on {data.num_rows:,} rows against the baseline")
    with warnings.catch_warnings(), threads_for(data.num_rows):
        warnings.simplefilter("ignore")  # scikit-learn's warnings are noise on a user's stderr
        scored = spec(task).score(estimator, dataset, info.features.options or {})
    if not scored.metrics:
        raise DataError(f"no metric of model '{model}' has a value on table {table.ref}")
    return EvaluateReport(
        model=model,
        version=info.version,
        task=task.value,
        table=table.ref,
        rows=scored.rows,
        main_metric=spec(task).main_metric,
        metrics=scored.metrics,
        baseline=scored.baseline,
        beats_baseline=beats(task, scored.metrics, scored.baseline),
        trained_on_these_rows=same_rows(info, table),
    )

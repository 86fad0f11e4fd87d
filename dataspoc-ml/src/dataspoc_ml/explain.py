"""Why a model predicts what it does (`dataspoc-ml explain`).

Without --rows: the permutation importance recorded at training (metrics.json), and for a
clustering model its segments' profiles.

With --rows N (classification and regression models): the first N rows of a table (default:
the training table), each prediction split into one contribution per feature.

- Linear models (LogisticRegression, Ridge): coefficient × value, the value being the feature
  as the model sees it (standardised numbers and date parts, one-hot categories), summed over
  the columns the feature became. With the intercept (the reference) they add up to the
  model's raw output: the prediction for Ridge, the log-odds of the positive class (binary) or
  the predicted class's score (several classes) for LogisticRegression.
- Other models (HistGradientBoosting, random forests): a break-down from a reference row (the
  median of each numeric or date feature, the most frequent value of each other one, over the
  first REFERENCE_ROWS rows of the table). The row's values replace the reference's one
  feature at a time, most important first (the recorded permutation importance), and each
  feature is credited with the change in the output (the prediction, or the probability of the
  row's predicted class). Contributions add up exactly to output - reference; when features
  interact they depend on that order.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from dataspoc_ml import artifacts, datasets, preprocess
from dataspoc_ml.bucket import Bucket
from dataspoc_ml.contract.models import Feature, Importance, Segment, dump
from dataspoc_ml.errors import DataError, UsageError
from dataspoc_ml.evaluate import check_version
from dataspoc_ml.predict import check_columns, resolve_table
from dataspoc_ml.tasks import Progress, Task, threads_for
from dataspoc_ml.train import check_model_name

MAX_ROWS = 1000
REFERENCE_ROWS = 10_000
LINEAR = "coefficient x value"
BREAKDOWN = "break-down from a reference row, most important feature first"


@dataclass
class RowExplanation:
    row: int  # the row's position in the table, from 0
    prediction: Any
    output: float  # what the contributions explain: a prediction, a probability or a log-odds
    reference: float
    contributions: list[tuple[str, float]]  # largest effect first

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "prediction": self.prediction,
            "output": self.output,
            "reference": self.reference,
            "contributions": [{"feature": name, "contribution": value} for name, value in self.contributions],
        }


@dataclass
class ExplainReport:
    model: str
    version: int | None
    task: str
    algorithm: str
    importance: list[Importance] | None
    segments: list[Segment] | None
    table: str | None = None
    method: str | None = None
    output: str | None = None  # what each row's output is
    rows: list[RowExplanation] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "model": self.model,
            "version": self.version,
            "task": self.task,
            "algorithm": self.algorithm,
            "importance": [dump(i) for i in self.importance] if self.importance is not None else None,
        }
        if self.segments is not None:
            document["segments"] = [dump(s) for s in self.segments]
        if self.rows:
            document.update(
                table=self.table, method=self.method, output=self.output, rows=[r.as_dict() for r in self.rows]
            )
        return document


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value JSON can hold."""
    return value.item() if hasattr(value, "item") else value


def explain(
    bucket: Bucket,
    model: str,
    version: int | None = None,
    rows: int = 0,
    table_ref: str | None = None,
    progress: Progress | None = None,
) -> ExplainReport:
    progress = progress or Progress()
    check_model_name(model)
    check_version(version)
    if not 0 <= rows <= MAX_ROWS:
        raise UsageError(f"--rows {rows}: explain 1 to {MAX_ROWS} rows (0: the importance only)")
    if table_ref is not None and not rows:
        raise UsageError("--table says which rows to explain: give --rows N too")
    bucket.check_exists()
    info = artifacts.info(bucket, model, version)
    task = Task(info.features.task)
    report = ExplainReport(
        model=model,
        version=info.version,
        task=task.value,
        algorithm=info.metrics.algorithm,
        importance=info.metrics.importance,
        segments=info.metrics.segments,
    )
    if not rows:
        return report
    if task not in (Task.CLASSIFICATION, Task.REGRESSION):
        shown = "segments" if task == Task.CLUSTERING else "importance"
        raise UsageError(
            f"explain --rows applies to classification and regression models; model '{model}' is a {task.value} "
            f"model: leave --rows out to see its {shown}"
        )
    table = resolve_table(bucket, info, table_ref)
    check_columns(bucket, info, table)
    estimator, info = artifacts.load(bucket, model, version=version)
    features = list(info.features.features)
    progress.step(f"reading the first rows of {table.ref}")
    data = datasets.read_table(bucket, table, columns=[f.name for f in features], limit=REFERENCE_ROWS)
    if not data.num_rows:
        raise DataError(f"table {table.ref} has no rows to explain")
    frame = datasets.to_frame(data, features, table.ref)
    explained = frame.iloc[:rows]
    final = estimator.named_steps["model"]
    progress.step(f"explaining {len(explained):,} row(s)")
    with warnings.catch_warnings(), threads_for(len(explained) * (len(features) + 1)):
        warnings.simplefilter("ignore")  # scikit-learn's warnings are noise on a user's stderr
        if hasattr(final, "coef_"):
            report.method, report.output, report.rows = LINEAR, *linear(estimator, features, explained, task)
        else:
            order = importance_order(features, info.metrics.importance)
            report.method = BREAKDOWN
            report.output, report.rows = breakdown(estimator, order, frame, explained, task)
    report.table = table.ref
    return report


def importance_order(features: list[Feature], importance: list[Importance] | None) -> list[Feature]:
    by_name = {f.name: f for f in features}
    ranked = [by_name[i.feature] for i in importance or [] if i.feature in by_name]
    return ranked + [f for f in features if f not in ranked]


def ranked(names: list[str], values: Any) -> list[tuple[str, float]]:
    pairs = [(name, float(value)) for name, value in zip(names, values)]
    return sorted(pairs, key=lambda pair: -abs(pair[1]))


def linear(estimator: Any, features: list[Feature], rows: Any, task: Task) -> tuple[str, list[RowExplanation]]:
    import numpy as np

    prepare, final = estimator.named_steps["prepare"], estimator.named_steps["model"]
    z = np.asarray(prepare.transform(rows), dtype="float64")
    coef = np.atleast_2d(final.coef_)
    intercept = np.atleast_1d(final.intercept_)
    predicted = estimator.predict(rows)
    if task == Task.CLASSIFICATION and coef.shape[0] > 1:
        classes = list(final.classes_)
        which = np.array([classes.index(p) for p in predicted])
        output = "score (log-odds) of the predicted class"
    else:
        which = np.zeros(len(rows), dtype=int)
        output = f"log-odds of class {plain(final.classes_[1])!r}" if task == Task.CLASSIFICATION else "prediction"
    slices = preprocess.slices(prepare, features)
    names = [f.name for f in features]
    explained = []
    for i in range(len(rows)):
        weights = coef[which[i]]
        parts = [float((z[i, slices[name]] * weights[slices[name]]).sum()) for name in names]
        reference = float(intercept[which[i]])
        explained.append(
            RowExplanation(
                row=i,
                prediction=plain(predicted[i]),
                output=reference + sum(parts),
                reference=reference,
                contributions=ranked(names, parts),
            )
        )
    return output, explained


def reference_row(order: list[Feature], frame: Any) -> dict[str, Any]:
    import numpy as np

    reference: dict[str, Any] = {}
    for feature in order:
        column = frame[feature.name]
        if feature.kind in ("numeric", "datetime"):
            values = column.to_numpy(dtype="float64")
            reference[feature.name] = float(np.nanmedian(values)) if np.isfinite(values).any() else np.nan
        else:
            counts = column.dropna().value_counts()
            reference[feature.name] = counts.index[0] if len(counts) else np.nan
    return reference


def breakdown(
    estimator: Any, order: list[Feature], frame: Any, rows: Any, task: Task
) -> tuple[str, list[RowExplanation]]:
    import numpy as np
    import pandas as pd

    reference = reference_row(order, frame)
    count, steps = len(rows), len(order) + 1
    # step j of a row: its first j features (in `order`) set to the row's values, the rest to the reference's
    columns = {}
    for position, feature in enumerate(order):
        actual = rows[feature.name].to_numpy()
        grid = np.empty((count, steps), dtype=actual.dtype)
        grid[:, : position + 1] = reference[feature.name]
        grid[:, position + 1 :] = actual[:, None]
        columns[feature.name] = grid.reshape(-1)
    stacked = pd.DataFrame(columns)[list(rows.columns)]
    if task == Task.CLASSIFICATION:
        probabilities = estimator.predict_proba(stacked).reshape(count, steps, -1)
        which = probabilities[:, -1, :].argmax(axis=1)
        outputs = probabilities[np.arange(count), :, which]
        classes = estimator.classes_
        predictions = [plain(classes[w]) for w in which]
        output = "probability of the predicted class"
    else:
        outputs = estimator.predict(stacked).reshape(count, steps)
        predictions = [float(v) for v in outputs[:, -1]]
        output = "prediction"
    names = [f.name for f in order]
    return output, [
        RowExplanation(
            row=i,
            prediction=predictions[i],
            output=float(outputs[i, -1]),
            reference=float(outputs[i, 0]),
            contributions=ranked(names, np.diff(outputs[i])),
        )
        for i in range(count)
    ]

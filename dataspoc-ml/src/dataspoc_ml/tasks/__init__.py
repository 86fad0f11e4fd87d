"""The tasks dataspoc-ml trains: what each one fits, how it is scored, and against what baseline.

One module per task, each holding one TaskSpec: classification.py, regression.py (both over
supervised.py), forecast.py and clustering.py. `spec(task)` imports the one asked for, so
naming a task never loads scikit-learn. What a task needs to know about the run travels as
Settings, what it hands back as Fitted; Progress carries narration out of the core without the
core printing anything (the CLI renders it, render.py).
"""

from __future__ import annotations

import importlib
import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from dataspoc_ml.contract.models import Baseline, CrossValidation, Feature, Importance, Segment


class Task(str, Enum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"
    FORECAST = "forecast"
    CLUSTERING = "clustering"


MODULES = {
    Task.CLASSIFICATION: "dataspoc_ml.tasks.classification",
    Task.REGRESSION: "dataspoc_ml.tasks.regression",
    Task.FORECAST: "dataspoc_ml.tasks.forecast",
    Task.CLUSTERING: "dataspoc_ml.tasks.clustering",
}
ESTIMATORS = ("hgb", "rf", "linear")
FREQUENCIES = ("D", "W", "M")

# Metrics where a smaller value is better; every other metric is better when larger.
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae", "mape", "smape", "davies_bouldin", "inertia"})

# Bounds that keep training responsive on large tables (documented in docs/ml.md).
IMPORTANCE_REPEATS = 5
# Permutation importance on a sample of the holdout: enough rows for IMPORTANCE_BUDGET row
# predictions (features x repeats x rows), at least IMPORTANCE_MIN_ROWS and at most
# IMPORTANCE_MAX_ROWS: 10 features -> 5,000 rows, 100 features -> 2,000, 4 features -> 10,000.
IMPORTANCE_BUDGET = 250_000
IMPORTANCE_MIN_ROWS = 2_000
IMPORTANCE_MAX_ROWS = 10_000


def importance_rows(available: int, features: int) -> int:
    """How many holdout rows permutation importance scores (see IMPORTANCE_BUDGET)."""
    wanted = IMPORTANCE_BUDGET // max(features * IMPORTANCE_REPEATS, 1)
    return min(available, max(IMPORTANCE_MIN_ROWS, min(IMPORTANCE_MAX_ROWS, wanted)))


CV_MAX_ROWS = 200_000  # cross-validation: a sample of the training rows
SEARCH_MAX_ROWS = 200_000  # hyper-parameter search: a sample of the training rows
SILHOUETTE_MAX_ROWS = 10_000  # silhouette is quadratic in the rows it scores
PARALLEL_MIN_ROWS = 20_000  # below it, one thread (see threads_for)


class Progress:
    """What the core tells whoever runs it, as it happens. The base class records the steps and
    keeps quiet; the CLI's subclass (render.Narration) prints them to stderr."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.steps: list[tuple[str, float]] = []  # (step, seconds since the start)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def step(self, message: str) -> None:
        """A step begins (reading, fitting, scoring ...)."""
        self.steps.append((message, self.elapsed()))

    def rows(self, done: int, total: int) -> None:
        """Rows read so far out of the table's total."""

    def note(self, message: str) -> None:
        """Something the user should know that is not a problem (rows dropped, k chosen)."""

    def warn(self, message: str) -> None:
        """Something that may make the result worse than it looks (an unusable column)."""


@dataclass
class Settings:
    """How to train, as far as the task is concerned (parsed and checked by train.py)."""

    estimator: str = "hgb"
    class_weight: str | None = None
    cv: int = 0
    search: int = 0
    time_budget: float | None = None
    test_size: float = 0.2
    seed: int = 42
    time: str | None = None
    by: tuple[str, ...] = ()
    freq: str = "D"
    horizon: int | None = None
    k: int | None = None

    def options(self, task: Task) -> dict[str, Any]:
        """The features.json `options` of a model trained with these settings."""
        options: dict[str, Any] = {"seed": self.seed, "test_size": self.test_size}
        if task != Task.CLUSTERING:
            options["estimator"] = self.estimator
        if self.class_weight:
            options["class_weight"] = self.class_weight
        if self.cv:
            options["cv"] = self.cv
        if self.search:
            options["search"] = self.search
            if self.time_budget:
                options["time_budget"] = self.time_budget
        if task == Task.FORECAST:
            options.update(time_column=self.time, by=list(self.by), freq=self.freq, horizon=self.horizon)
        if task == Task.CLUSTERING and self.k is not None:
            options["k"] = self.k
        return options


@dataclass
class Dataset:
    """A table read for a model: one column per feature (datasets.to_frame's encoding)."""

    table: str  # the table's three-part name, for messages
    frame: Any  # pandas DataFrame
    features: list[Feature]
    target: Feature | None = None
    y: Any = None  # numpy array of the target (supervised tasks)

    @property
    def rows(self) -> int:
        return len(self.frame)


@dataclass
class Fitted:
    """What a task's fit hands back: the estimator to pickle and everything metrics.json says."""

    estimator: Any
    algorithm: str
    train_rows: int
    test_rows: int
    metrics: dict[str, float]
    baseline: Baseline | None = None
    cv: CrossValidation | None = None
    importance: list[Importance] | None = None
    segments: list[Segment] | None = None
    options: dict[str, Any] = field(default_factory=dict)  # learned: the k chosen, the best parameters


@dataclass
class Scored:
    """A model's metrics on a table, beside its baseline's (evaluate)."""

    rows: int
    metrics: dict[str, float]
    baseline: Baseline | None


class TaskSpec(ABC):
    task: Task
    main_metric: str
    outputs: tuple[str, ...] = ()  # the columns predict adds to each row (forecast writes new rows)

    @abstractmethod
    def fit(self, data: Dataset, settings: Settings, progress: Progress) -> Fitted:
        """Split, fit, score against the baseline; cross-validate, search, explain when asked."""

    @abstractmethod
    def score(self, estimator: Any, data: Dataset, options: dict[str, Any]) -> Scored:
        """The metrics of a fitted model on a table it may not have seen."""

    def output_fields(self, estimator: Any, target: Feature) -> list[pa.Field]:
        """The columns predict appends to each row."""
        raise NotImplementedError

    def output_arrays(self, estimator: Any, frame: Any, target: Feature) -> list[pa.Array]:
        """Those columns' values for one batch."""
        raise NotImplementedError


def threads_for(rows: int) -> Any:
    """A context in which scikit-learn uses every core for a large table and one thread for a
    small one, where starting and syncing threads (OpenMP, BLAS, joblib's pool for the trees of
    a forest) costs more than it saves, and far more on a busy machine."""
    from contextlib import ExitStack

    import sklearn.ensemble  # noqa: F401 - loads OpenMP, so that the limit reaches it
    from joblib import parallel_config
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # a scikit-learn dependency

    stack = ExitStack()
    if rows < PARALLEL_MIN_ROWS:
        stack.enter_context(threadpool_limits(limits=1))
        stack.enter_context(parallel_config(backend="sequential"))
    return stack


def spec(task: Task | str) -> TaskSpec:
    module = importlib.import_module(MODULES[Task(task)])
    found: TaskSpec = module.SPEC
    return found


def main_metric(task: Task | str) -> str:
    return spec(task).main_metric


def better(metric: str, value: float, other: float) -> bool:
    return value < other if metric in LOWER_IS_BETTER else value > other


def finite(metrics: dict[str, Any]) -> dict[str, float]:
    """Only the metrics that have a value: JSON has no NaN, and an undefined metric is left out."""
    return {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}


def beats(task: Task | str, metrics: dict[str, float], baseline: Baseline | None) -> bool | None:
    """Whether the main metric beats the baseline's; None when either has no value."""
    if baseline is None:
        return None
    name = main_metric(task)
    if name not in metrics or name not in baseline.metrics:
        return None
    return better(name, metrics[name], baseline.metrics[name])


def arrow_type(alias: str, default: pa.DataType) -> pa.DataType:
    """The Arrow type an Arrow type string names (features.json's `type`), else `default`."""
    import pyarrow as pa

    try:
        return pa.type_for_alias(alias)
    except (ValueError, KeyError):
        return default


def prediction_array(values: Any, wanted: pa.DataType) -> pa.Array:
    """Predicted values as an Arrow array of the target's type when they can be cast to it."""
    import pyarrow as pa

    array = pa.array(values.tolist() if values.dtype == object else values)
    if array.type != wanted:
        try:
            array = array.cast(wanted)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            pass
    return array

"""What classification and regression share: the holdout split, the random search, K-fold
cross-validation and permutation importance, around the estimators, metrics and baseline each
task defines.

The random search (`--search N`) tries the estimator's defaults and N parameter sets drawn from
SEARCH_SPACES, each fitted on 80% of the training rows (at most SEARCH_MAX_ROWS, sampled) and
scored on the other 20% by the task's main metric; it stops early when `--time-budget` runs
out. The best set is then fitted on every training row and scored once on the holdout, which the
search never sees.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from typing import Any

from dataspoc_ml import preprocess
from dataspoc_ml.contract.models import Baseline, CrossValidation, Feature, FoldSpread, Importance
from dataspoc_ml.tasks import (
    CV_MAX_ROWS,
    IMPORTANCE_REPEATS,
    PARALLEL_MIN_ROWS,
    SEARCH_MAX_ROWS,
    Dataset,
    Fitted,
    Progress,
    Scored,
    Settings,
    TaskSpec,
    better,
    finite,
    importance_rows,
)

# The search's ranges per estimator: ("log", low, high) is log-uniform, ("int", low, high) a
# log-uniform integer, ("choice", values) one of the values.
SEARCH_SPACES: dict[str, dict[str, tuple[Any, ...]]] = {
    "hgb": {
        "learning_rate": ("log", 0.01, 0.3),
        "max_leaf_nodes": ("int", 8, 128),
        "min_samples_leaf": ("int", 5, 200),
        "l2_regularization": ("log", 1e-3, 10.0),
        "max_iter": ("choice", (100, 200, 400)),
    },
    "rf": {
        "n_estimators": ("choice", (100, 200, 400)),
        "max_depth": ("choice", (None, 8, 16, 32)),
        "min_samples_leaf": ("int", 1, 20),
        "max_features": ("choice", ("sqrt", 0.5, 1.0)),
    },
    "linear_classification": {"C": ("log", 1e-3, 100.0)},
    "linear_regression": {"alpha": ("log", 1e-3, 1000.0)},
}
SEARCH_VALIDATION = 0.2


def algorithm_name(estimator: Any) -> str:
    """e.g. sklearn.ensemble.HistGradientBoostingClassifier."""
    module = ".".join(type(estimator).__module__.split(".")[:2])
    return f"{module}.{type(estimator).__name__}"


def sample_rows(count: int, limit: int, seed: int) -> Any:
    """Sorted row positions: all of them, or `limit` drawn at random."""
    import numpy as np

    if count <= limit:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=limit, replace=False))


def draw(space: dict[str, tuple[Any, ...]], rng: Any) -> dict[str, Any]:
    import math

    params: dict[str, Any] = {}
    for name, (kind, *args) in space.items():
        if kind == "choice":
            values = args[0]
            params[name] = values[int(rng.integers(len(values)))]
        elif kind == "log":
            params[name] = float(math.exp(rng.uniform(math.log(args[0]), math.log(args[1]))))
        else:
            params[name] = round(math.exp(rng.uniform(math.log(args[0]), math.log(args[1]))))
    return params


def describe(params: dict[str, Any]) -> str:
    if not params:
        return "the defaults"
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def permutation(
    pipeline: Any, x: Any, y: Any, scoring: str, seed: int, features: list[Feature] | None = None
) -> list[Importance]:
    """Permutation importance of each input column on (a sample of) the holdout, largest first.

    The features x repeats predictions are spread over the cores, each prediction in one thread:
    a HistGradientBoosting prediction opens an OpenMP region per tree, and when the cores are
    busy those regions wait on each other (51 predictions of 10,000 rows on a 2-core machine:
    60 s in two OpenMP threads under load; quiet, 2.7 s in one thread, 1.9 s over two workers).
    The results are the same: each feature's permutations come from the seed alone.

    Given the `features` preprocess.build made the pipeline's first step of, and each of them one
    column of its output (hgb without dates), the rows are prepared once and the permutations
    made there: each such column depends only on its feature's value in the same row, so
    permuting it is permuting the feature, and every score is the one the pipeline would give,
    without preparing the rows again for each prediction."""
    from joblib import parallel_config
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import get_scorer
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # a scikit-learn dependency

    rows = sample_rows(len(x), importance_rows(len(x), x.shape[1]), seed)
    x, y = x.iloc[rows], y[rows]
    columns = prepared_columns(pipeline, features, list(x.columns)) if features else None
    model, inputs, scorer = pipeline, x, get_scorer(scoring)
    if columns is not None:  # the prepared rows, their columns in the order of the input's
        prepare, model = pipeline.steps[0][1], pipeline.steps[-1][1]
        inputs, scorer = prepare.transform(x)[:, columns], in_prepared_order(scorer, columns)
    workers = 1 if len(rows) * x.shape[1] * IMPORTANCE_REPEATS < PARALLEL_MIN_ROWS else -1  # -1: every core
    with threadpool_limits(limits=1), parallel_config(backend="threading"):
        result = permutation_importance(
            model,
            inputs,
            y,
            scoring=in_one_thread(scorer),
            n_repeats=IMPORTANCE_REPEATS,
            random_state=seed,
            n_jobs=workers,
        )
    found = [
        Importance(feature=str(name), mean=float(mean), std=float(std))
        for name, mean, std in zip(x.columns, result.importances_mean, result.importances_std)
    ]
    return sorted(found, key=lambda i: -i.mean)


def in_one_thread(scorer: Any) -> Any:
    """The scorer, its predictions in one thread in whichever thread it is called: one OpenMP
    thread (each thread has its own limit; threadpool_limits is too slow to enter per call), and
    a forest's trees one after the other (joblib's settings are per thread too), so that its
    probabilities are summed in the same order every time."""
    from joblib import parallel_config
    from threadpoolctl import ThreadpoolController

    openmp = ThreadpoolController().select(user_api="openmp")

    def score(estimator: Any, rows: Any, truth: Any) -> Any:
        with openmp.limit(limits=1), parallel_config(backend="sequential"):
            return scorer(estimator, rows, truth)

    return score


def in_prepared_order(scorer: Any, columns: list[int]) -> Any:
    """The scorer, for rows whose prepared columns were put in the input's order (`columns`)."""
    import numpy as np

    back = np.argsort(columns)
    return lambda estimator, rows, truth: scorer(estimator, rows[:, back], truth)


def prepared_columns(pipeline: Any, features: list[Feature], names: list[str]) -> list[int] | None:
    """The column of a (prepare, model) pipeline's prepared rows that each input column became,
    when each became exactly one; else None."""
    from sklearn.pipeline import Pipeline

    if not isinstance(pipeline, Pipeline) or [n for n, _ in pipeline.steps] != ["prepare", "model"]:
        return None
    if names != [f.name for f in features]:
        return None
    slices = preprocess.slices(pipeline.named_steps["prepare"], features)
    widths = [slices[name].stop - slices[name].start for name in names]
    columns = [slices[name].start for name in names]
    return columns if widths == [1] * len(names) and sorted(columns) == list(range(len(names))) else None


def spread(per_fold: list[dict[str, float]]) -> dict[str, FoldSpread]:
    import numpy as np

    names = [m for m in per_fold[0] if all(m in fold for fold in per_fold)]
    return {
        m: FoldSpread(mean=float(np.mean([f[m] for f in per_fold])), std=float(np.std([f[m] for f in per_fold])))
        for m in names
    }


class SupervisedSpec(TaskSpec):
    baseline_name: str
    scoring: str  # the scikit-learn scorer of the main metric, for permutation importance

    @abstractmethod
    def estimator(self, features: list[Feature], settings: Settings, params: dict[str, Any]) -> Any:
        """The pipeline's last step."""

    @abstractmethod
    def metrics(self, model: Any, x: Any, y: Any) -> dict[str, float]:
        """Every metric of the task that has a value on these rows."""

    @abstractmethod
    def dummy(self) -> Any:
        """The unfitted baseline estimator."""

    def search_space(self, estimator: str) -> dict[str, tuple[Any, ...]]:
        return SEARCH_SPACES[estimator]

    def stratify(self, y: Any, test_size: float) -> Any:
        return None

    def folds(self, k: int, y: Any, seed: int) -> Any:
        from sklearn.model_selection import KFold

        return KFold(n_splits=k, shuffle=True, random_state=seed)

    # --------------------------------------------------------------------------------------
    def pipeline(self, features: list[Feature], settings: Settings, params: dict[str, Any] | None = None) -> Any:
        from sklearn.pipeline import Pipeline

        return Pipeline(
            [
                ("prepare", preprocess.build(features, settings.estimator)),
                ("model", self.estimator(features, settings, params or {})),
            ]
        )

    def baseline(self, x: Any, y: Any) -> Any:
        import numpy as np

        return self.dummy().fit(np.zeros((len(y), 1)), y)

    def split(self, data: Dataset, settings: Settings) -> tuple[Any, Any]:
        import numpy as np
        from sklearn.model_selection import train_test_split

        return train_test_split(
            np.arange(data.rows),
            test_size=settings.test_size,
            random_state=settings.seed,
            stratify=self.stratify(data.y, settings.test_size),
        )

    def fit(self, data: Dataset, settings: Settings, progress: Progress) -> Fitted:
        train, test = self.split(data, settings)
        x_train, y_train = data.frame.iloc[train], data.y[train]
        x_test, y_test = data.frame.iloc[test], data.y[test]
        options: dict[str, Any] = {}
        params: dict[str, Any] = {}
        if settings.search:
            params, tried = self.search(data.features, settings, x_train, y_train, progress)
            options.update(params=params, search_tried=tried)
        pipeline = self.pipeline(data.features, settings, params)
        final = pipeline.named_steps["model"]
        progress.step(f"fitting {type(final).__name__} on {len(train):,} rows, {len(data.features)} features")
        pipeline.fit(x_train, y_train)

        progress.step(f"scoring {len(test):,} holdout rows against the baseline ({self.baseline_name})")
        # the final estimator on the holdout as the pipeline's steps turn it, once: what
        # Pipeline.predict and predict_proba would each do again for every metric
        metrics = finite(self.metrics(final, pipeline[:-1].transform(x_test), y_test))
        dummy = self.baseline(x_train, y_train)
        baseline = Baseline(name=self.baseline_name, metrics=finite(self.metrics(dummy, x_test, y_test)))

        cv = self.cross_validate(data.features, settings, params, x_train, y_train, progress) if settings.cv else None

        shown = importance_rows(len(test), x_test.shape[1])
        progress.step(f"permutation importance on {shown:,} holdout rows")
        importance = permutation(pipeline, x_test, y_test, self.scoring, settings.seed, data.features)
        return Fitted(
            estimator=pipeline,
            algorithm=algorithm_name(final),
            train_rows=len(train),
            test_rows=len(test),
            metrics=metrics,
            baseline=baseline,
            cv=cv,
            importance=importance,
            options=options,
        )

    def score(self, estimator: Any, data: Dataset, options: dict[str, Any]) -> Scored:
        metrics = finite(self.metrics(estimator, data.frame, data.y))
        # the evaluated table's own majority class or mean: a baseline that knows these rows
        dummy = self.baseline(data.frame, data.y)
        baseline = Baseline(name=self.baseline_name, metrics=finite(self.metrics(dummy, data.frame, data.y)))
        return Scored(rows=data.rows, metrics=metrics, baseline=baseline)

    def cross_validate(
        self,
        features: list[Feature],
        settings: Settings,
        params: dict[str, Any],
        x: Any,
        y: Any,
        progress: Progress,
    ) -> CrossValidation:
        rows = sample_rows(len(x), CV_MAX_ROWS, settings.seed)
        x, y = x.iloc[rows], y[rows]
        per_fold = []
        for number, (train, test) in enumerate(self.folds(settings.cv, y, settings.seed).split(x, y), start=1):
            progress.step(f"cross-validation fold {number}/{settings.cv} ({len(train):,} rows)")
            model = self.pipeline(features, settings, params).fit(x.iloc[train], y[train])
            per_fold.append(finite(self.metrics(model, x.iloc[test], y[test])))
        return CrossValidation(folds=settings.cv, metrics=spread(per_fold))

    def search(
        self, features: list[Feature], settings: Settings, x: Any, y: Any, progress: Progress
    ) -> tuple[dict[str, Any], int]:
        """The best parameters found, and how many sets were tried."""
        import numpy as np
        from sklearn.model_selection import train_test_split

        rows = sample_rows(len(x), SEARCH_MAX_ROWS, settings.seed)
        x, y = x.iloc[rows], y[rows]
        fit_rows, check_rows = train_test_split(
            np.arange(len(x)),
            test_size=SEARCH_VALIDATION,
            random_state=settings.seed,
            stratify=self.stratify(y, SEARCH_VALIDATION),
        )
        space = self.search_space(settings.estimator)
        rng = np.random.default_rng(settings.seed)
        candidates: list[dict[str, Any]] = [{}] + [draw(space, rng) for _ in range(settings.search)]
        deadline = time.monotonic() + settings.time_budget if settings.time_budget else None
        best: tuple[dict[str, Any], float] | None = None
        tried = 0
        for number, params in enumerate(candidates, start=1):
            if deadline is not None and tried and time.monotonic() >= deadline:
                progress.note(
                    f"search: --time-budget {settings.time_budget:g}s spent after {tried} of {len(candidates)} sets"
                )
                break
            progress.step(f"search {number}/{len(candidates)}: {describe(params)}")
            model = self.pipeline(features, settings, params).fit(x.iloc[fit_rows], y[fit_rows])
            score = self.metrics(model, x.iloc[check_rows], y[check_rows]).get(self.main_metric)
            tried += 1
            if score is None:
                continue
            progress.note(f"  {self.main_metric} {score:.4f}")
            if best is None or better(self.main_metric, score, best[1]):
                best = (params, score)
        chosen = best[0] if best else {}
        progress.note(f"search: best of {tried} sets is {describe(chosen)}")
        return chosen, tried

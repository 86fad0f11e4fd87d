"""Regression: a number per row.

Estimators: hgb (HistGradientBoostingRegressor, native categorical support), rf
(RandomForestRegressor, 100 trees, every core), linear (Ridge on scaled inputs). Metrics: r2
(the main one), rmse and mae. Baseline: the training rows' mean. KFold for cross-validation.
"""

from __future__ import annotations

from typing import Any

from dataspoc_ml import preprocess
from dataspoc_ml.contract.models import Feature
from dataspoc_ml.tasks import Settings, Task, arrow_type, prediction_array
from dataspoc_ml.tasks.supervised import SEARCH_SPACES, SupervisedSpec


def regressor(features: list[Feature], settings: Settings, params: dict[str, Any]) -> Any:
    """The regressor of an estimator family (forecasts use the same ones)."""
    if settings.estimator == "rf":
        from sklearn.ensemble import RandomForestRegressor

        options: dict[str, Any] = {"n_estimators": 100, **params}
        return RandomForestRegressor(n_jobs=-1, random_state=settings.seed, **options)
    if settings.estimator == "linear":
        from sklearn.linear_model import Ridge

        return Ridge(**params)
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        random_state=settings.seed, categorical_features=preprocess.categorical_mask(features), **params
    )


def regression_space(estimator: str) -> dict[str, tuple[Any, ...]]:
    return SEARCH_SPACES["linear_regression" if estimator == "linear" else estimator]


def regression_metrics(y: Any, predicted: Any) -> dict[str, float]:
    import numpy as np
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    if not len(y):
        return {}
    found = {
        "rmse": float(np.sqrt(mean_squared_error(y, predicted))),
        "mae": float(mean_absolute_error(y, predicted)),
    }
    if len(y) >= 2:
        found["r2"] = float(r2_score(y, predicted))
    return found


class Regression(SupervisedSpec):
    task = Task.REGRESSION
    main_metric = "r2"
    outputs = ("prediction",)
    baseline_name = "mean"
    scoring = "r2"

    def estimator(self, features: list[Feature], settings: Settings, params: dict[str, Any]) -> Any:
        return regressor(features, settings, params)

    def search_space(self, estimator: str) -> dict[str, tuple[Any, ...]]:
        return regression_space(estimator)

    def dummy(self) -> Any:
        from sklearn.dummy import DummyRegressor

        return DummyRegressor(strategy="mean")

    def metrics(self, model: Any, x: Any, y: Any) -> dict[str, float]:
        return regression_metrics(y, model.predict(x) if len(y) else y)

    def output_fields(self, estimator: Any, target: Feature) -> list[Any]:
        import pyarrow as pa

        return [pa.field("prediction", arrow_type(target.type, pa.float64()))]

    def output_arrays(self, estimator: Any, frame: Any, target: Feature) -> list[Any]:
        import pyarrow as pa

        [field] = self.output_fields(estimator, target)
        if not len(frame):
            return [pa.array([], type=field.type)]
        return [prediction_array(estimator.predict(frame), field.type)]


SPEC = Regression()

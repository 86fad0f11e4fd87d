"""Forecasting: the next values of a numeric column over time, per series.

The table is first made a matrix of series by periods: rows are put in periods of `--freq` (D
days, W weeks starting on Monday, M months), the target is summed per series (`--by`) and
period, and a period a series has no row in is a missing value. One regressor (`--estimator`,
as for regression) serves every series. Each value is predicted from the values before it:

- lags: 1, 2, 3, 7, 14 and 28 days back (W: 1, 2, 3, 4, 52 weeks; M: 1, 2, 3, 6, 12 months);
- rolling means: 7 and 28 days (W: 4 and 13 weeks; M: 3 and 12 months);
- the seasonal mean: the same weekday over the last 4 weeks (W: the same week a year before; M:
  the same month over the last 2 years);
- the calendar of the period (year, month; W: week of the year; D: day, weekday, day of the
  year) and its number, and the series key (`--by`) as a category.

- the level: the mean of the last 7 days (W: 4 weeks, M: 3 months), else the last value seen;

each of them as a difference from a base, divided by the series' scale (the mean absolute value
of the values it remembers: 28 days, 52 weeks or 24 months). The regressor learns the value the
same way, so one model fits series of any size, small and large stores alike, and follows a
trend that trees alone could not extrapolate. The base is the level, or the seasonal mean (the
level where it has no value): training backtests both on the last 20% of the training periods
and keeps the better (options.base); a strong season favours the seasonal mean, a trend or a
random walk the level. That choice, the search and cross-validation use a random sample of the
series holding at most SEARCH_MAX_ROWS (CV_MAX_ROWS) values. HistGradientBoosting takes
leaves of at least 50 rows (ESTIMATOR_DEFAULTS), which suits short, noisy series. It forecasts recursively:
each step's prediction becomes the next step's history.

Validation is ordered in time. The last `--test-size` of the periods is the holdout; the model,
fitted on the periods before it, is backtested over it from rolling origins: from each origin
(every `--horizon` periods) it forecasts the next `--horizon` periods from the actual values
before the origin, as `predict` would. Cross-validation does the same over TimeSeriesSplit's
folds of the training periods, refitting for each. Metrics: rmse (the main one), mae, mape and
smape (fractions: 0.1 is 10%; mape leaves out actual zeros), beside the seasonal naive baseline
backtested the same way (each period's value one season earlier, the season being 7 days, 52
weeks or 12 months, repeated over the horizon; the last value seen where that is missing). The
backtest's residuals give predict's 80% interval: their 10th and 90th percentiles added to each
prediction. Permutation importance is measured one step ahead on the holdout.
"""

from __future__ import annotations

import math
import time as clock
import warnings
from typing import Any

from dataspoc_ml import preprocess
from dataspoc_ml.contract.models import Baseline, CrossValidation, Feature
from dataspoc_ml.errors import DataError
from dataspoc_ml.tasks import (
    CV_MAX_ROWS,
    SEARCH_MAX_ROWS,
    Dataset,
    Fitted,
    Progress,
    Scored,
    Settings,
    Task,
    TaskSpec,
    better,
    finite,
    importance_rows,
)
from dataspoc_ml.tasks.regression import regression_space, regressor
from dataspoc_ml.tasks.supervised import SEARCH_VALIDATION, algorithm_name, describe, draw, permutation, spread

SEASON = {"D": 7, "W": 52, "M": 12}
LAGS = {"D": (1, 2, 3, 7, 14, 28), "W": (1, 2, 3, 4, 52), "M": (1, 2, 3, 6, 12)}
WINDOWS = {"D": (7, 28), "W": (4, 13), "M": (3, 12)}
CALENDAR = {
    "D": ("year", "month", "day", "weekday", "dayofyear"),
    "W": ("year", "month", "week"),
    "M": ("year", "month"),
}
SEASONS_BACK = {"D": 4, "W": 1, "M": 2}  # the seasonal mean: the same day of the week, 4 weeks back ...
DEFAULT_HORIZON = {"D": 7, "W": 13, "M": 12}
# Series are noisy and short (a year of days is 365 rows a series): larger leaves generalise better.
ESTIMATOR_DEFAULTS: dict[str, dict[str, Any]] = {"hgb": {"min_samples_leaf": 50}}
INTERVAL = (0.1, 0.9)
CHUNK = 100_000  # training rows built at a time


# periods: integers counted from the epoch --------------------------------------------------
def periods_of(seconds: Any, freq: str) -> Any:
    """Epoch seconds -> period numbers (days, weeks from Monday 1970-01-05, months)."""
    import numpy as np

    days = np.floor(np.asarray(seconds, dtype="float64") / 86400).astype("int64")
    if freq == "D":
        return days
    if freq == "W":
        return (days - 4) // 7
    return days.astype("datetime64[D]").astype("datetime64[M]").astype("int64")


def period_dates(periods: Any, freq: str) -> Any:
    """Period numbers -> the date each period starts on (datetime64[D])."""
    import numpy as np

    periods = np.asarray(periods, dtype="int64")
    if freq == "D":
        return periods.astype("datetime64[D]")
    if freq == "W":
        return (periods * 7 + 4).astype("datetime64[D]")
    return periods.astype("datetime64[M]").astype("datetime64[D]")


def calendar(periods: Any, freq: str) -> dict[str, Any]:
    import numpy as np

    days = period_dates(periods, freq)
    months = days.astype("datetime64[M]")
    years = days.astype("datetime64[Y]")
    dayofyear = (days - years).astype("int64") + 1
    parts = {
        "year": years.astype("int64") + 1970,
        "month": months.astype("int64") % 12 + 1,
        "day": (days - months).astype("int64") + 1,
        "weekday": (days.astype("int64") + 3) % 7,
        "dayofyear": dayofyear,
        "week": (dayofyear - 1) // 7 + 1,
    }
    found = {name: parts[name].astype("float64") for name in CALENDAR[freq]}
    found["index"] = np.asarray(periods, dtype="float64")
    return found


def last_seen(history: Any) -> Any:
    """Each row's last value that is not NaN (NaN when there is none)."""
    import numpy as np

    seen = ~np.isnan(history)
    position = history.shape[1] - 1 - np.argmax(seen[:, ::-1], axis=1)
    found = history[np.arange(len(history)), position]
    return np.where(seen.any(axis=1), found, np.nan)


class Series:
    """The target per series and period: values[s, p - first] (NaN where the series has no row)."""

    def __init__(self, values: Any, first: int, keys: Any):
        self.values = values
        self.first = first
        self.keys = keys  # the --by values of each series (row s)

    @property
    def periods(self) -> Any:
        """The periods that have a value in some series."""
        import numpy as np

        return np.flatnonzero(~np.isnan(self.values).all(axis=0)) + self.first

    def sample(self, max_values: int, seed: int) -> Series:
        """Some of the series, drawn at random, holding about `max_values` known values at most."""
        import numpy as np

        known = int((~np.isnan(self.values)).sum())
        if known <= max_values:
            return self
        count = max(1, len(self.keys) * max_values // known)
        rows = np.sort(np.random.default_rng(seed).choice(len(self.keys), size=count, replace=False))
        return Series(self.values[rows], self.first, self.keys.iloc[rows].reset_index(drop=True))

    def before(self, rows: Any, periods: Any, memory: int) -> Any:
        """For each (series, period): the `memory` values before the period, oldest first."""
        import numpy as np

        columns = np.asarray(periods)[:, None] - self.first - memory + np.arange(memory)[None, :]
        inside = (columns >= 0) & (columns < self.values.shape[1])
        found = self.values[np.asarray(rows)[:, None], np.clip(columns, 0, self.values.shape[1] - 1)]
        return np.where(inside, found, np.nan)


class Forecaster:
    """A fitted forecast model: the regressor's pipeline and how to build its inputs."""

    def __init__(self, target: str, time: str, by: list[str], freq: str, horizon: int):
        self.target = target
        self.time = time
        self.by = by
        self.freq = freq
        self.horizon = horizon
        self.lags = LAGS[freq]
        self.windows = WINDOWS[freq]
        self.season = SEASON[freq]
        self.seasons_back = SEASONS_BACK[freq]
        self.memory = max(*self.lags, *self.windows, self.season * self.seasons_back)
        self.base = "level"  # or "seasonal": what inputs and the target are relative to
        self.pipeline: Any = None
        self.interval: tuple[float, float] | None = None

    def inputs(self) -> list[Feature]:
        numeric = [f"{self.target}_lag_{lag}" for lag in self.lags]
        numeric += [f"{self.target}_mean_{w}" for w in self.windows]
        numeric += [f"{self.target}_seasonal_mean", f"{self.target}_level"]
        numeric += [f"{self.time}_{part}" for part in (*CALENDAR[self.freq], "index")]
        return [Feature(name=n, type="double", kind="numeric") for n in numeric] + [
            Feature(name=b, type="string", kind="categorical") for b in self.by
        ]

    def series(self, frame: Any) -> Series:
        """The table's rows (time, --by, target columns in datasets.to_frame's encoding) as Series."""
        import numpy as np
        import pandas as pd

        seconds = frame[self.time].to_numpy(dtype="float64")
        kept = ~np.isnan(seconds)
        data = pd.DataFrame({"period": periods_of(seconds[kept], self.freq)})
        data["value"] = frame[self.target].to_numpy(dtype="float64")[kept]
        for name in self.by:  # the key's own values (a number or a string), MISSING for none
            data[name] = frame[name].astype(object).where(frame[name].notna(), preprocess.MISSING).to_numpy()[kept]
        if self.by:
            codes = data.groupby(self.by, sort=False).ngroup().to_numpy()
            keys = data.assign(code=codes).drop_duplicates("code").set_index("code")[self.by].sort_index()
        else:
            codes = np.zeros(len(data), dtype="int64")
            keys = pd.DataFrame(index=pd.RangeIndex(1))
        first = int(data["period"].min()) if len(data) else 0
        width = int(data["period"].max()) - first + 1 if len(data) else 0
        values = np.zeros((len(keys), width))
        counts = np.zeros((len(keys), width))
        column = data["period"].to_numpy() - first
        known = ~np.isnan(data["value"].to_numpy())
        np.add.at(values, (codes[known], column[known]), data["value"].to_numpy()[known])
        np.add.at(counts, (codes[known], column[known]), 1)
        values[counts == 0] = np.nan
        return Series(values, first, keys.reset_index(drop=True))

    def rows(self, history: Any, periods: Any, keys: Any) -> tuple[Any, Any, Any]:
        """The regressor's inputs for values whose `memory` previous values are `history`, and
        each one's base and scale: the regressor predicts (value - base) / scale."""
        import numpy as np
        import pandas as pd

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a window with no value is NaN
            level = np.nanmean(history[:, -self.windows[0] :], axis=1)
            level = np.where(np.isnan(level), last_seen(history), level)
            same_time = history[:, [-self.season * k for k in range(1, self.seasons_back + 1)]]
            seasonal = np.nanmean(same_time, axis=1)
            base = level if self.base == "level" else np.where(np.isnan(seasonal), level, seasonal)
            scale = np.nanmean(np.abs(history), axis=1)
            scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)

            def relative(values: Any) -> Any:
                return (values - base) / scale

            columns: dict[str, Any] = {}
            for lag in self.lags:
                columns[f"{self.target}_lag_{lag}"] = relative(history[:, -lag])
            for window in self.windows:
                columns[f"{self.target}_mean_{window}"] = relative(np.nanmean(history[:, -window:], axis=1))
            columns[f"{self.target}_seasonal_mean"] = relative(seasonal)
            columns[f"{self.target}_level"] = relative(level)
        for part, value in calendar(periods, self.freq).items():
            columns[f"{self.time}_{part}"] = value
        for name in self.by:  # a category to the model, whatever the column's type
            columns[name] = keys[name].astype(str).to_numpy(dtype=object)
        return pd.DataFrame(columns), base, scale

    def training_rows(self, series: Series, start: int | None = None, stop: int | None = None) -> tuple[Any, Any]:
        """Inputs and targets ((value - level) / scale) of every known value with start <= period
        < stop that has a level."""
        import numpy as np
        import pandas as pd

        rows, columns = np.nonzero(~np.isnan(series.values))
        periods = columns + series.first
        keep = np.ones(len(rows), dtype=bool)
        if start is not None:
            keep &= periods >= start
        if stop is not None:
            keep &= periods < stop
        rows, periods = rows[keep], periods[keep]
        parts, targets = [], []
        for at in range(0, len(rows), CHUNK):
            chunk_rows, chunk_periods = rows[at : at + CHUNK], periods[at : at + CHUNK]
            x, level, scale = self.rows(
                series.before(chunk_rows, chunk_periods, self.memory),
                chunk_periods,
                series.keys.iloc[chunk_rows],
            )
            known = ~np.isnan(level)
            parts.append(x[known])
            actual = series.values[chunk_rows, chunk_periods - series.first]
            targets.append(((actual - level) / scale)[known])
        if not parts:
            return pd.DataFrame(columns=[f.name for f in self.inputs()]), np.array([])
        return pd.concat(parts, ignore_index=True), np.concatenate(targets)

    def recursive(self, pipeline: Any, keys: Any, last: Any, history: Any, steps: int) -> Any:
        """Predictions of `steps` periods after `last` (one per row), from the `memory` values
        before each: an (rows, steps) array."""
        import numpy as np

        values = np.hstack([history, np.full((len(history), steps), np.nan)])
        for step in range(steps):
            x, level, scale = self.rows(values[:, step : step + self.memory], last + step + 1, keys)
            values[:, self.memory + step] = level + scale * pipeline.predict(x)
        return values[:, self.memory :]

    def seasonal_naive(self, history: Any, steps: int) -> Any:
        """Each step's value one season before it, the last season repeating; the last value seen
        where that is missing."""
        import numpy as np

        fallback = last_seen(history)
        columns = self.memory - self.season + np.arange(steps) % self.season
        found = history[:, columns]
        return np.where(np.isnan(found), fallback[:, None], found)

    def forecast(self, frame: Any, horizon: int) -> Any:
        """The next `horizon` periods of every series of `frame`, each from its last value: a
        DataFrame of the --by columns, the period's start (datetime64[D]), prediction, lower, upper."""
        import numpy as np
        import pandas as pd

        series = self.series(frame)
        seen = ~np.isnan(series.values)
        rows = np.flatnonzero(seen.any(axis=1))
        last = series.values.shape[1] - 1 - np.argmax(seen[rows, ::-1], axis=1) + series.first
        history = series.before(rows, last + 1, self.memory)
        keys = series.keys.iloc[rows].reset_index(drop=True)
        predicted = self.recursive(self.pipeline, keys, last, history, horizon)
        periods = last[:, None] + np.arange(1, horizon + 1)[None, :]
        out = pd.DataFrame({name: np.repeat(keys[name].to_numpy(), horizon) for name in self.by})
        out[self.time] = period_dates(periods.reshape(-1), self.freq)
        out["prediction"] = predicted.reshape(-1)
        low, high = self.interval if self.interval else (np.nan, np.nan)
        out["lower"] = out["prediction"] + low
        out["upper"] = out["prediction"] + high
        return out


def forecast_metrics(actual: Any, predicted: Any) -> dict[str, float]:
    import numpy as np

    if not len(actual):
        return {}
    error = actual - predicted
    found = {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}
    nonzero = actual != 0
    if nonzero.any():
        found["mape"] = float(np.mean(np.abs(error[nonzero] / actual[nonzero])))
    scale = np.abs(actual) + np.abs(predicted)
    found["smape"] = float(np.mean(np.where(scale == 0, 0.0, 2 * np.abs(error) / np.where(scale == 0, 1, scale))))
    return found


class Backtest:
    """Forecasts over the periods from `cut` to `end` (inclusive) from rolling origins: from each
    origin (every `horizon` periods) the next `horizon` periods, from the actual values before it;
    the model's and the seasonal naive's, beside the actual values. The origins are independent,
    so they are forecast together: one prediction per step, whatever their number."""

    def __init__(self, forecaster: Forecaster, series: Series, cut: int, end: int, horizon: int):
        import numpy as np

        self.forecaster, self.series, self.steps = forecaster, series, horizon
        seen = ~np.isnan(series.values)
        rows, origins, actual = [], [], []
        for origin in range(cut, end + 1, horizon):
            started = seen[:, : max(origin - series.first, 0)].any(axis=1)
            columns = origin - series.first + np.arange(horizon)
            inside = columns <= end - series.first
            values = np.where(inside, series.values[:, np.clip(columns, 0, series.values.shape[1] - 1)], np.nan)
            chosen = np.flatnonzero(started & ~np.isnan(values).all(axis=1))
            rows.append(chosen)
            origins.append(np.full(len(chosen), origin))
            actual.append(values[chosen])
        self.rows = np.concatenate(rows) if rows else np.array([], dtype="int64")
        self.origins = np.concatenate(origins) if origins else np.array([], dtype="int64")
        values = np.vstack(actual) if actual else np.empty((0, horizon))
        self.known = ~np.isnan(values)  # (forecast, step): an actual value to compare with
        self.actual = values[self.known]
        self.history = series.before(self.rows, self.origins, forecaster.memory)

    def predict(self, pipeline: Any) -> Any:
        if not len(self.rows):
            return self.actual
        keys = self.series.keys.iloc[self.rows].reset_index(drop=True)
        table = self.forecaster.recursive(pipeline, keys, self.origins - 1, self.history, self.steps)
        return table[self.known]

    def naive(self) -> Any:
        if not len(self.rows):
            return self.actual
        return self.forecaster.seasonal_naive(self.history, self.steps)[self.known]

    def metrics(self, predicted: Any) -> dict[str, float]:
        import numpy as np

        usable = np.isfinite(predicted)
        return finite(forecast_metrics(self.actual[usable], predicted[usable]))


class Forecast(TaskSpec):
    task = Task.FORECAST
    main_metric = "rmse"

    def pipeline(self, forecaster: Forecaster, settings: Settings, params: dict[str, Any]) -> Any:
        from sklearn.pipeline import Pipeline

        inputs = forecaster.inputs()
        chosen = {**ESTIMATOR_DEFAULTS.get(settings.estimator, {}), **params}
        return Pipeline(
            [
                ("prepare", preprocess.build(inputs, settings.estimator)),
                ("model", regressor(inputs, settings, chosen)),
            ]
        )

    @staticmethod
    def cut_of(series: Series, test_size: float) -> tuple[Any, int]:
        """(the periods that have a value, the first period of the holdout)."""
        periods = series.periods
        held = max(1, math.ceil(test_size * len(periods)))
        return periods, int(periods[len(periods) - held]) if len(periods) else 0

    def fitted(
        self, forecaster: Forecaster, series: Series, stop: int, settings: Settings, params: dict[str, Any]
    ) -> Any:
        x, y = forecaster.training_rows(series, stop=stop)
        if not len(y):
            return None
        return self.pipeline(forecaster, settings, params).fit(x, y)

    def fit(self, data: Dataset, settings: Settings, progress: Progress) -> Fitted:
        import numpy as np

        assert data.target is not None and settings.time is not None
        horizon = settings.horizon or DEFAULT_HORIZON[settings.freq]
        forecaster = Forecaster(data.target.name, settings.time, list(settings.by), settings.freq, horizon)
        progress.step(f"building the {settings.freq} series: lags, rolling means, seasonal mean and calendar")
        series = forecaster.series(data.frame)
        periods, cut = self.cut_of(series, settings.test_size)
        if len(periods) < 3 or cut <= periods[0]:
            raise DataError(
                f"table {data.table} has {len(periods)} {settings.freq} period(s) with a value; "
                "a forecast needs history before its holdout: use more data or a finer --freq"
            )
        x, y = forecaster.training_rows(series, stop=cut)
        if len(y) < 2:
            raise DataError(f"table {data.table} has too little history before its holdout to learn a forecast from")
        options: dict[str, Any] = {"horizon": horizon, "series": len(series.keys)}
        params: dict[str, Any] = {}
        options["base"] = forecaster.base = self.choose_base(
            forecaster, series, periods[periods < cut], settings, progress
        )
        if forecaster.base != "level":
            x, y = forecaster.training_rows(series, stop=cut)
        if settings.search:
            params, tried = self.search(forecaster, series, periods[periods < cut], settings, progress)
            options.update(params=params, search_tried=tried)

        pipeline = self.pipeline(forecaster, settings, params)
        final = pipeline.named_steps["model"]
        progress.step(
            f"fitting {type(final).__name__} on {len(y):,} rows ({len(series.keys):,} series, "
            f"{len(forecaster.inputs())} inputs)"
        )
        pipeline.fit(x, y)
        forecaster.pipeline = pipeline

        holdout = Backtest(forecaster, series, cut, int(periods[-1]), horizon)
        if not len(holdout.actual):
            raise DataError(f"no series of table {data.table} has history before its holdout to forecast from")
        progress.step(
            f"backtesting {len(holdout.actual):,} holdout values, {horizon} period(s) ahead, "
            "against the seasonal naive baseline"
        )
        predicted = holdout.predict(pipeline)
        metrics = holdout.metrics(predicted)
        baseline = Baseline(name="seasonal naive", metrics=holdout.metrics(holdout.naive()))
        residuals = holdout.actual - predicted
        residuals = residuals[np.isfinite(residuals)]
        if len(residuals):
            forecaster.interval = (
                float(np.quantile(residuals, INTERVAL[0])),
                float(np.quantile(residuals, INTERVAL[1])),
            )

        cv = self.cross_validate(forecaster, series, periods[periods < cut], settings, params, progress)

        x_held, y_held = forecaster.training_rows(series, start=cut)
        progress.step(f"permutation importance on {importance_rows(len(y_held), x_held.shape[1]):,} holdout rows")
        importance = (
            permutation(pipeline, x_held, y_held, "neg_root_mean_squared_error", settings.seed) if len(y_held) else None
        )
        return Fitted(
            estimator=forecaster,
            algorithm=algorithm_name(final),
            train_rows=len(y),
            test_rows=len(holdout.actual),
            metrics=metrics,
            baseline=baseline,
            cv=cv,
            importance=importance,
            options=options,
        )

    def choose_base(
        self, forecaster: Forecaster, series: Series, periods: Any, settings: Settings, progress: Progress
    ) -> str:
        """level or seasonal: the base whose model backtests better on the last 20% of the
        training periods (level when they are too few to tell)."""
        held = max(1, math.ceil(SEARCH_VALIDATION * len(periods)))
        if len(periods) - held < 2:
            return "level"
        cut, end = int(periods[len(periods) - held]), int(periods[-1])
        series = series.sample(SEARCH_MAX_ROWS, settings.seed)
        progress.step(
            f"choosing the base (level or seasonal mean) on the last {held} training periods of "
            f"{len(series.keys):,} series"
        )
        scores = {}
        for base in ("level", "seasonal"):
            forecaster.base = base
            scores[base] = self.backtest(forecaster, series, cut, end, settings, {}).get(self.main_metric)
        known = {base: score for base, score in scores.items() if score is not None}
        chosen = min(known, key=lambda base: known[base]) if known else "level"
        shown = ", ".join(f"{base} {score:.4g}" for base, score in known.items())
        progress.note(f"base: {chosen} ({self.main_metric}: {shown})")
        return chosen

    def backtest(
        self,
        forecaster: Forecaster,
        series: Series,
        cut: int,
        end: int,
        settings: Settings,
        params: dict[str, Any],
    ) -> dict[str, float]:
        """Fit on the periods before `cut`, backtest up to `end`: the metrics."""
        pipeline = self.fitted(forecaster, series, cut, settings, params)
        if pipeline is None:
            return {}
        check = Backtest(forecaster, series, cut, end, forecaster.horizon)
        return check.metrics(check.predict(pipeline))

    def cross_validate(
        self,
        forecaster: Forecaster,
        series: Series,
        periods: Any,
        settings: Settings,
        params: dict[str, Any],
        progress: Progress,
    ) -> CrossValidation | None:
        from sklearn.model_selection import TimeSeriesSplit

        if not settings.cv:
            return None
        if len(periods) <= settings.cv + 1:
            raise DataError(
                f"--cv {settings.cv} needs more than {settings.cv + 1} training periods; there are {len(periods)}: "
                "lower --cv"
            )
        series = series.sample(CV_MAX_ROWS, settings.seed)
        per_fold = []
        for number, (_, test) in enumerate(TimeSeriesSplit(n_splits=settings.cv).split(periods), start=1):
            cut, end = int(periods[test[0]]), int(periods[test[-1]])
            progress.step(f"cross-validation fold {number}/{settings.cv} ({len(test)} periods)")
            per_fold.append(self.backtest(forecaster, series, cut, end, settings, params))
        per_fold = [fold for fold in per_fold if fold]
        return CrossValidation(folds=settings.cv, metrics=spread(per_fold)) if per_fold else None

    def search(
        self, forecaster: Forecaster, series: Series, periods: Any, settings: Settings, progress: Progress
    ) -> tuple[dict[str, Any], int]:
        import numpy as np

        held = max(1, math.ceil(SEARCH_VALIDATION * len(periods)))
        cut, end = int(periods[len(periods) - held]), int(periods[-1])
        series = series.sample(SEARCH_MAX_ROWS, settings.seed)
        rng = np.random.default_rng(settings.seed)
        space = regression_space(settings.estimator)
        candidates: list[dict[str, Any]] = [{}] + [draw(space, rng) for _ in range(settings.search)]
        deadline = clock.monotonic() + settings.time_budget if settings.time_budget else None
        best: tuple[dict[str, Any], float] | None = None
        tried = 0
        for number, params in enumerate(candidates, start=1):
            if deadline is not None and tried and clock.monotonic() >= deadline:
                progress.note(
                    f"search: --time-budget {settings.time_budget:g}s spent after {tried} of {len(candidates)} sets"
                )
                break
            progress.step(f"search {number}/{len(candidates)}: {describe(params)}")
            score = self.backtest(forecaster, series, cut, end, settings, params).get(self.main_metric)
            tried += 1
            if score is None:
                continue
            progress.note(f"  {self.main_metric} {score:.4f}")
            if best is None or better(self.main_metric, score, best[1]):
                best = (params, score)
        chosen = best[0] if best else {}
        progress.note(f"search: best of {tried} sets is {describe(chosen)}")
        return chosen, tried

    def score(self, estimator: Any, data: Dataset, options: dict[str, Any]) -> Scored:
        forecaster: Forecaster = estimator
        series = forecaster.series(data.frame)
        periods, cut = self.cut_of(series, float(options.get("test_size", 0.2)))
        if len(periods) < 2 or cut <= periods[0]:
            raise DataError(
                f"table {data.table} has {len(periods)} {forecaster.freq} period(s) with a value; "
                "evaluating a forecast needs history before the periods it scores"
            )
        check = Backtest(forecaster, series, cut, int(periods[-1]), forecaster.horizon)
        metrics = check.metrics(check.predict(forecaster.pipeline))
        baseline = Baseline(name="seasonal naive", metrics=check.metrics(check.naive()))
        return Scored(rows=len(check.actual), metrics=metrics, baseline=baseline)


SPEC = Forecast()

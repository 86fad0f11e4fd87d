"""Forecasts through the installed CLI on a generated seasonal sales series (three stores, a
year of days): the model beats the seasonal naive baseline on the time-ordered holdout, predict
writes the next days of every store with an interval, evaluate scores another stretch of time.
Local and on the moto S3 server; and the engine's pieces in process."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import lake
from dataspoc_ml.errors import ExitCode
from dataspoc_ml.tasks.forecast import Backtest, Forecaster, calendar, period_dates, periods_of

SALES = ["train", "sales", "--table", "gold.shop.daily", "--target", "sales", "--time", "day", "--by", "store_id"]


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def url(request) -> str:
    return request.getfixturevalue(f"{request.param}_bucket")


def test_forecast_beats_seasonal_naive_and_predicts_each_store(ml, url):
    lake.add_table(url, "gold.shop.daily", lake.sales())
    trained = ml(*SALES, "--horizon", "14", "--cv", "2", "--bucket", url, "--json")
    assert trained.code == ExitCode.OK, trained.stderr
    metrics = trained.json()
    lake.assert_valid("metrics", metrics)
    assert metrics["task"] == "forecast" and set(metrics["metrics"]) == {"rmse", "mae", "mape", "smape"}
    assert metrics["baseline"]["name"] == "seasonal naive"
    assert metrics["beats_baseline"] is True
    assert metrics["metrics"]["rmse"] < 0.9 * metrics["baseline"]["metrics"]["rmse"], metrics
    assert metrics["metrics"]["rmse"] < 6  # the noise's sd is 4
    # the last 20% of the 364 days, 3 stores: 73 days each
    assert metrics["holdout"]["test_rows"] == 3 * 73
    assert metrics["cv"]["folds"] == 2 and "rmse" in metrics["cv"]["metrics"]
    # what carries a weekly pattern leads: the seasonal mean, the lag of a week, the weekday
    assert metrics["importance"][0]["feature"] in ("sales_seasonal_mean", "sales_lag_7", "day_weekday")

    features = lake.read_json(url, "ml/models/sales/features.json")
    lake.assert_valid("features", features)
    assert features["target"] == {"name": "sales", "type": "double", "kind": "numeric"}
    assert [f["name"] for f in features["features"]] == ["day", "store_id"]
    options = features["options"]
    assert options["time_column"] == "day" and options["by"] == ["store_id"] and options["freq"] == "D"
    assert options["horizon"] == 14 and options["series"] == 3
    days = lake.sales().column("day")
    assert features["lineage"]["date_range"] == {
        "column": "day",
        "min": str(pc.min(days)),
        "max": str(pc.max(days)),
    }

    predicted = ml("predict", "sales", "--bucket", url, "--json")
    assert predicted.code == ExitCode.OK, predicted.stderr
    assert predicted.json()["horizon"] == 14 and predicted.json()["rows"] == 3 * 14
    assert "trained on these very rows" not in predicted.stderr  # forecasting from the history is the point
    out = lake.read_parquet(url, predicted.json()["path"]).to_pandas()
    assert list(out.columns) == ["store_id", "day", "prediction", "lower", "upper", "model_version", "run_id"]
    schema = lake.read_parquet(url, predicted.json()["path"]).schema
    assert schema.field("day").type == pa.date32() and schema.field("store_id").type == pa.int64()
    assert sorted(set(out["store_id"])) == [1, 2, 3]
    first = pd.Timestamp("2025-01-01") + pd.Timedelta(days=364)
    assert sorted(set(pd.to_datetime(out["day"]))) == list(pd.date_range(first, periods=14))
    assert (out["lower"] <= out["prediction"]).all() and (out["prediction"] <= out["upper"]).all()
    for store in (1, 2, 3):  # each store near its own level, not the others'
        level = 100 * store + 0.05 * 364 + np.mean([0, 5, 10, 12, 20, 40, 30]) * store
        assert abs(out.loc[out["store_id"] == store, "prediction"].mean() - level) < 10 * store

    manifest = lake.read_json(url, ".dataspoc/manifest.json")
    entry = next(t for t in manifest["tables"] if t["location"] == "ml/predictions/sales")
    assert entry["row_count"] == 42 and entry["description"].startswith("Forecast of model sales")

    longer = ml("predict", "sales", "--horizon", "3", "--bucket", url, "--json")
    assert longer.code == ExitCode.OK and longer.json()["rows"] == 9


def test_evaluate_a_forecast_on_later_data(ml, local_bucket):
    everything = lake.sales(days=455)
    history = everything.filter(pa.compute.less(everything["day"], pa.scalar(datetime.date(2025, 12, 31))))
    lake.add_table(local_bucket, "gold.shop.daily", history)
    lake.add_table(local_bucket, "gold.shop.daily_2026", everything)
    assert ml(*SALES, "--bucket", local_bucket).code == ExitCode.OK
    result = ml("evaluate", "sales", "--table", "daily_2026", "--bucket", local_bucket, "--json")
    assert result.code == ExitCode.OK, result.stderr
    report = result.json()
    assert report["task"] == "forecast" and report["main_metric"] == "rmse" and report["beats_baseline"] is True
    assert report["rows"] == 3 * 91  # the last 20% of 455 days, backtested 7 days at a time


def test_weekly_forecast_without_a_series_key(ml, local_bucket):
    daily = lake.sales(days=728, stores=1, start="2024-12-30").to_pandas()  # 104 whole weeks, from a Monday
    timestamps = pd.to_datetime(daily["day"]) + pd.Timedelta(hours=13)
    table = pa.table({"at": pa.array(timestamps, pa.timestamp("us")), "sales": pa.array(daily["sales"])})
    lake.add_table(local_bucket, "gold.shop.total", table)
    trained = ml(
        "train", "weekly", "--table", "total", "--target", "sales", "--time", "at", "--freq", "W",
        "--bucket", local_bucket, "--json",
    )  # fmt: skip
    assert trained.code == ExitCode.OK, trained.stderr
    assert trained.json()["task"] == "forecast"  # --time implies it
    predicted = ml("predict", "weekly", "--bucket", local_bucket, "--json")
    assert predicted.code == ExitCode.OK, predicted.stderr
    out = lake.read_parquet(local_bucket, predicted.json()["path"])
    assert out.column_names == ["at", "prediction", "lower", "upper", "model_version", "run_id"] and out.num_rows == 13
    weeks = pd.to_datetime(out.column("at").to_pandas())
    assert (weeks.dt.day_of_week == 0).all()  # weeks start on Monday
    # a week of the level (100), the trend (0.05 a day, 2 years on) and the weekly pattern (16.7 a day)
    assert np.allclose(out.column("prediction").to_numpy(), 7 * (100 + 0.05 * 770 + 16.7), rtol=0.05)


# the engine in process ----------------------------------------------------------------------
def test_periods_round_trip():
    days = np.array(["2025-01-01", "2025-01-05", "2025-01-06", "2025-02-28"], dtype="datetime64[D]")
    seconds = days.astype("datetime64[s]").astype("int64").astype("float64") + 3600
    assert list(period_dates(periods_of(seconds, "D"), "D")) == list(days)
    assert [str(d) for d in period_dates(periods_of(seconds, "W"), "W")] == [
        "2024-12-30", "2024-12-30", "2025-01-06", "2025-02-24",
    ]  # fmt: skip
    assert [str(d) for d in period_dates(periods_of(seconds, "M"), "M")] == [
        "2025-01-01", "2025-01-01", "2025-01-01", "2025-02-01",
    ]  # fmt: skip
    parts = calendar(periods_of(seconds, "D"), "D")
    assert list(parts["weekday"]) == [2, 6, 0, 4] and list(parts["dayofyear"]) == [1, 5, 6, 59]


def frame_of(table: pa.Table) -> pd.DataFrame:
    frame = table.to_pandas()
    frame["day"] = pd.to_datetime(frame["day"]).to_numpy().astype("datetime64[s]").astype("int64").astype(float)
    frame["store_id"] = frame["store_id"].astype(float)
    return frame


def test_training_rows_are_the_inputs_the_recursion_builds():
    """One step ahead, the recursion's inputs for a period equal the training rows of that period."""
    forecaster = Forecaster("sales", "day", ["store_id"], "D", horizon=7)
    series = forecaster.series(frame_of(lake.sales(days=120)))
    x, y = forecaster.training_rows(series, start=series.first + 100, stop=series.first + 101)
    rows = np.arange(3)
    history = series.before(rows, np.full(3, series.first + 100), forecaster.memory)
    again, level, scale = forecaster.rows(
        history, np.full(3, series.first + 100), series.keys.iloc[rows].reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(x.reset_index(drop=True), again[x.columns])
    assert np.allclose(level + scale * y, series.values[:, 100])


def test_backtest_of_a_perfect_model_has_no_error():
    """Predicting each value from its own lag one season back is exact on a pure weekly pattern."""
    weekly = np.tile([10.0, 20, 30, 40, 50, 60, 70], 20)
    frame = pd.DataFrame(
        {"day": (np.arange(140) + 20089) * 86400.0, "sales": weekly}  # from 2025-01-01
    )
    forecaster = Forecaster("sales", "day", [], "D", horizon=7)
    series = forecaster.series(frame)

    class SeasonBack:
        def predict(self, x):  # the value 7 days back, as the inputs give it (relative and scaled)
            return x["sales_lag_7"].to_numpy()

    check = Backtest(forecaster, series, cut=series.first + 112, end=series.first + 139, horizon=7)
    assert len(check.actual) == 28
    assert np.allclose(check.predict(SeasonBack()), check.actual)
    assert np.allclose(check.naive(), check.actual)

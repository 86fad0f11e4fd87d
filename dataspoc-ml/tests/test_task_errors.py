"""Bad options and the wrong task for a target: one line on stderr that names the option or the
column and what to do, the right exit code, never a traceback; nothing is written."""

from __future__ import annotations

import pytest

import lake
from dataspoc_ml.errors import ExitCode
from test_errors import one_line_error

CHURN = ["train", "m", "--table", "raw.crm.customers", "--target", "churned"]
SALES = ["train", "s", "--table", "gold.shop.daily", "--target", "sales", "--time", "day"]


@pytest.fixture(scope="module")
def lake_url(tmp_path_factory) -> str:
    url = str(tmp_path_factory.mktemp("lake") / "bucket")
    lake.build(url)
    lake.add_table(url, "gold.shop.daily", lake.sales(days=60, stores=1))
    return url


@pytest.mark.parametrize(
    "args, code, wanted",
    [
        (CHURN + ["--estimator", "xgb"], ExitCode.USAGE, ["--estimator 'xgb'", "hgb, rf, linear"]),
        (CHURN + ["--class-weight", "even"], ExitCode.USAGE, ["--class-weight 'even'", "balanced"]),
        (CHURN + ["--cv", "1"], ExitCode.USAGE, ["--cv 1", "2 to 20"]),
        (CHURN + ["--time-budget", "60"], ExitCode.USAGE, ["--time-budget", "--search"]),
        (CHURN + ["--search", "3", "--time-budget", "0"], ExitCode.USAGE, ["--time-budget 0", "above 0"]),
        (CHURN + ["--features", "age,nope"], ExitCode.USAGE, ["--features", "nope", "raw.crm.customers", "country"]),
        (CHURN + ["--k", "3"], ExitCode.USAGE, ["--k", "--task clustering"]),
        (CHURN + ["--horizon", "7"], ExitCode.USAGE, ["--horizon", "--task forecast"]),
        (CHURN + ["--task", "regression"], ExitCode.USAGE, ["--task regression", "'churned'", "boolean"]),
        (CHURN[:-2] + ["--target", "signup_date"], ExitCode.USAGE, ["'signup_date'", "--time"]),
        (["train", "m", "--table", "raw.crm.customers"], ExitCode.USAGE, ["--target", "--task clustering"]),
        (["train", "ltv", "--table", "raw.crm.customers", "--target", "lifetime_value", "--class-weight",
          "balanced"], ExitCode.USAGE, ["--class-weight", "classification", "'lifetime_value'"]),
        (CHURN + ["--task", "clustering"], ExitCode.USAGE, ["--target 'churned'", "clustering"]),
        (["train", "m", "--table", "raw.crm.customers", "--task", "clustering", "--cv", "3"], ExitCode.USAGE,
         ["--cv", "clustering"]),
        (["train", "m", "--table", "raw.crm.customers", "--task", "clustering", "--k", "1"], ExitCode.USAGE,
         ["--k 1", "2 to 100"]),
        (["train", "m", "--table", "raw.crm.loyal", "--task", "clustering", "--k", "30"], ExitCode.DATA,
         ["--k 30", "24 training rows", "raw.crm.loyal", "lower --k"]),
        (["train", "s", "--table", "gold.shop.daily", "--target", "sales", "--task", "forecast"], ExitCode.USAGE,
         ["--time COLUMN"]),
        (SALES[:-1] + ["store_id"], ExitCode.USAGE, ["--time column 'store_id'", "int64", "date or a timestamp"]),
        (SALES + ["--by", "region"], ExitCode.USAGE, ["--by", "region", "gold.shop.daily"]),
        (SALES + ["--freq", "Q"], ExitCode.USAGE, ["--freq 'Q'", "D (days), W (weeks) or M (months)"]),
        (SALES + ["--exclude", "store_id"], ExitCode.USAGE, ["--exclude", "forecasts"]),
        (SALES + ["--horizon", "0"], ExitCode.USAGE, ["--horizon 0"]),
        (SALES + ["--test-size", "0.97"], ExitCode.DATA, ["gold.shop.daily", "history before its holdout"]),
    ],
)  # fmt: skip
def test_bad_options_are_one_line(ml, lake_url, args, code, wanted):
    result = ml(*args, "--bucket", lake_url)
    assert result.code == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert result.stdout == "" and "Traceback" not in result.stderr
    line = lines[-1]  # after the narration of the steps, when the data had to be read first
    assert line.startswith("error: ") and all(not x.startswith("error: ") for x in lines[:-1])
    for text in wanted:
        assert text in line, (text, line)
    assert not lake.exists(lake_url, "ml/models/m") and not lake.exists(lake_url, "ml/models/s")


def test_wrong_commands_for_a_model(ml, lake_url):
    assert ml(*CHURN[:1], "churn", *CHURN[2:], "--exclude", "lifetime_value", "--bucket", lake_url).code == 0
    cases = [
        (["predict", "churn", "--horizon", "3"], ["--horizon", "forecast", "classification"]),
        (
            ["evaluate", "churn", "--table", "raw.crm.prospects"],
            ["raw.crm.prospects", "no column 'churned'", "true values"],
        ),
        (["evaluate", "churn", "--version", "4"], ["no finished version 4"]),
        (["explain", "churn", "--rows", "5000"], ["--rows 5000", "1 to 1000"]),
        (["explain", "churn", "--table", "raw.crm.customers"], ["--table", "--rows N"]),
    ]
    for args, wanted in cases:
        result = ml(*args, "--bucket", lake_url)
        assert result.code == ExitCode.USAGE, (args, result.stderr)
        line = one_line_error(result)
        for text in wanted:
            assert text in line, (text, line)


def test_evaluate_needs_the_features(ml, lake_url):
    lake.add_table(lake_url, "raw.crm.partial", lake.customers(50).drop_columns(["total_spent"]))
    assert ml(*CHURN[:1], "churn2", *CHURN[2:], "--features", "age,total_spent", "--bucket", lake_url).code == 0
    result = ml("evaluate", "churn2", "--table", "raw.crm.partial", "--bucket", lake_url)
    assert result.code == ExitCode.USAGE
    line = one_line_error(result)
    assert "raw.crm.partial lacks the feature columns of model 'churn2': total_spent" in line

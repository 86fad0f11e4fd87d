"""Train and predict end to end through the installed CLI, on a local bucket and on moto S3."""

from __future__ import annotations

import json
from collections import Counter

import pytest

import lake
from dataspoc_ml.errors import ExitCode

CHURN = [
    "train",
    "churn",
    "--table",
    "raw.crm.customers",
    "--target",
    "churned",
    "--exclude",
    "lifetime_value",
    "--json",
]


def check_artifacts(url: str, model: str) -> tuple[dict, dict]:
    features = lake.read_json(url, f"ml/models/{model}/features.json")
    metrics = lake.read_json(url, f"ml/models/{model}/metrics.json")
    lake.assert_valid("features", features)
    lake.assert_valid("metrics", metrics)
    assert lake.exists(url, f"ml/models/{model}/model.pkl")
    assert features["contract_version"] == metrics["contract_version"] == "1.4"
    assert features["training_table"]["run_id"] == lake.RUN_ID
    return features, metrics


def check_predictions(url: str, manifest_before: dict, model: str) -> dict:
    manifest = lake.read_json(url, ".dataspoc/manifest.json")
    lake.assert_valid("manifest", manifest)
    entry = next(t for t in manifest["tables"] if t["location"] == f"ml/predictions/{model}")
    others = [t for t in manifest["tables"] if t is not entry]
    # every other entry exactly as it was, in the same order
    assert json.dumps(others, sort_keys=False) == json.dumps(manifest_before["tables"], sort_keys=False)
    assert entry["layer"] == "ml" and entry["namespace"] == "predictions" and entry["partition_by"] == []
    assert entry["writer"] == "dataspoc-ml/0.1.0"
    [partition] = entry["partitions"]
    [file] = partition["files"]
    assert partition["values"] == {} and file["path"].startswith(f"ml/predictions/{model}/part-{entry['last_run_id']}-")
    assert entry["schema_history"][-1]["columns"] == entry["columns"]
    assert not lake.exists(url, ".dataspoc/manifest.lock")
    return entry


def test_train_and_predict_local(ml, local_bucket):
    before = lake.build(local_bucket)

    trained = ml(*CHURN, "--bucket", local_bucket)
    assert trained.code == ExitCode.OK, trained.stderr
    metrics = trained.json()  # stdout is the metrics document, nothing else
    assert "dropped 8 rows with no value in target 'churned'" in trained.stderr
    features, written = check_artifacts(local_bucket, "churn")
    assert written == metrics
    assert features["task"] == "classification"
    assert {f["name"] for f in features["features"]} == {
        "customer_id",
        "age",
        "country",
        "total_spent",
        "is_member",
        "signup_date",
    }
    assert {f["name"]: f["kind"] for f in features["features"]}["signup_date"] == "datetime"
    assert set(metrics["metrics"]) == {"accuracy", "f1", "roc_auc", "log_loss"}
    assert metrics["algorithm"] == "sklearn.ensemble.HistGradientBoostingClassifier"  # the default estimator
    assert metrics["baseline"]["name"] == "majority class" and metrics["beats_baseline"] is True
    labels = [v for v in lake.customers(400).column("churned").to_pylist() if v is not None]
    baseline = max(Counter(labels).values()) / len(labels)
    assert metrics["metrics"]["accuracy"] > baseline + 0.1, (metrics, baseline)
    assert metrics["metrics"]["roc_auc"] > 0.8

    first = ml("predict", "churn", "--bucket", local_bucket, "--json")
    assert first.code == ExitCode.OK, first.stderr
    result = first.json()
    assert result["rows"] == 400 and result["table"] == "raw.crm.customers"
    entry = check_predictions(local_bucket, before, "churn")
    assert entry["row_count"] == 400
    columns = {c["name"]: c["type"] for c in entry["columns"]}
    assert columns["prediction"] == "bool" and columns["probability"] == "double" and columns["dt"] == "string"
    data = lake.read_parquet(local_bucket, result["path"])
    # no primary key known: every input column is kept, then the task's and the run's
    assert data.num_rows == 400 and data.column_names == [
        *(c["name"] for c in before["tables"][0]["columns"] if c["name"] != "dt"),
        "dt",
        "prediction",
        "probability",
        "model_version",
        "run_id",
    ]
    assert set(data.column("model_version").to_pylist()) == {1}
    assert set(data.column("run_id").to_pylist()) == {entry["last_run_id"]} == {result["run_id"]}
    assert entry["prediction"] == {
        "model": "churn",
        "version": 1,
        "task": "classification",
        "input": {"location": "raw/crm/customers", "last_run_id": lake.RUN_ID},
    }
    assert entry["derived_from"] == ["raw/crm/customers"]
    assert sorted(set(data.column("dt").to_pylist())) == ["2026-11-21", "2026-11-22"]
    probability = data.column("probability").to_pylist()
    assert all(0 <= p <= 1 for p in probability)
    assert [p > 0.5 for p in probability] == data.column("prediction").to_pylist()

    second = ml("predict", "churn", "--table", "raw.crm.customers", "--bucket", local_bucket, "--json")
    assert second.code == ExitCode.OK, second.stderr
    again = check_predictions(local_bucket, before, "churn")
    assert [f["path"] for f in again["partitions"][0]["files"]] == [second.json()["path"]]
    assert second.json()["replaced"] == [result["path"]]
    # a query that planned on the old file still finds it: it waits for vacuum's retention
    assert lake.exists(local_bucket, result["path"])
    assert [r["path"] for r in again["replaced"]] == [result["path"]]
    kept = ml("vacuum", "--bucket", local_bucket, "--json")
    assert kept.code == ExitCode.OK and kept.json()["deleted"] == [] and kept.json()["kept"] == 1
    swept = ml("vacuum", "--retain", "0", "--bucket", local_bucket, "--json")
    assert swept.code == ExitCode.OK, swept.stderr
    assert swept.json()["deleted"] == [result["path"]]
    assert not lake.exists(local_bucket, result["path"])
    assert "replaced" not in check_predictions(local_bucket, before, "churn")
    assert len(again["schema_history"]) == 1  # same columns: no new schema version

    listed = ml("models", "--bucket", local_bucket, "--json")
    assert listed.code == ExitCode.OK, listed.stderr
    [row] = listed.json()
    assert row["model"] == "churn" and row["task"] == "classification" and row["target"] == "churned"
    assert row["metric"] == "accuracy" and row["value"] == metrics["metrics"]["accuracy"]
    table = ml("models", "--bucket", local_bucket)
    assert table.stdout.splitlines()[0].split() == ["MODEL", "VERSION", "TASK", "TARGET", "METRIC", "TRAINED_AT"]
    assert "Traceback" not in first.stderr + second.stderr + trained.stderr


@pytest.mark.s3
def test_train_and_predict_s3_regression(ml, s3_bucket):
    before = lake.build(s3_bucket)
    trained = ml(
        "train",
        "ltv",
        "--table",
        "crm.customers",
        "--target",
        "lifetime_value",
        "--exclude",
        "churned",
        "--json",
        "--bucket",
        s3_bucket,
    )
    assert trained.code == ExitCode.OK, trained.stderr
    features, metrics = check_artifacts(s3_bucket, "ltv")
    assert metrics == trained.json()
    assert features["task"] == "regression" and metrics["algorithm"] == "sklearn.ensemble.HistGradientBoostingRegressor"
    assert set(metrics["metrics"]) == {"r2", "mae", "rmse"}
    assert metrics["metrics"]["r2"] > 0.7  # a mean predictor scores 0

    predicted = ml("predict", "ltv", "--table", "raw.crm.customers", "--json", env={"DATASPOC_BUCKET": s3_bucket})
    assert predicted.code == ExitCode.OK, predicted.stderr
    entry = check_predictions(s3_bucket, before, "ltv")
    assert {c["name"]: c["type"] for c in entry["columns"]}["prediction"] == "double"
    assert "probability" not in {c["name"] for c in entry["columns"]}
    data = lake.read_parquet(s3_bucket, predicted.json()["path"])
    assert data.num_rows == 400


def test_predict_keeps_key_columns_and_publishes_another_table(ml, local_bucket):
    manifest = lake.build(local_bucket)
    # prospects declares its primary key, as a database source's table would
    next(t for t in manifest["tables"] if t["name"] == "prospects")["primary_key"] = ["customer_id"]
    lake.write_json(local_bucket, ".dataspoc/manifest.json", manifest)
    churn = [
        "train",
        "churn",
        "--table",
        "crm.customers",
        "--target",
        "churned",
        "--exclude",
        "lifetime_value,total_spent",
    ]
    assert ml(*churn, "--bucket", local_bucket).code == ExitCode.OK

    keyed = ml("predict", "churn", "--table", "prospects", "--bucket", local_bucket, "--json")
    assert keyed.code == ExitCode.OK, keyed.stderr
    assert keyed.json()["key"] == ["customer_id"] and keyed.json()["output_table"] == "ml.predictions.churn"
    out = lake.read_parquet(local_bucket, keyed.json()["path"])
    assert out.column_names == ["customer_id", "prediction", "probability", "model_version", "run_id"]
    assert out.column("customer_id").to_pylist() == lake.customers(60, seed=11).column("customer_id").to_pylist()

    by_country = ml(
        "predict", "churn", "--key", "country,dt", "--output-table", "churn_by_country",
        "--bucket", local_bucket, "--json",
    )  # fmt: skip
    assert by_country.code == ExitCode.OK, by_country.stderr
    assert "ml.predictions.churn_by_country" in by_country.stderr
    manifest = lake.read_json(local_bucket, ".dataspoc/manifest.json")
    lake.assert_valid("manifest", manifest)
    entries = {t["name"]: t for t in manifest["tables"] if t["layer"] == "ml"}
    assert entries["churn"]["last_run_id"] == keyed.json()["run_id"]  # the model's own table untouched
    other = entries["churn_by_country"]
    assert other["location"] == "ml/predictions/churn_by_country"
    assert other["prediction"]["model"] == "churn" and other["prediction"]["version"] == 1
    out = lake.read_parquet(local_bucket, by_country.json()["path"])
    assert out.column_names == ["country", "dt", "prediction", "probability", "model_version", "run_id"]
    assert out.num_rows == 400 and set(out.column("dt").to_pylist()) == {"2026-11-21", "2026-11-22"}

    # an older version on demand: its number on every row and in the lineage
    assert ml(*churn, "--bucket", local_bucket).code == ExitCode.OK  # v2, promoted
    older = ml("predict", "churn", "--version", "1", "--table", "prospects", "--bucket", local_bucket, "--json")
    assert older.code == ExitCode.OK, older.stderr
    assert older.json()["version"] == 1
    assert set(lake.read_parquet(local_bucket, older.json()["path"]).column("model_version").to_pylist()) == {1}
    newer = ml("predict", "churn", "--table", "prospects", "--bucket", local_bucket, "--json")
    assert set(lake.read_parquet(local_bucket, newer.json()["path"]).column("model_version").to_pylist()) == {2}
    manifest = lake.read_json(local_bucket, ".dataspoc/manifest.json")
    assert next(t for t in manifest["tables"] if t["name"] == "churn")["prediction"]["version"] == 2

    # another model may not replace those predictions; bad keys and names are refused; nothing changes
    assert (
        ml("train", "ltv", "--table", "crm.customers", "--target", "lifetime_value", "--bucket", local_bucket).code == 0
    )
    before = lake.snapshot(local_bucket)
    taken = ml("predict", "ltv", "--output-table", "churn_by_country", "--bucket", local_bucket)
    assert taken.code == ExitCode.USAGE
    assert "ml.predictions.churn_by_country holds the predictions of model 'churn'" in taken.stderr
    unknown = ml("predict", "churn", "--key", "customer_id,nope", "--bucket", local_bucket)
    assert unknown.code == ExitCode.USAGE and "has no column(s) nope" in unknown.stderr
    bad_name = ml("predict", "churn", "--output-table", "Churn-Today", "--bucket", local_bucket)
    assert bad_name.code == ExitCode.USAGE and "bad --output-table 'Churn-Today'" in bad_name.stderr
    assert lake.snapshot(local_bucket) == before
    for result in (taken, unknown, bad_name):
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr

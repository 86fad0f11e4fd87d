"""Classification and regression through the installed CLI, on data that ships with scikit-learn
(breast cancer, wine, diabetes) written to the bucket as tables: the metrics match the same
estimator fitted directly on the same split with the same seed; every metric has a baseline;
--cv, --search and --time-budget, --class-weight, --features; predict, evaluate and explain.
Local and on the moto S3 server."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, f1_score, log_loss, mean_absolute_error, r2_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import lake
from dataspoc_ml.errors import ExitCode

TOLERANCE = 1e-6


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def url(request) -> str:
    return request.getfixturevalue(f"{request.param}_bucket")


def publish(url: str, ref: str, loader, rows: slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
    table, x, y = lake.sklearn_table(loader)
    start, stop, _ = rows.indices(table.num_rows)
    lake.add_table(url, ref, table.slice(start, stop - start))
    return x[rows], y[rows]


def trained(ml, url: str, *args: str) -> dict:
    result = ml("train", *args, "--bucket", url, "--json")
    assert result.code == ExitCode.OK, result.stderr
    assert "Traceback" not in result.stderr
    metrics = result.json()
    lake.assert_valid("metrics", metrics)
    lake.assert_valid("features", lake.read_json(url, f"ml/models/{args[0]}/features.json"))
    return metrics


def close(got: dict, wanted: dict) -> None:
    for name, value in wanted.items():
        assert abs(got[name] - value) < TOLERANCE, (name, got[name], value)


def binary_metrics(model, x, y) -> dict:
    predicted, probability = model.predict(x), model.predict_proba(x)
    return {
        "accuracy": accuracy_score(y, predicted),
        "f1": f1_score(y, predicted),
        "roc_auc": roc_auc_score(y, probability[:, 1]),
        "log_loss": log_loss(y, probability, labels=model.classes_),
    }


def test_classification_matches_scikit_learn(ml, url):
    x, y = publish(url, "raw.lab.cancer", load_breast_cancer)
    metrics = trained(ml, url, "cancer", "--table", "raw.lab.cancer", "--target", "target")

    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=42, stratify=y)
    direct = HistGradientBoostingClassifier(random_state=42).fit(x_train, y_train)
    assert metrics["algorithm"] == "sklearn.ensemble.HistGradientBoostingClassifier"
    assert metrics["holdout"] == {"fraction": 0.2, "train_rows": len(y_train), "test_rows": len(y_test), "seed": 42}
    close(metrics["metrics"], binary_metrics(direct, x_test, y_test))

    majority = np.bincount(y_train).argmax()
    assert metrics["baseline"]["name"] == "majority class"
    close(metrics["baseline"]["metrics"], {"accuracy": np.mean(y_test == majority), "roc_auc": 0.5})
    assert set(metrics["baseline"]["metrics"]) == set(metrics["metrics"])
    assert metrics["beats_baseline"] is True
    importance = metrics["importance"]
    assert len(importance) == 30 and importance == sorted(importance, key=lambda i: -i["mean"])
    features = lake.read_json(url, "ml/models/cancer/features.json")
    assert features["task"] == "classification" and features["target"]["kind"] == "numeric"
    assert features["options"]["estimator"] == "hgb" and features["options"]["seed"] == 42

    predicted = ml("predict", "cancer", "--bucket", url, "--json")
    assert predicted.code == ExitCode.OK, predicted.stderr
    assert predicted.json()["trained_on_these_rows"] is True
    assert "warning: model 'cancer' was trained on these very rows" in predicted.stderr
    out = lake.read_parquet(url, predicted.json()["path"])
    assert np.allclose(out.column("probability").to_numpy(), direct.predict_proba(x)[:, 1], atol=TOLERANCE)
    assert out.column("prediction").to_pylist() == direct.predict(x).tolist()


def test_multiclass_linear_with_cross_validation(ml, local_bucket):
    x, y = publish(local_bucket, "raw.lab.wine", load_wine)
    metrics = trained(
        ml, local_bucket, "wine", "--table", "wine", "--target", "target", "--estimator", "linear", "--cv", "3"
    )
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=42, stratify=y)
    direct = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x_train, y_train)
    predicted, probability = direct.predict(x_test), direct.predict_proba(x_test)
    assert metrics["algorithm"] == "sklearn.linear_model.LogisticRegression"
    close(
        metrics["metrics"],
        {
            "accuracy": accuracy_score(y_test, predicted),
            "f1": f1_score(y_test, predicted, average="macro"),
            "roc_auc": roc_auc_score(y_test, probability, multi_class="ovr"),
            "log_loss": log_loss(y_test, probability),
        },
    )
    folds = []
    for fit_rows, check_rows in StratifiedKFold(3, shuffle=True, random_state=42).split(x_train, y_train):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        model.fit(x_train[fit_rows], y_train[fit_rows])
        folds.append(accuracy_score(y_train[check_rows], model.predict(x_train[check_rows])))
    cv = metrics["cv"]
    assert cv["folds"] == 3
    close(cv["metrics"]["accuracy"], {"mean": np.mean(folds), "std": np.std(folds)})

    # more than two classes: one probability per class, in a struct named by the classes
    scored = ml("predict", "wine", "--key", "alcohol", "--bucket", local_bucket, "--json")
    assert scored.code == ExitCode.OK, scored.stderr
    out = lake.read_parquet(local_bucket, scored.json()["path"])
    assert out.column_names == ["alcohol", "prediction", "probabilities", "model_version", "run_id"]
    assert [f.name for f in out.schema.field("probabilities").type] == ["0", "1", "2"]
    got = np.array([[row[c] for c in ("0", "1", "2")] for row in out.column("probabilities").to_pylist()])
    assert np.allclose(got, direct.predict_proba(x), atol=TOLERANCE)
    assert out.column("prediction").to_pylist() == direct.predict(x).tolist()


def test_regression_estimators_match_scikit_learn(ml, local_bucket):
    x, y = publish(local_bucket, "gold.lab.diabetes", load_diabetes)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=42)
    for name, estimator in (
        ("hgb", HistGradientBoostingRegressor(random_state=42)),
        ("rf", RandomForestRegressor(n_estimators=100, random_state=42)),
        ("linear", make_pipeline(StandardScaler(), Ridge())),
    ):
        metrics = trained(
            ml, local_bucket, f"diabetes_{name}", "--table", "diabetes", "--target", "target", "--estimator", name
        )
        direct = estimator.fit(x_train, y_train).predict(x_test)
        close(
            metrics["metrics"],
            {
                "r2": r2_score(y_test, direct),
                "mae": mean_absolute_error(y_test, direct),
                "rmse": float(np.sqrt(np.mean((y_test - direct) ** 2))),
            },
        )
        assert metrics["baseline"]["name"] == "mean"
        close(
            metrics["baseline"]["metrics"], {"mae": mean_absolute_error(y_test, np.full(len(y_test), y_train.mean()))}
        )
        assert metrics["beats_baseline"] is True and metrics["metrics"]["r2"] > 0.3


def test_class_weight_and_random_forest(ml, local_bucket):
    x, y = publish(local_bucket, "raw.lab.cancer", load_breast_cancer)
    metrics = trained(
        ml, local_bucket, "cancer_rf", "--table", "cancer", "--target", "target", "--estimator", "rf",
        "--class-weight", "balanced", "--seed", "7",
    )  # fmt: skip
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=7, stratify=y)
    direct = RandomForestClassifier(n_estimators=100, class_weight="balanced", random_state=7).fit(x_train, y_train)
    close(metrics["metrics"], binary_metrics(direct, x_test, y_test))
    options = lake.read_json(local_bucket, "ml/models/cancer_rf/features.json")["options"]
    assert options["estimator"] == "rf" and options["class_weight"] == "balanced" and options["seed"] == 7


def test_search_is_bounded_by_the_time_budget(ml, local_bucket):
    publish(local_bucket, "gold.lab.diabetes", load_diabetes)
    common = ["--table", "diabetes", "--target", "target", "--search", "4"]
    searched = ml("train", "searched", *common, "--bucket", local_bucket, "--json")
    assert searched.code == ExitCode.OK, searched.stderr
    assert "search 5/5:" in searched.stderr and "search: best of 5 sets is" in searched.stderr
    options = lake.read_json(local_bucket, "ml/models/searched/features.json")["options"]
    assert options["search"] == 4 and options["search_tried"] == 5 and isinstance(options["params"], dict)
    if options["params"]:  # a drawn set won: it lies within the documented ranges
        assert 0.01 <= options["params"]["learning_rate"] <= 0.3
        assert 8 <= options["params"]["max_leaf_nodes"] <= 128

    hurried = ml("train", "hurried", *common, "--time-budget", "0.001", "--bucket", local_bucket)
    assert hurried.code == ExitCode.OK, hurried.stderr
    assert "search: --time-budget 0.001s spent after 1 of 5 sets" in hurried.stderr
    options = lake.read_json(local_bucket, "ml/models/hurried/features.json")["options"]
    assert options["search_tried"] == 1 and options["params"] == {} and options["time_budget"] == 0.001


def test_noise_does_not_beat_the_baseline_and_says_so(ml, local_bucket):
    import pyarrow as pa

    rng = np.random.default_rng(3)
    noise = pa.table({"a": rng.normal(size=300), "b": rng.normal(size=300), "y": rng.normal(size=300)})
    lake.add_table(local_bucket, "gold.lab.noise", noise)
    result = ml("train", "noise", "--table", "noise", "--target", "y", "--bucket", local_bucket, "--json")
    assert result.code == ExitCode.OK, result.stderr
    metrics = result.json()
    assert metrics["metrics"]["r2"] < 0 and metrics["beats_baseline"] is False
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2, result.stderr
    assert warnings[0].startswith("warning: model 'noise' does not beat the baseline (mean) on the holdout: r2 ")
    assert warnings[1].startswith("warning: R² on the holdout is -")


def test_features_exclude_and_ids(ml, local_bucket):
    lake.build(local_bucket)
    common = ["--table", "raw.crm.customers", "--target", "churned"]
    for name, extra, wanted in (
        ("picked", ["--features", "age,country"], ["age", "country"]),
        ("no_ids", ["--exclude-ids", "--exclude", "lifetime_value"],
         ["age", "country", "total_spent", "is_member", "signup_date"]),
        ("with_dt", ["--features", "age,dt"], ["age", "dt"]),  # a partition column, when asked for
    ):  # fmt: skip
        assert ml("train", name, *common, *extra, "--bucket", local_bucket).code == ExitCode.OK
        features = lake.read_json(local_bucket, f"ml/models/{name}/features.json")
        assert [f["name"] for f in features["features"]] == wanted


def test_evaluate_on_another_table_and_version(ml, local_bucket):
    x, y = publish(local_bucket, "raw.lab.cancer_train", load_breast_cancer, slice(0, 400))
    x_new, y_new = publish(local_bucket, "raw.lab.cancer_new", load_breast_cancer, slice(400, None))
    first = trained(ml, local_bucket, "cancer", "--table", "cancer_train", "--target", "target")
    trained(ml, local_bucket, "cancer", "--table", "cancer_train", "--target", "target", "--seed", "7")

    x_train, _, y_train, _ = train_test_split(x, y, test_size=0.2, random_state=7, stratify=y)
    direct = HistGradientBoostingClassifier(random_state=7).fit(x_train, y_train)
    result = ml("evaluate", "cancer", "--table", "raw.lab.cancer_new", "--bucket", local_bucket, "--json")
    assert result.code == ExitCode.OK, result.stderr
    report = result.json()
    assert report["version"] == 2 and report["rows"] == len(y_new) and report["trained_on_these_rows"] is False
    close(report["metrics"], binary_metrics(direct, x_new, y_new))
    assert report["baseline"]["name"] == "majority class"
    close(report["baseline"]["metrics"], {"accuracy": max(np.mean(y_new), 1 - np.mean(y_new))})
    assert report["main_metric"] == "accuracy" and report["beats_baseline"] is True

    older = ml("evaluate", "cancer", "--version", "1", "--table", "cancer_train", "--bucket", local_bucket)
    assert older.code == ExitCode.OK, older.stderr
    assert older.stdout.splitlines()[0].split() == ["metric", "model", "baseline", "(majority", "class)"]
    assert "warning: model 'cancer' was trained on these very rows" in older.stderr
    assert first["version"] == 1


def test_explain_splits_predictions_by_feature(ml, local_bucket):
    x, y = publish(local_bucket, "raw.lab.cancer", load_breast_cancer)
    metrics = trained(ml, local_bucket, "cancer", "--table", "cancer", "--target", "target")
    plain = ml("explain", "cancer", "--bucket", local_bucket, "--json")
    assert plain.code == ExitCode.OK, plain.stderr
    assert plain.json()["importance"] == metrics["importance"] and "rows" not in plain.json()

    result = ml("explain", "cancer", "--rows", "3", "--bucket", local_bucket, "--json")
    assert result.code == ExitCode.OK, result.stderr
    report = result.json()
    assert report["method"].startswith("break-down") and report["output"] == "probability of the predicted class"
    x_train, _, y_train, _ = train_test_split(x, y, test_size=0.2, random_state=42, stratify=y)
    direct = HistGradientBoostingClassifier(random_state=42).fit(x_train, y_train)
    probability = direct.predict_proba(x[:3])
    for row in report["rows"]:
        contributions = [c["contribution"] for c in row["contributions"]]
        assert len(contributions) == 30
        assert abs(row["reference"] + sum(contributions) - row["output"]) < 1e-9
        assert row["prediction"] == direct.predict(x[row["row"] : row["row"] + 1])[0]
        assert abs(row["output"] - probability[row["row"]].max()) < TOLERANCE

    x, y = publish(local_bucket, "gold.lab.diabetes", load_diabetes)
    trained(ml, local_bucket, "sugar", "--table", "diabetes", "--target", "target", "--estimator", "linear")
    linear = ml("explain", "sugar", "--rows", "2", "--bucket", local_bucket, "--json").json()
    assert linear["method"] == "coefficient x value" and linear["output"] == "prediction"
    x_train, _, y_train, _ = train_test_split(x, y, test_size=0.2, random_state=42)
    ridge = make_pipeline(StandardScaler(), Ridge()).fit(x_train, y_train)
    scaled = ridge[0].transform(x[:2]) * ridge[1].coef_
    for row in linear["rows"]:
        by_name = {c["feature"]: c["contribution"] for c in row["contributions"]}
        assert abs(row["output"] - ridge.predict(x[row["row"] : row["row"] + 1])[0]) < TOLERANCE
        assert abs(row["reference"] - ridge[1].intercept_) < TOLERANCE
        assert abs(by_name["bmi"] - scaled[row["row"], 2]) < TOLERANCE

    text = ml("explain", "cancer", "--rows", "1", "--bucket", local_bucket)
    assert text.code == ExitCode.OK and text.stdout.splitlines()[0].split() == ["feature", "importance", "std"]
    assert "row 0: prediction" in text.stdout

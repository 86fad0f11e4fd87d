"""Holdout metrics: accuracy, f1, roc_auc (binary) for classification; r2, mae, rmse for regression."""

from __future__ import annotations

from typing import Any

MAIN_METRIC = {"classification": "accuracy", "regression": "r2"}


def classification_metrics(model: Any, x_test: Any, y_test: Any) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    classes = list(model.classes_)
    predicted = model.predict(x_test)
    metrics = {"accuracy": float(accuracy_score(y_test, predicted))}
    if len(classes) == 2:
        metrics["f1"] = float(f1_score(y_test, predicted, average="binary", pos_label=classes[1]))
        if len(set(y_test.tolist())) == 2:
            probability = model.predict_proba(x_test)[:, 1]
            metrics["roc_auc"] = float(roc_auc_score(y_test == classes[1], probability))
    else:
        metrics["f1"] = float(f1_score(y_test, predicted, average="macro"))
    return metrics


def regression_metrics(model: Any, x_test: Any, y_test: Any) -> dict[str, float]:
    import numpy as np
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    predicted = model.predict(x_test)
    metrics = {
        "mae": float(mean_absolute_error(y_test, predicted)),
        "rmse": float(np.sqrt(mean_squared_error(y_test, predicted))),
    }
    if len(y_test) >= 2:
        metrics["r2"] = float(r2_score(y_test, predicted))
    return metrics


def evaluate(task: str, model: Any, x_test: Any, y_test: Any) -> dict[str, float]:
    if task == "classification":
        return classification_metrics(model, x_test, y_test)
    return regression_metrics(model, x_test, y_test)


def main_metric(task: str, metrics: dict[str, float]) -> tuple[str, float | None]:
    name = MAIN_METRIC.get(task, "")
    if name in metrics:
        return name, metrics[name]
    if metrics:
        first = next(iter(metrics))
        return first, metrics[first]
    return "", None

"""A model's files in the bucket: ml/models/<model>/{model.pkl, features.json, metrics.json}.

model.pkl is written first, then features.json, then metrics.json: metrics.json is the
completion marker, so a model without it is unfinished and is neither listed nor loaded.
model.pkl is a pickle (joblib): load models only from buckets you trust, as you would code.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from dataspoc_ml import console
from dataspoc_ml.bucket import Bucket
from dataspoc_ml.contract import MODELS_DIR, model_dir
from dataspoc_ml.contract.models import Features, Metrics, dump, parse
from dataspoc_ml.errors import ContractError, UnknownModel


def model_path(model: str) -> str:
    return f"{model_dir(model)}/model.pkl"


def features_path(model: str) -> str:
    return f"{model_dir(model)}/features.json"


def metrics_path(model: str) -> str:
    return f"{model_dir(model)}/metrics.json"


@dataclass
class ModelInfo:
    name: str
    features: Features
    metrics: Metrics


def save(bucket: Bucket, estimator: Any, features: Features, metrics: Metrics) -> None:
    import joblib

    name = features.model
    # A retrained model is unfinished until its new metrics.json lands.
    bucket.delete(metrics_path(name))
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer, compress=3)
    bucket.write_bytes(model_path(name), buffer.getvalue())
    bucket.write_json(features_path(name), dump(features))
    bucket.write_json(metrics_path(name), dump(metrics))


def model_names(bucket: Bucket) -> list[str]:
    """Names of the models whose training finished (metrics.json present)."""
    names = []
    for entry in bucket.list(MODELS_DIR):
        name = entry.rstrip("/").rsplit("/", 1)[-1]
        if bucket.exists(metrics_path(name)):
            names.append(name)
    return sorted(names)


def _unknown(bucket: Bucket, name: str) -> UnknownModel:
    names = model_names(bucket)
    known = ", ".join(names) if names else "none yet; train one with 'dataspoc-ml train'"
    return UnknownModel(f"no model '{name}' in {bucket.display(MODELS_DIR)}; models: {known}")


def info(bucket: Bucket, name: str) -> ModelInfo:
    metrics_doc = bucket.read_json(metrics_path(name))
    features_doc = bucket.read_json(features_path(name))
    if metrics_doc is None or features_doc is None:
        raise _unknown(bucket, name)
    return ModelInfo(
        name=name,
        features=parse("features", features_doc, bucket.display(features_path(name))),
        metrics=parse("metrics", metrics_doc, bucket.display(metrics_path(name))),
    )


def load(bucket: Bucket, name: str) -> tuple[Any, ModelInfo]:
    import joblib

    model_info = info(bucket, name)
    data = bucket.read_bytes(model_path(name))
    if data is None:
        raise ContractError(
            f"{bucket.display(model_path(name))} is missing; retrain the model with 'dataspoc-ml train {name}'"
        )
    try:
        estimator = joblib.load(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - a broken or incompatible pickle
        raise ContractError(
            f"cannot load {bucket.display(model_path(name))} ({type(exc).__name__}: {exc}); "
            f"retrain it with 'dataspoc-ml train {name}'"
        ) from None
    return estimator, model_info


def all_models(bucket: Bucket) -> list[ModelInfo]:
    """Every finished model; one whose features.json or metrics.json is broken is skipped with a warning."""
    bucket.check_exists()  # a missing bucket must not look like one without models
    models = []
    for name in model_names(bucket):
        try:
            models.append(info(bucket, name))
        except UnknownModel:
            console.warn(f"skipping model '{name}': {bucket.display(features_path(name))} is missing; retrain it")
        except ContractError as exc:
            console.warn(f"skipping model '{name}': {exc}")
    return models

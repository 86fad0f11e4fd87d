"""The model registry in the bucket: every trained version, and the promoted one.

    ml/models/<model>/v<N>/{model.pkl, features.json, card.md, metrics.json}   each version
    ml/models/<model>/{model.pkl, card.md, metrics.json, features.json}        the promoted one

In a version folder metrics.json is written last: a folder without it is an unfinished (killed)
training and is neither listed nor loaded. Promoting copies a version's files to the model
folder, features.json last: its `version` is what every reader here follows, so a promotion
cut short leaves the previous version in force. Contract 1.0 readers find the promoted files
where they always did.

model.pkl is a pickle: unpickling runs code. features.json records its sha256, and a file whose
hash differs is refused before a single byte of it is unpickled.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataspoc_ml import console
from dataspoc_ml.bucket import Bucket
from dataspoc_ml.contract import MODELS_DIR, model_dir
from dataspoc_ml.contract.models import Features, Metrics, dump, parse
from dataspoc_ml.errors import ContractError, UnknownModel, UsageError

if TYPE_CHECKING:
    from dataspoc_ml.contract.models import Table

CONTRACT = "1.4"  # the version whose fields the registry writes
FILES = ("model.pkl", "features.json", "card.md", "metrics.json")  # the order a version is written in
VERSION_DIR = re.compile(r"^v([1-9][0-9]*)$")
LIBRARIES = ("scikit-learn", "numpy", "pandas", "pyarrow", "joblib", "dataspoc-ml")


def failpoint(name: str) -> None:
    """Crash trials: with DATASPOC_FAILPOINT=ml:<name> the process kills itself here (SIGKILL),
    as a power cut would, so tests can prove a cut-short training leaves the registry usable."""
    if os.environ.get("DATASPOC_FAILPOINT") == f"ml:{name}":
        os.kill(os.getpid(), signal.SIGKILL)


def version_dir(model: str, version: int | None) -> str:
    return model_dir(model) if version is None else f"{model_dir(model)}/v{version}"


def model_path(model: str, version: int | None = None) -> str:
    return f"{version_dir(model, version)}/model.pkl"


def features_path(model: str, version: int | None = None) -> str:
    return f"{version_dir(model, version)}/features.json"


def metrics_path(model: str, version: int | None = None) -> str:
    return f"{version_dir(model, version)}/metrics.json"


def card_path(model: str, version: int | None = None) -> str:
    return f"{version_dir(model, version)}/card.md"


def lock_path(model: str) -> str:
    return f"{model_dir(model)}/registry.lock"


@dataclass
class ModelInfo:
    name: str
    features: Features
    metrics: Metrics
    version: int | None = None  # None: a model trained before the registry (contract 1.0)
    promoted: bool = True


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# writing -----------------------------------------------------------------------------------
def save(
    bucket: Bucket,
    estimator: Any,
    features: Features,
    metrics: Metrics,
    *,
    table: Table | None = None,
    argv: list[str] | None = None,
    date_range: dict[str, str] | None = None,
    promote: bool = True,
) -> int:
    """Write a new version of the model (and promote it unless told not to); its number."""
    import joblib

    from dataspoc_ml import card

    name = features.model
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer, compress=3)
    pickled = buffer.getvalue()
    with bucket.lock(lock_path(name), owner="dataspoc-ml"):
        version = max(_version_numbers(bucket, name, finished_only=False), default=0) + 1
        update: dict[str, Any] = {"contract_version": CONTRACT, "version": version, "model_sha256": sha256(pickled)}
        if table is not None:
            update["lineage"] = lineage(table, argv) | ({"date_range": date_range} if date_range else {})
        features = Features.model_validate({**dump(features), **update})
        metrics = Metrics.model_validate({**dump(metrics), "contract_version": CONTRACT, "version": version})
        documents: dict[str, bytes] = {
            "model.pkl": pickled,
            "features.json": _json(dump(features)),
            "card.md": card.render(features, metrics).encode(),
            "metrics.json": _json(dump(metrics)),
        }
        for file in FILES:  # metrics.json last: the version is complete once it lands
            bucket.write_bytes(f"{version_dir(name, version)}/{file}", documents[file])
            failpoint(f"after-version-{file}")
        if promote:
            _promote(bucket, name, documents)
    return version


def _json(document: dict[str, Any]) -> bytes:
    import json

    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def _promote(bucket: Bucket, name: str, documents: dict[str, bytes]) -> None:
    # features.json last: it names the version readers follow (see the module's docstring)
    for file in ("model.pkl", "card.md", "metrics.json", "features.json"):
        bucket.write_bytes(f"{model_dir(name)}/{file}", documents[file])
        failpoint(f"after-promoted-{file}")


def promote(bucket: Bucket, name: str, version: int) -> ModelInfo:
    """Make `version` the model's promoted version (a rollback is a promotion of an older one)."""
    bucket.check_exists()
    with bucket.lock(lock_path(name), owner="dataspoc-ml"):
        info_ = info(bucket, name, version)
        pickled = _verified_pickle(bucket, info_)
        card_text = bucket.read_bytes(card_path(name, version))
        if card_text is None:
            from dataspoc_ml import card

            card_text = card.render(info_.features, info_.metrics).encode()
        _promote(
            bucket,
            name,
            {
                "model.pkl": pickled,
                "card.md": card_text,
                "metrics.json": _json(dump(info_.metrics)),
                "features.json": _json(dump(info_.features)),
            },
        )
    return info_


def lineage(table: Table, argv: list[str] | None) -> dict[str, Any]:
    """Exactly which data trained the model: the table's manifest entry at training time."""
    import platform
    import shlex
    from importlib import metadata

    from dataspoc_ml.diagnostics import scrub

    files = [
        {"path": f.path, "rows": f.rows, **({"run_id": f.run_id} if f.run_id else {})}
        for p in table.partitions
        for f in p.files
    ]
    libraries = {"python": platform.python_version()}
    for package in LIBRARIES:
        try:
            libraries[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    document: dict[str, Any] = {
        "table": table.location,
        "last_run_id": table.last_run_id,
        "rows": sum(f["rows"] for f in files),
        "partitions": len(table.partitions),
        "files": files,
        "runs": sorted({f["run_id"] for f in files if "run_id" in f}),
        "libraries": libraries,
    }
    if argv:
        document["command"] = scrub(shlex.join(["dataspoc-ml", *argv[1:]]))
    return document


# reading -----------------------------------------------------------------------------------
def _version_numbers(bucket: Bucket, name: str, finished_only: bool = True) -> list[int]:
    numbers = []
    for entry in bucket.list(model_dir(name)):
        match = VERSION_DIR.match(entry.rstrip("/").rsplit("/", 1)[-1])
        if match and (not finished_only or bucket.exists(metrics_path(name, int(match.group(1))))):
            numbers.append(int(match.group(1)))
    return sorted(numbers)


def model_names(bucket: Bucket) -> list[str]:
    """Names of the models with a finished, promoted version (metrics.json in the model folder)."""
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


def promoted_version(bucket: Bucket, name: str) -> int | None:
    document = bucket.read_json(features_path(name))
    if document is None:
        raise _unknown(bucket, name)
    return parse("features", document, bucket.display(features_path(name))).version


def info(bucket: Bucket, name: str, version: int | None = None) -> ModelInfo:
    """A version's documents; the promoted version when `version` is None."""
    try:
        promoted = promoted_version(bucket, name)
    except UnknownModel:
        if version is None:
            raise
        promoted = None  # no promoted version yet (the first training was cut short): v<N> still loads
    wanted = promoted if version is None else version
    metrics_doc = bucket.read_json(metrics_path(name, wanted))
    features_doc = bucket.read_json(features_path(name, wanted))
    if metrics_doc is None or features_doc is None:
        if version is None:
            raise _unknown(bucket, name)
        have = ", ".join(f"v{n}" for n in _version_numbers(bucket, name)) or "none"
        raise UnknownModel(f"model '{name}' has no finished version {version}; its versions: {have}")
    return ModelInfo(
        name=name,
        features=parse("features", features_doc, bucket.display(features_path(name, wanted))),
        metrics=parse("metrics", metrics_doc, bucket.display(metrics_path(name, wanted))),
        version=wanted,
        promoted=wanted == promoted,
    )


def versions(bucket: Bucket, name: str) -> list[ModelInfo]:
    """Every finished version, oldest first (a model from before the registry: its one version)."""
    bucket.check_exists()
    numbers = _version_numbers(bucket, name)
    if not numbers:
        return [info(bucket, name)]
    return [info(bucket, name, n) for n in numbers]


def _verified_pickle(bucket: Bucket, model_info: ModelInfo) -> bytes:
    """model.pkl's bytes, once their hash matches the one recorded at training."""
    where = model_path(model_info.name, model_info.version)
    data = bucket.read_bytes(where)
    if data is None:
        raise ContractError(
            f"{bucket.display(where)} is missing; retrain the model with 'dataspoc-ml train {model_info.name}'"
        )
    expected = model_info.features.model_sha256
    if expected is None:
        console.warn(
            f"{bucket.display(where)} was written before model hashes were recorded: loading it unchecked; "
            "retrain the model to record one"
        )
    elif sha256(data) != expected:
        raise ContractError(
            f"{bucket.display(where)} does not match the sha256 recorded when it was trained: it was changed "
            "or damaged, and is not loaded; retrain the model or promote another version"
        )
    return data


def load(bucket: Bucket, name: str, version: int | None = None) -> tuple[Any, ModelInfo]:
    """The fitted estimator of a version (the promoted one by default), hash-checked first."""
    import joblib

    model_info = info(bucket, name, version)
    data = _verified_pickle(bucket, model_info)
    try:
        estimator = joblib.load(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - a pickle of another library version, or damaged
        raise ContractError(
            f"cannot load {bucket.display(model_path(name, model_info.version))} ({type(exc).__name__}: {exc}); "
            f"retrain it with 'dataspoc-ml train {name}'"
        ) from None
    return estimator, model_info


def all_models(bucket: Bucket) -> list[ModelInfo]:
    """Every model's promoted version; one whose documents are broken is skipped with a warning."""
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


def card_text(bucket: Bucket, name: str, version: int | None = None) -> str:
    model_info = info(bucket, name, version)
    stored = bucket.read_bytes(card_path(name, model_info.version))
    if stored is not None:
        return stored.decode()
    from dataspoc_ml import card

    return card.render(model_info.features, model_info.metrics)


def check_version(value: int | None) -> None:
    if value is not None and value < 1:
        raise UsageError(f"--version {value}: versions are numbered from 1 (see `dataspoc-ml versions MODEL`)")

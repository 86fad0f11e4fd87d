"""The model registry through the installed CLI: versions, promotion and rollback, the model card,
lineage, hash-checked loading, and trainings cut short by SIGKILL; local and on moto S3."""

from __future__ import annotations

import hashlib
import json
import signal

import pytest

import lake
from dataspoc_ml.errors import ExitCode

TRAIN = ["train", "churn", "--table", "raw.crm.customers", "--target", "churned", "--exclude", "lifetime_value"]


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def url(request):
    bucket = request.getfixturevalue(f"{request.param}_bucket")
    lake.build(bucket)
    return bucket


def model_bytes(url: str, rel: str) -> bytes:
    import fsspec

    with fsspec.open(f"{url}/{rel}", "rb") as handle:
        return handle.read()


def test_every_training_is_a_version_and_promotion_rolls_back(ml, url):
    first = ml(*TRAIN, "--bucket", url)
    assert first.code == ExitCode.OK, first.stderr
    second = ml(*TRAIN, "--seed", "7", "--bucket", url)
    assert second.code == ExitCode.OK, second.stderr

    listed = ml("versions", "churn", "--bucket", url, "--json")
    assert listed.code == ExitCode.OK, listed.stderr
    assert [(v["version"], v["promoted"]) for v in listed.json()] == [(1, False), (2, True)]
    for version in (1, 2):
        features = lake.read_json(url, f"ml/models/churn/v{version}/features.json")
        lake.assert_valid("features", features)
        lake.assert_valid("metrics", lake.read_json(url, f"ml/models/churn/v{version}/metrics.json"))
        assert features["version"] == version
        pickled = model_bytes(url, f"ml/models/churn/v{version}/model.pkl")
        assert features["model_sha256"] == hashlib.sha256(pickled).hexdigest()
    top = lake.read_json(url, "ml/models/churn/features.json")
    assert top["version"] == 2
    assert model_bytes(url, "ml/models/churn/model.pkl") == model_bytes(url, "ml/models/churn/v2/model.pkl")

    lineage = top["lineage"]
    assert lineage["table"] == "raw/crm/customers" and lineage["last_run_id"] == lake.RUN_ID
    assert lineage["rows"] == 400 and lineage["runs"] == [lake.RUN_ID]
    assert [f["path"] for f in lineage["files"]] == [
        p["files"][0]["path"]
        for t in lake.read_json(url, ".dataspoc/manifest.json")["tables"]
        if t["location"] == "raw/crm/customers"
        for p in t["partitions"]
    ]
    assert "scikit-learn" in lineage["libraries"] and "python" in lineage["libraries"]
    assert lineage["command"].startswith("dataspoc-ml train churn --table raw.crm.customers")
    assert lineage["date_range"] == {"column": "dt", "min": "2026-11-21", "max": "2026-11-22"}

    rolled = ml("promote", "churn", "--version", "1", "--bucket", url)
    assert rolled.code == ExitCode.OK, rolled.stderr
    assert "now uses v1" in rolled.stderr
    assert lake.read_json(url, "ml/models/churn/features.json")["version"] == 1
    assert model_bytes(url, "ml/models/churn/model.pkl") == model_bytes(url, "ml/models/churn/v1/model.pkl")
    models = ml("models", "--bucket", url, "--json").json()
    assert [(m["model"], m["version"]) for m in models] == [("churn", 1)]
    predicted = ml("predict", "churn", "--bucket", url)
    assert predicted.code == ExitCode.OK, predicted.stderr

    shown = ml("show", "churn", "--version", "2", "--bucket", url, "--json").json()
    assert shown["version"] == 2 and shown["promoted"] is False
    compared = ml("compare", "churn", "--bucket", url, "--json").json()
    assert [v["version"] for v in compared["versions"]] == [1, 2]
    assert "accuracy" in compared["metrics"]
    card = ml("card", "churn", "--bucket", url)
    assert card.stdout.startswith("# Model card: churn v1")
    assert "## Data and lineage" in card.stdout and lake.RUN_ID in card.stdout
    assert "- `dt` from 2026-11-21 to 2026-11-22" in card.stdout and "Saw no data after 2026-11-22." in card.stdout
    assert model_bytes(url, "ml/models/churn/v1/card.md").decode() == card.stdout.rstrip("\n") + "\n"


def test_unknown_versions_are_named(ml, local_bucket):
    lake.build(local_bucket)
    assert ml(*TRAIN, "--bucket", local_bucket).code == ExitCode.OK
    for argv in (["promote", "churn", "--version", "5"], ["show", "churn", "--version", "5"]):
        result = ml(*argv, "--bucket", local_bucket)
        assert result.code == ExitCode.USAGE, result.stderr
        assert result.stderr.strip() == "error: model 'churn' has no finished version 5; its versions: v1"
    zero = ml("card", "churn", "--version", "0", "--bucket", local_bucket)
    assert zero.code == ExitCode.USAGE and "versions are numbered from 1" in zero.stderr
    missing = ml("versions", "nope", "--bucket", local_bucket)
    assert missing.code == ExitCode.USAGE and "no model 'nope'" in missing.stderr


def test_a_tampered_model_is_never_unpickled(ml, local_bucket):
    lake.build(local_bucket)
    assert ml(*TRAIN, "--bucket", local_bucket).code == ExitCode.OK
    path = f"{local_bucket}/ml/models/churn/v1/model.pkl"
    with open(path, "ab") as handle:
        handle.write(b"\x00")  # one byte: today's reproduction made predict grow to 24 GB
    for argv in (["predict", "churn"], ["promote", "churn", "--version", "1"]):
        result = ml(*argv, "--bucket", local_bucket)
        assert result.code == ExitCode.DATA, result.stderr
        [line] = result.stderr.strip().splitlines()
        assert line == (
            f"error: {path} does not match the sha256 recorded when it was trained: it was changed or "
            "damaged, and is not loaded; retrain the model or promote another version"
        )
    assert not lake.exists(local_bucket, "ml/predictions/churn")


@pytest.mark.parametrize(
    "step",
    [
        "after-version-model.pkl",
        "after-version-card.md",
        "after-version-metrics.json",
        "after-promoted-model.pkl",
        "after-promoted-metrics.json",
    ],
)
def test_a_training_killed_at_any_step_leaves_the_previous_version_in_use(ml, local_bucket, step):
    lake.build(local_bucket)
    assert ml(*TRAIN, "--bucket", local_bucket).code == ExitCode.OK
    before = model_bytes(local_bucket, "ml/models/churn/v1/model.pkl")
    killed = ml(*TRAIN, "--seed", "9", "--bucket", local_bucket, env={"DATASPOC_FAILPOINT": f"ml:{step}"})
    assert killed.code == -signal.SIGKILL
    assert lake.read_json(local_bucket, "ml/models/churn/features.json")["version"] == 1
    assert model_bytes(local_bucket, "ml/models/churn/v1/model.pkl") == before
    predicted = ml("predict", "churn", "--bucket", local_bucket, "--json")
    assert predicted.code == ExitCode.OK, predicted.stderr
    listed = [v["version"] for v in ml("versions", "churn", "--bucket", local_bucket, "--json").json()]
    assert listed == ([1, 2] if step.startswith("after-promoted") or step.endswith("metrics.json") else [1])
    again = ml(*TRAIN, "--bucket", local_bucket, "--json")
    assert again.code == ExitCode.OK, again.stderr
    # a folder a killed training left unfinished is never reused: the next version is past it
    newest = json.loads(again.stdout)["version"]
    assert newest == 3
    assert lake.read_json(local_bucket, "ml/models/churn/features.json")["version"] == newest
    assert [v["version"] for v in ml("versions", "churn", "--bucket", local_bucket, "--json").json()][-1] == newest

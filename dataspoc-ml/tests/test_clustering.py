"""Clustering through the installed CLI on generated blobs (sklearn.datasets.make_blobs): k
given or chosen by silhouette, the blobs recovered (adjusted Rand index > 0.9), segments numbered
by size with their profiles, predict's int32 segment column, evaluate beside random segments.
Local and on the moto S3 server."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

import lake
from dataspoc_ml.errors import ExitCode

CENTRES = [[0, 0, 0], [8, 0, 0], [0, 8, 0], [0, 0, 8]]


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def url(request) -> str:
    return request.getfixturevalue(f"{request.param}_bucket")


def blobs(url: str, ref: str = "gold.lab.blobs", rows: int = 800, seed: int = 0) -> np.ndarray:
    x, labels = make_blobs(n_samples=rows, centers=CENTRES, cluster_std=1.2, random_state=seed)
    kinds = np.where(labels % 2 == 0, "even", "odd")  # a category that goes with the blobs
    table = pa.table(
        {
            "a": x[:, 0],
            "b": x[:, 1],
            "c": x[:, 2],
            "kind": pa.array(kinds.tolist()),
            "label": pa.array(labels, pa.int64()),
        }
    )
    lake.add_table(url, ref, table)
    return labels


@pytest.mark.parametrize("k", [None, "4"])
def test_clustering_recovers_the_blobs(ml, url, k):
    labels = blobs(url)
    args = ["train", "blobs", "--table", "blobs", "--task", "clustering", "--exclude", "label"]
    trained = ml(*args, *(["--k", k] if k else []), "--bucket", url, "--json")
    assert trained.code == ExitCode.OK, trained.stderr
    metrics = trained.json()
    lake.assert_valid("metrics", metrics)
    assert metrics["task"] == "clustering" and metrics["algorithm"] == "sklearn.cluster.KMeans"
    assert metrics["baseline"]["name"] == "random segments" and metrics["beats_baseline"] is True
    assert metrics["metrics"]["silhouette"] > 0.5 > metrics["baseline"]["metrics"]["silhouette"]
    features = lake.read_json(url, "ml/models/blobs/features.json")
    lake.assert_valid("features", features)
    assert features["target"] == {"name": "segment", "type": "int32", "kind": "categorical"}
    assert [f["name"] for f in features["features"]] == ["a", "b", "c", "kind"]
    assert features["options"]["k"] == 4
    if k is None:
        assert "k=4: silhouette" in trained.stderr
        scores = features["options"]["k_silhouette"]
        assert set(scores) == {str(n) for n in range(2, 11)} and max(scores, key=scores.get) == "4"

    segments = metrics["segments"]
    assert [s["segment"] for s in segments] == [0, 1, 2, 3]
    assert sum(s["size"] for s in segments) == 800
    assert [s["size"] for s in segments] == sorted((s["size"] for s in segments), reverse=True)
    assert set(segments[0]["means"]) == {"a", "b", "c"}  # numeric features only
    found = sorted(tuple(round(s["means"][n]) for n in "abc") for s in segments)
    assert found == sorted(tuple(c) for c in CENTRES)

    predicted = ml("predict", "blobs", "--bucket", url, "--json")
    assert predicted.code == ExitCode.OK, predicted.stderr
    assert "trained on these very rows" not in predicted.stderr
    out = lake.read_parquet(url, predicted.json()["path"])
    assert out.schema.field("segment").type == pa.int32() and out.num_rows == 800
    segment = out.column("segment").to_numpy()
    assert adjusted_rand_score(labels, segment) > 0.9
    assert np.bincount(segment).tolist() == [s["size"] for s in segments]


def test_evaluate_and_explain_a_clustering(ml, local_bucket):
    blobs(local_bucket)
    blobs(local_bucket, "gold.lab.more_blobs", rows=300, seed=1)
    assert ml("train", "blobs", "--table", "blobs", "--task", "clustering", "--k", "4", "--exclude", "label",
              "--bucket", local_bucket).code == ExitCode.OK  # fmt: skip
    result = ml("evaluate", "blobs", "--table", "more_blobs", "--bucket", local_bucket, "--json")
    assert result.code == ExitCode.OK, result.stderr
    report = result.json()
    assert report["rows"] == 300 and report["main_metric"] == "silhouette" and report["beats_baseline"] is True
    assert set(report["metrics"]) == {"silhouette", "davies_bouldin", "calinski_harabasz", "inertia"}

    explained = ml("explain", "blobs", "--bucket", local_bucket)
    assert explained.code == ExitCode.OK, explained.stderr
    assert explained.stdout.splitlines()[0].split() == ["segment", "size", "mean", "a", "mean", "b", "mean", "c"]
    rows = ml("explain", "blobs", "--rows", "2", "--bucket", local_bucket)
    assert rows.code == ExitCode.USAGE
    assert rows.stderr.strip() == (
        "error: explain --rows applies to classification and regression models; model 'blobs' is a clustering "
        "model: leave --rows out to see its segments"
    )

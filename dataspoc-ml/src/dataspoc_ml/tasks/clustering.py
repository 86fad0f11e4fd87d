"""Clustering: k-means segments, numbered 0 (the largest) upwards; no target.

Features are scaled (numbers and date parts standardised, categories one-hot) before KMeans
(N_INIT starts, the best kept). `--k N` fixes the number of segments; without it k is chosen
from K_RANGE (2 to 10) by the silhouette of a KMeans fitted on a sample of at most
K_SEARCH_ROWS training rows (scored on at most SILHOUETTE_MAX_ROWS of them). The final model is
fitted on every training row; the holdout is scored with silhouette (the main metric, on at
most SILHOUETTE_MAX_ROWS rows), davies_bouldin, calinski_harabasz and inertia (mean squared
distance to the segment's centre), beside a baseline of random segments (the same k, uniform).
Each segment's profile (its size and the mean of each numeric feature) covers every row.
"""

from __future__ import annotations

from typing import Any

from dataspoc_ml import preprocess
from dataspoc_ml.contract.models import Baseline, Feature, Segment
from dataspoc_ml.errors import DataError
from dataspoc_ml.tasks import (
    SILHOUETTE_MAX_ROWS,
    Dataset,
    Fitted,
    Progress,
    Scored,
    Settings,
    Task,
    TaskSpec,
    finite,
)
from dataspoc_ml.tasks.supervised import algorithm_name, sample_rows

K_RANGE = range(2, 11)
K_SEARCH_ROWS = 50_000
N_INIT = 4
SEGMENT = Feature(name="segment", type="int32", kind="categorical")


def partition_metrics(z: Any, labels: Any, seed: int) -> dict[str, float]:
    """How well `labels` split the (scaled) rows `z`."""
    import numpy as np
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    found: dict[str, float] = {}
    if not len(labels):
        return found
    distinct_labels, inverse = np.unique(labels, return_inverse=True)
    sums = np.zeros((len(distinct_labels), z.shape[1]))
    np.add.at(sums, inverse, z)
    centres = sums / np.bincount(inverse)[:, None]
    found["inertia"] = float(((z - centres[inverse]) ** 2).sum(axis=1).mean())
    distinct = len(distinct_labels)
    if 2 <= distinct < len(labels):
        rows = sample_rows(len(labels), SILHOUETTE_MAX_ROWS, seed)
        if 2 <= len(np.unique(labels[rows])) < len(rows):
            found["silhouette"] = float(silhouette_score(z[rows], labels[rows]))
        found["davies_bouldin"] = float(davies_bouldin_score(z, labels))
        found["calinski_harabasz"] = float(calinski_harabasz_score(z, labels))
    return found


def random_segments(rows: int, k: int, seed: int) -> Any:
    import numpy as np

    return np.random.default_rng(seed).integers(0, k, size=rows)


def segment_labels(pipeline: Any, frame: Any) -> Any:
    return pipeline.predict(frame).astype("int32")


class Clustering(TaskSpec):
    task = Task.CLUSTERING
    main_metric = "silhouette"
    outputs = ("segment",)

    def pipeline(self, features: list[Feature], k: int, seed: int) -> Any:
        from sklearn.cluster import KMeans
        from sklearn.pipeline import Pipeline

        return Pipeline(
            [
                ("prepare", preprocess.build(features, "kmeans")),
                ("model", KMeans(n_clusters=k, n_init=N_INIT, random_state=seed)),
            ]
        )

    def choose_k(self, data: Dataset, x: Any, settings: Settings, progress: Progress) -> tuple[int, dict[str, float]]:
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        rows = sample_rows(len(x), K_SEARCH_ROWS, settings.seed)
        z = preprocess.build(data.features, "kmeans").fit_transform(x.iloc[rows])
        scored = sample_rows(len(rows), SILHOUETTE_MAX_ROWS, settings.seed)
        candidates = [k for k in K_RANGE if k < len(scored)] or [2]
        progress.step(
            f"choosing k from {candidates[0]} to {candidates[-1]} by silhouette on {len(rows):,} training rows"
        )
        scores: dict[str, float] = {}
        for k in candidates:
            labels = KMeans(n_clusters=k, n_init=N_INIT, random_state=settings.seed).fit_predict(z)
            if len(set(labels[scored].tolist())) >= 2:
                scores[str(k)] = float(silhouette_score(z[scored], labels[scored]))
        if not scores:
            return candidates[0], scores
        best = max(scores, key=lambda k: scores[k])
        progress.note(f"k={best}: silhouette {scores[best]:.3f} (the best of k={candidates[0]}..{candidates[-1]})")
        return int(best), scores

    def fit(self, data: Dataset, settings: Settings, progress: Progress) -> Fitted:
        import numpy as np
        from sklearn.model_selection import train_test_split

        train, test = train_test_split(np.arange(data.rows), test_size=settings.test_size, random_state=settings.seed)
        x_train, x_test = data.frame.iloc[train], data.frame.iloc[test]
        options: dict[str, Any] = {}
        k = settings.k
        if k is not None and k >= len(train):
            raise DataError(
                f"--k {k} asks for as many segments as the {len(train)} training rows of table {data.table}, "
                "or more; lower --k"
            )
        if k is None:
            k, scores = self.choose_k(data, x_train, settings, progress)
            options.update(k=k, k_silhouette=scores)
        pipeline = self.pipeline(data.features, k, settings.seed)
        progress.step(f"fitting KMeans (k={k}) on {len(train):,} rows, {len(data.features)} features")
        pipeline.fit(x_train)
        self.number_by_size(pipeline["model"], k)

        progress.step(f"scoring {len(test):,} holdout rows against random segments")
        z = pipeline["prepare"].transform(x_test)
        metrics = finite(partition_metrics(z, pipeline["model"].predict(z), settings.seed))
        baseline = Baseline(
            name="random segments",
            metrics=finite(partition_metrics(z, random_segments(len(test), k, settings.seed), settings.seed)),
        )
        progress.step("profiling the segments")
        segments = self.profile(data, segment_labels(pipeline, data.frame), k)
        return Fitted(
            estimator=pipeline,
            algorithm=algorithm_name(pipeline["model"]),
            train_rows=len(train),
            test_rows=len(test),
            metrics=metrics,
            baseline=baseline,
            segments=segments,
            options=options,
        )

    @staticmethod
    def number_by_size(model: Any, k: int) -> None:
        """Renumber the fitted segments so that 0 is the largest (ties: the lower number first)."""
        import numpy as np

        counts = np.bincount(model.labels_, minlength=k)
        order = np.argsort(-counts, kind="stable")
        rank = np.empty(k, dtype=int)
        rank[order] = np.arange(k)
        model.cluster_centers_ = model.cluster_centers_[order]
        model.labels_ = rank[model.labels_].astype(model.labels_.dtype)

    @staticmethod
    def profile(data: Dataset, labels: Any, k: int) -> list[Segment]:
        import numpy as np

        numeric = [f.name for f in data.features if f.kind == "numeric"]
        segments = []
        for segment in range(k):
            members = labels == segment
            means: dict[str, float] = {}
            for name in numeric:
                values = data.frame[name].to_numpy(dtype="float64")[members]
                if np.isfinite(values).any():
                    means[name] = float(np.nanmean(values))
            segments.append(Segment(segment=segment, size=int(members.sum()), means=means or None))
        return segments

    def score(self, estimator: Any, data: Dataset, options: dict[str, Any]) -> Scored:
        seed = int(options.get("seed", 42))
        z = estimator["prepare"].transform(data.frame)
        labels = estimator["model"].predict(z)
        k = int(estimator["model"].n_clusters)
        baseline = Baseline(
            name="random segments", metrics=finite(partition_metrics(z, random_segments(data.rows, k, seed), seed))
        )
        return Scored(rows=data.rows, metrics=finite(partition_metrics(z, labels, seed)), baseline=baseline)

    def output_fields(self, estimator: Any, target: Feature) -> list[Any]:
        import pyarrow as pa

        return [pa.field("segment", pa.int32())]

    def output_arrays(self, estimator: Any, frame: Any, target: Feature) -> list[Any]:
        import pyarrow as pa

        if not len(frame):
            return [pa.array([], type=pa.int32())]
        return [pa.array(segment_labels(estimator, frame), type=pa.int32())]


SPEC = Clustering()

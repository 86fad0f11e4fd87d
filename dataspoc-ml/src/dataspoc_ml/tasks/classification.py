"""Classification: a class per row, and the probability of the positive class when there are two.

Estimators: hgb (HistGradientBoostingClassifier, native categorical support), rf
(RandomForestClassifier, 100 trees, every core), linear (LogisticRegression on scaled inputs);
`--class-weight balanced` weighs classes inversely to their frequency. Metrics: accuracy (the
main one), f1 (binary, or macro-averaged), roc_auc (binary, or one-vs-rest) and log_loss.
Baseline: the majority class (with the class priors as probabilities). The holdout is
stratified by class when every class has two rows or more; cross-validation uses StratifiedKFold
when every class has K rows or more, KFold otherwise.
"""

from __future__ import annotations

from typing import Any

from dataspoc_ml import preprocess
from dataspoc_ml.contract.models import Feature
from dataspoc_ml.tasks import Settings, Task, arrow_type, prediction_array
from dataspoc_ml.tasks.supervised import SupervisedSpec

# Whose predict is the class of the largest predict_proba: the forest's by definition; the
# others' predict the largest score (a positive one for two classes), of which their
# probabilities are a rising function (the logistic or the softmax). scikit-learn's classes.
ARGMAX_OF_PROBABILITIES = ("HistGradientBoostingClassifier", "RandomForestClassifier", "LogisticRegression")


def predicted_and_probabilities(model: Any, x: Any) -> tuple[Any, Any]:
    """What model.predict and model.predict_proba give for these rows, from one pass of the
    model when its predict is the class of the largest probability: predict runs again only for
    rows where two classes tie for the largest, its own tie-break deciding those."""
    import numpy as np

    final = model.steps[-1][1] if hasattr(model, "steps") else model
    probabilities = model.predict_proba(x)
    known = type(final).__module__.startswith("sklearn.") and type(final).__name__ in ARGMAX_OF_PROBABILITIES
    if not known or probabilities.shape[1] < 2:
        return model.predict(x), probabilities
    predicted = np.asarray(model.classes_)[probabilities.argmax(axis=1)]
    top = np.sort(probabilities, axis=1)[:, -2:]
    tied = np.flatnonzero(top[:, 0] == top[:, 1])
    if len(tied):
        predicted[tied] = model.predict(x.iloc[tied] if hasattr(x, "iloc") else x[tied])
    return predicted, probabilities


class Classification(SupervisedSpec):
    task = Task.CLASSIFICATION
    main_metric = "accuracy"
    outputs = ("prediction", "probability", "probabilities")
    baseline_name = "majority class"
    scoring = "accuracy"

    def estimator(self, features: list[Feature], settings: Settings, params: dict[str, Any]) -> Any:
        if settings.estimator == "rf":
            from sklearn.ensemble import RandomForestClassifier

            options: dict[str, Any] = {"n_estimators": 100, **params}
            return RandomForestClassifier(
                n_jobs=-1, random_state=settings.seed, class_weight=settings.class_weight, **options
            )
        if settings.estimator == "linear":
            from sklearn.linear_model import LogisticRegression

            return LogisticRegression(max_iter=1000, class_weight=settings.class_weight, **params)
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            random_state=settings.seed,
            categorical_features=preprocess.categorical_mask(features),
            class_weight=settings.class_weight,
            **params,
        )

    def search_space(self, estimator: str) -> dict[str, tuple[Any, ...]]:
        from dataspoc_ml.tasks.supervised import SEARCH_SPACES

        return SEARCH_SPACES["linear_classification" if estimator == "linear" else estimator]

    def dummy(self) -> Any:
        from sklearn.dummy import DummyClassifier

        return DummyClassifier(strategy="prior")

    def stratify(self, y: Any, test_size: float) -> Any:
        import numpy as np

        _, counts = np.unique(y, return_counts=True)
        test_rows = int(np.ceil(test_size * len(y)))
        if counts.min() >= 2 and len(counts) <= test_rows <= len(y) - len(counts):
            return y
        return None

    def folds(self, k: int, y: Any, seed: int) -> Any:
        import numpy as np
        from sklearn.model_selection import KFold, StratifiedKFold

        _, counts = np.unique(y, return_counts=True)
        if counts.min() >= k:
            return StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        return KFold(n_splits=k, shuffle=True, random_state=seed)

    def metrics(self, model: Any, x: Any, y: Any) -> dict[str, float]:
        from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

        classes = list(model.classes_)
        if hasattr(model, "predict_proba") and len(y):
            predicted, probabilities = predicted_and_probabilities(model, x)
        else:
            predicted, probabilities = model.predict(x), None
        found = {"accuracy": float(accuracy_score(y, predicted))}
        if len(classes) == 2:
            found["f1"] = float(f1_score(y, predicted, average="binary", pos_label=classes[1], zero_division=0))
        else:
            found["f1"] = float(f1_score(y, predicted, average="macro", zero_division=0))
        if probabilities is None:
            return found
        seen = set(y.tolist())
        if seen <= set(classes):  # a class the model never saw has no probability column
            found["log_loss"] = float(log_loss(y, probabilities, labels=classes))
            if len(classes) == 2 and len(seen) == 2:
                found["roc_auc"] = float(roc_auc_score(y == classes[1], probabilities[:, 1]))
            elif len(classes) > 2 and seen == set(classes):
                found["roc_auc"] = float(roc_auc_score(y, probabilities, multi_class="ovr", labels=classes))
        return found

    def output_fields(self, estimator: Any, target: Feature) -> list[Any]:
        import pyarrow as pa

        fields = [pa.field("prediction", arrow_type(target.type, pa.string()))]
        classes = list(getattr(estimator, "classes_", []))
        if not hasattr(estimator, "predict_proba"):
            return fields
        if len(classes) == 2:
            fields.append(pa.field("probability", pa.float64()))
        elif len(classes) > 2:  # one field per class, named by the class: probabilities."setosa"
            fields.append(pa.field("probabilities", pa.struct([pa.field(str(c), pa.float64()) for c in classes])))
        return fields

    def output_arrays(self, estimator: Any, frame: Any, target: Feature) -> list[Any]:
        import pyarrow as pa

        fields = self.output_fields(estimator, target)
        if not len(frame):
            return [pa.array([], type=f.type) for f in fields]
        if len(fields) == 1:
            return [prediction_array(estimator.predict(frame), fields[0].type)]
        predicted, matrix = predicted_and_probabilities(estimator, frame)
        arrays = [prediction_array(predicted, fields[0].type)]
        if fields[1].name == "probability":
            arrays.append(pa.array(matrix[:, 1], type=pa.float64()))
        else:
            arrays.append(
                pa.StructArray.from_arrays(
                    [pa.array(matrix[:, i], type=pa.float64()) for i in range(matrix.shape[1])],
                    fields=list(fields[1].type),
                )
            )
        return arrays


SPEC = Classification()

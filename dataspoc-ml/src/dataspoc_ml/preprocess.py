"""The preprocessing of a model's input, built from the table's schema (its Features).

| kind | hgb | rf | linear, kmeans |
| --- | --- | --- | --- |
| numeric | as is (missing values are native) | median imputation | median imputation, standard scaling |
| datetime | parts | parts, median imputation | parts, median imputation, standard scaling |
| categorical, boolean | ordinal codes, native categorical support | missing as a category, one-hot | missing as a category, one-hot |

Dates and timestamps are expanded to parts: the epoch (seconds), year, month, day, weekday
(Monday 0), day of the year, and the hour for timestamps. One-hot encoding keeps the
MAX_ONE_HOT most frequent categories of a column and folds the rest (and categories unseen at
training) into one "infrequent" column; ordinal codes keep HGB_MAX_CATEGORIES, the most a
HistGradientBoosting categorical feature takes, unseen categories becoming missing values.
The ordinal codes are TextCodes and the one-hot columns TextOneHot: what scikit-learn's
OrdinalEncoder (and SimpleImputer + OneHotEncoder) give, found by hashing instead of sorting and
comparing Python strings (1M rows, four text columns: 0.3 s against 2-4 s, 0.8 s against 4.1 s).

One ColumnTransformer holds a branch per kind (numbers, dates, ordinal codes) and one per
one-hot encoded feature, so that each output column traces back to the feature it came from
(`slices`): explain needs that. This module imports scikit-learn: only the code that builds or
loads a model imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sklearn.base import BaseEstimator, TransformerMixin

from dataspoc_ml.contract.models import Feature

MAX_ONE_HOT = 32
HGB_MAX_CATEGORIES = 255
MISSING = "(missing)"
SCALED = ("linear", "kmeans")
DATE_PARTS = ("epoch", "year", "month", "day", "weekday", "dayofyear")


def is_timestamp(feature: Feature) -> bool:
    return feature.type.startswith("timestamp")


def date_parts(feature: Feature) -> tuple[str, ...]:
    return DATE_PARTS + (("hour",) if is_timestamp(feature) else ())


def width(feature: Feature, encoder: str) -> int | None:
    """Output columns of a feature before fitting; None when only the fitted one-hot knows."""
    if feature.kind == "datetime":
        return len(date_parts(feature))
    if feature.kind in ("categorical", "boolean") and encoder != "hgb":
        return None
    return 1


class DateParts(TransformerMixin, BaseEstimator):
    """Epoch seconds (datasets.to_frame's encoding of dates) -> calendar parts, column by column;
    `hours` says which columns (timestamps) also get the hour. NaN stays NaN."""

    def __init__(self, hours: tuple[bool, ...] = (False,)):
        self.hours = hours

    def fit(self, x: Any, y: Any = None) -> DateParts:
        self.n_features_in_ = len(self.hours)
        return self

    def transform(self, x: Any) -> Any:
        import numpy as np

        values = np.asarray(x, dtype="float64").reshape(len(x), -1)
        return np.hstack([self.parts(values[:, i], hour) for i, hour in enumerate(self.hours)])

    @staticmethod
    def parts(seconds: Any, hour: bool) -> Any:
        import numpy as np

        missing = np.isnan(seconds)
        moments = np.where(missing, 0, np.floor(seconds)).astype("int64").astype("datetime64[s]")
        days = moments.astype("datetime64[D]")
        months = days.astype("datetime64[M]")
        years = days.astype("datetime64[Y]")
        columns = [
            seconds,
            years.astype("int64") + 1970,
            months.astype("int64") % 12 + 1,
            (days - months).astype("int64") + 1,
            (days.astype("int64") + 3) % 7,  # 1970-01-01 was a Thursday
            (days - years).astype("int64") + 1,
        ]
        if hour:
            columns.append((moments - days).astype("int64") // 3600)
        parts = np.column_stack(columns).astype("float64")
        parts[missing] = np.nan
        return parts


class TextCodes(TransformerMixin, BaseEstimator):
    """Text columns -> float ordinal codes, as OrdinalEncoder(handle_unknown="use_encoded_value",
    unknown_value=NaN, encoded_missing_value=NaN, max_categories=max_categories) gives them:
    categories in sorted order; when a column has max_categories or more, the most frequent
    max_categories - 1 keep their own codes (of tied counts, the later category stays) and the
    rest share the next one; missing and unseen values are NaN. pandas counts and looks the values up
    by hashing, where OrdinalEncoder sorts and compares Python strings.
    tests/test_same_results.py checks it against OrdinalEncoder."""

    def __init__(self, max_categories: int = HGB_MAX_CATEGORIES):
        self.max_categories = max_categories

    def fit(self, x: Any, y: Any = None) -> TextCodes:
        import numpy as np

        frame = _frame(x)
        self.n_features_in_ = frame.shape[1]
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.categories_: list[Any] = []
        self.codes_: list[Any] = []  # per column: the code of each category, then NaN for -1
        for name in frame.columns:
            categories, codes, _ = _categories(frame[name], self.max_categories)
            self.categories_.append(categories)
            self.codes_.append(np.append(codes.astype("float64"), np.nan))
        return self

    def transform(self, x: Any) -> Any:
        import numpy as np
        import pandas as pd

        frame = _frame(x)
        out = np.empty((len(frame), len(self.categories_)), dtype="float64")
        for i, (name, categories) in enumerate(zip(frame.columns, self.categories_)):
            found = pd.Index(categories).get_indexer(frame[name])  # -1: missing or unseen
            out[:, i] = self.codes_[i][found]
        return out

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        import numpy as np

        return np.asarray(input_features if input_features is not None else self.feature_names_in_, dtype=object)


class TextOneHot(TransformerMixin, BaseEstimator):
    """Text columns -> one-hot columns, as SimpleImputer(strategy="constant", fill_value=MISSING)
    then OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=max_categories,
    sparse_output=False) give them: missing values are the category MISSING; a column for each
    category in sorted order, or, when there are max_categories or more, for the most frequent
    max_categories - 1 (ties as in TextCodes) and one last column for the rest and for values
    unseen in training; without that column, an unseen value is all zeros. Found by hashing, as
    TextCodes; tests/test_same_results.py checks it against the scikit-learn pair."""

    def __init__(self, max_categories: int = MAX_ONE_HOT):
        self.max_categories = max_categories

    def fit(self, x: Any, y: Any = None) -> TextOneHot:
        import numpy as np

        frame = _frame(x)
        self.n_features_in_ = frame.shape[1]
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.categories_: list[Any] = []
        self.columns_: list[Any] = []  # per input column: each category's output column, then the unseen's (-1: none)
        self.widths_: list[int] = []
        for name in frame.columns:
            categories, codes, rare = _categories(_filled(frame[name]), self.max_categories)
            width = int(codes.max()) + 1 if len(codes) else 0
            self.categories_.append(categories)
            self.columns_.append(np.append(codes, width - 1 if rare else -1))
            self.widths_.append(width)
        return self

    def transform(self, x: Any) -> Any:
        import numpy as np
        import pandas as pd

        frame = _frame(x)
        parts = []
        for name, categories, columns, width in zip(frame.columns, self.categories_, self.columns_, self.widths_):
            found = columns[pd.Index(categories).get_indexer(_filled(frame[name]))]
            part = np.zeros((len(frame), width), dtype="float64")
            hit = np.flatnonzero(found >= 0)
            part[hit, found[hit]] = 1.0
            parts.append(part)
        return np.hstack(parts) if parts else np.zeros((len(frame), 0))

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        import numpy as np

        names = input_features if input_features is not None else self.feature_names_in_
        return np.asarray(
            [f"{name}_{i}" for name, width in zip(names, self.widths_) for i in range(width)], dtype=object
        )


def _filled(column: Any) -> Any:
    """Missing values as the category MISSING (SimpleImputer's constant strategy)."""
    return column.fillna(MISSING) if column.hasnans else column


def _categories(column: Any, max_categories: int) -> tuple[Any, Any, bool]:
    """A column's categories in sorted order (missing values left out), each one's code, and
    whether some share the last code: with max_categories or more categories, the most frequent
    max_categories - 1 keep their rank and the rest share the next code (scikit-learn's rule, and
    its tie-break: a stable sort of the counts, the earlier category counted rarer)."""
    import numpy as np

    counts = column.value_counts(dropna=True, sort=False)
    order = sorted(range(len(counts)), key=lambda i: counts.index[i])
    categories = np.array([counts.index[i] for i in order], dtype=object)
    counted = np.asarray(counts.to_numpy(), dtype="int64")[order]
    codes = np.arange(len(categories), dtype="int64")
    if len(categories) < max_categories:
        return categories, codes, False
    rare = np.argsort(counted, kind="mergesort")[: len(categories) - (max_categories - 1)]
    frequent = np.setdiff1d(np.arange(len(categories)), rare)
    codes[frequent] = np.arange(len(frequent))
    codes[rare] = len(frequent)
    return categories, codes, True


def _frame(x: Any) -> Any:
    import pandas as pd

    return x if isinstance(x, pd.DataFrame) else pd.DataFrame(x)


def _numbers(steps: list[Any], encoder: str) -> Any:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if encoder != "hgb":
        steps.append(SimpleImputer(strategy="median", keep_empty_features=True))
    if encoder in SCALED:
        steps.append(StandardScaler())
    return make_pipeline(*steps) if steps else "passthrough"


def _one_hot() -> Any:
    return TextOneHot(MAX_ONE_HOT)


def categorical(feature: Feature) -> bool:
    return feature.kind in ("categorical", "boolean")


def build(features: Sequence[Feature], encoder: str) -> Any:
    """The ColumnTransformer for these features; `encoder` is hgb, rf, linear or kmeans. Its
    output columns: the numbers, then the date parts, then the categories (see `slices`)."""
    from sklearn.compose import ColumnTransformer

    numbers = [f.name for f in features if f.kind == "numeric"]
    dates = [f for f in features if f.kind == "datetime"]
    categories = [f for f in features if categorical(f)]
    branches: list[tuple[str, Any, list[str]]] = []
    if numbers:
        branches.append(("numbers", _numbers([], encoder), numbers))
    if dates:
        parts = DateParts(hours=tuple(is_timestamp(f) for f in dates))
        branches.append(("dates", _numbers([parts], encoder), [f.name for f in dates]))
    if categories and encoder == "hgb":
        branches.append(("categories", TextCodes(HGB_MAX_CATEGORIES), [f.name for f in categories]))
    elif categories:
        branches += [(f"one_hot_{i}", _one_hot(), [f.name]) for i, f in enumerate(categories)]
    return ColumnTransformer(branches, remainder="drop", sparse_threshold=0)


def categorical_mask(features: Sequence[Feature]) -> list[bool] | None:
    """Which of the hgb transformer's output columns are categorical (ordinal codes); None if none."""
    widths = sum(width(f, "hgb") or 1 for f in features if not categorical(f))
    count = sum(1 for f in features if categorical(f))
    return [False] * widths + [True] * count if count else None


def slices(prepare: Any, features: Sequence[Feature]) -> dict[str, slice]:
    """Each feature's output columns in a fitted ColumnTransformer built by build()."""
    indices = prepare.output_indices_
    found: dict[str, slice] = {}
    groups = (
        ("numbers", [f for f in features if f.kind == "numeric"]),
        ("dates", [f for f in features if f.kind == "datetime"]),
        ("categories", [f for f in features if categorical(f)]),
    )
    for name, members in groups:
        at = indices[name].start if name in indices else 0
        for feature in members:
            if name == "categories" and f"one_hot_{members.index(feature)}" in indices:
                found[feature.name] = indices[f"one_hot_{members.index(feature)}"]
                continue
            size = width(feature, "hgb") or 1
            found[feature.name] = slice(at, at + size)
            at += size
    return found

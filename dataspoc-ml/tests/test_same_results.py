"""Shortcuts taken for speed give what the plain way gives, to the bit: text columns handed from
Arrow to pandas without a Python str per value, predictions and probabilities from one pass of
the model, permutation importance over several workers and on rows prepared once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dataspoc_ml import datasets
from dataspoc_ml.contract.models import Feature, Importance
from dataspoc_ml.tasks import IMPORTANCE_REPEATS, Settings, importance_rows, threads_for
from dataspoc_ml.tasks.classification import SPEC as CLASSIFICATION
from dataspoc_ml.tasks.classification import predicted_and_probabilities
from dataspoc_ml.tasks.regression import SPEC as REGRESSION
from dataspoc_ml.tasks.supervised import permutation, prepared_columns, sample_rows


def object_frame(data: pa.Table, names: list[str]) -> pd.DataFrame:
    """The text encoding as to_frame built it before: str objects, NaN for missing."""
    columns = {}
    for name in names:
        array = data.column(name).combine_chunks() if data.num_rows else pa.array([], data.schema.field(name).type)
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        strings = pc.cast(array, pa.string())
        values = np.asarray(strings.to_numpy(zero_copy_only=False, writable=True), dtype=object)
        if strings.null_count:
            values[strings.is_null().to_numpy(zero_copy_only=False)] = np.nan
        columns[name] = values
    return pd.DataFrame(columns, index=pd.RangeIndex(data.num_rows))


def test_text_columns_are_what_pandas_makes_of_str_objects():
    data = pa.table(
        {
            "text": pa.array(["a", None, "b", "ção", ""] * 4),
            "large": pa.array(["x", None] * 10, pa.large_string()),
            "coded": pa.array(["p", "q", None, "p"] * 5).dictionary_encode(),
            "flag": pa.array([True, False, None, True] * 5),
            "missing": pa.array([None] * 20, pa.string()),
        }
    )
    kinds = {"flag": "boolean"}
    features = [
        Feature(name=n, type=str(data.schema.field(n).type), kind=kinds.get(n, "categorical"))
        for n in data.column_names
    ]
    for part in (data, data.slice(0, 0), data.slice(1, 1), data.to_batches()[0]):
        part = part if isinstance(part, pa.Table) else pa.Table.from_batches([part])
        ours, plain = datasets.to_frame(part, features), object_frame(part, data.column_names)
        assert ours.equals(plain)
        assert list(ours.dtypes) == list(plain.dtypes)


def classes_data(classes: int, rows: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(rows, 4)).round(1)  # rounded: repeated rows, so tied probabilities
    y = (x[:, 0] + x[:, 1] * (classes - 1) + rng.normal(scale=0.5, size=rows)).round().clip(0, classes - 1)
    return x, np.array(["no", "maybe", "yes"])[y.astype(int)]


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize(
    "model",
    [
        lambda: HistGradientBoostingClassifier(random_state=0, max_iter=20),
        lambda: RandomForestClassifier(n_estimators=4, random_state=0),  # 4 votes: ties on purpose
        lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    ],
)
def test_one_pass_gives_predict_and_predict_proba(model, classes):
    x, y = classes_data(classes)
    fitted = model().fit(x, y)
    predicted, probabilities = predicted_and_probabilities(fitted, x)
    assert np.array_equal(predicted, fitted.predict(x))
    assert np.array_equal(probabilities, fitted.predict_proba(x))


def test_ties_fall_back_to_predict():
    x, y = classes_data(2)
    forest = RandomForestClassifier(n_estimators=2, random_state=0).fit(x, y)
    probabilities = forest.predict_proba(x)
    assert (probabilities[:, 0] == probabilities[:, 1]).any()  # the case is exercised
    assert np.array_equal(predicted_and_probabilities(forest, x)[0], forest.predict(x))


def customers(rows: int = 1500) -> tuple[pd.DataFrame, list[Feature]]:
    rng = np.random.default_rng(5)
    data = pa.table(
        {
            "age": pa.array(np.where(rng.random(rows) < 0.05, np.nan, rng.integers(18, 80, rows).astype(float))),
            "spent": pa.array(rng.uniform(0, 1000, rows)),
            "country": pa.array(rng.choice(["br", "us", "de", "fr"], rows)),
            "member": pa.array(rng.random(rows) < 0.5),
            "signup": pa.array(rng.integers(18000, 20000, rows), pa.int32()).cast(pa.date32()),
        }
    )
    kinds = {"age": "numeric", "spent": "numeric", "country": "categorical", "member": "boolean", "signup": "datetime"}
    features = [Feature(name=n, type=str(data.schema.field(n).type), kind=kinds[n]) for n in data.column_names]
    return datasets.to_frame(data, features), features


def through_the_pipeline(pipeline, x, y, scoring: str, seed: int) -> list[Importance]:
    """Permutation importance the plain way: the pipeline on the raw rows, in one thread."""
    rows = sample_rows(len(x), importance_rows(len(x), x.shape[1]), seed)
    with threads_for(0):
        result = permutation_importance(
            pipeline, x.iloc[rows], y[rows], scoring=scoring, n_repeats=IMPORTANCE_REPEATS, random_state=seed
        )
    found = [
        Importance(feature=str(name), mean=float(mean), std=float(std))
        for name, mean, std in zip(x.columns, result.importances_mean, result.importances_std)
    ]
    return sorted(found, key=lambda i: -i.mean)


@pytest.mark.parametrize("estimator", ["hgb", "rf", "linear"])
@pytest.mark.parametrize("dates", [False, True])
def test_permutation_over_workers_and_prepared_rows_is_the_plain_one(estimator, dates):
    frame, features = customers()  # 1,500 rows x 4-5 features x 5 repeats: spread over workers
    if not dates:
        features = [f for f in features if f.kind != "datetime"]
        frame = frame[[f.name for f in features]]
    churned = ((frame["age"].fillna(50) < 40) & (frame["spent"] < 500)) | (frame["country"] == "br")
    value = frame["spent"].to_numpy() * 3 + frame["age"].fillna(40).to_numpy() * 10
    settings = Settings(estimator=estimator)
    for spec, y in ((CLASSIFICATION, churned.to_numpy()), (REGRESSION, value)):
        pipeline = spec.pipeline(features, settings).fit(frame, y)
        shortcut = prepared_columns(pipeline, features, list(frame.columns)) is not None
        assert shortcut == (estimator == "hgb" and not dates)  # one column per feature: hgb, no dates
        plain = through_the_pipeline(pipeline, frame, y, spec.scoring, 42)
        assert permutation(pipeline, frame, y, spec.scoring, 42, features) == plain
        assert permutation(pipeline, frame, y, spec.scoring, 42) == plain


def ordinal_encoder(max_categories: int):
    from sklearn.preprocessing import OrdinalEncoder

    return OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        max_categories=max_categories,
    )


def text_frame(rng: np.random.Generator, rows: int, words: list[str]) -> pd.DataFrame:
    """Three text columns as to_frame hands them over: skewed counts with ties, missing values."""
    data = {}
    for name, missing in (("few", 0.0), ("many", 0.1), ("flag", 0.2)):
        pool = words if name == "many" else (["true", "false"] if name == "flag" else words[:3])
        weights = rng.integers(1, 4, len(pool)).astype(float)  # small weights: many tied counts
        picked = rng.choice(pool, rows, p=weights / weights.sum()).astype(object)
        picked[rng.random(rows) < missing] = None
        data[name] = pa.array(picked, pa.string())
    features = [Feature(name=n, type="string", kind="categorical") for n in data]
    return datasets.to_frame(pa.table(data), features)


@pytest.mark.parametrize("max_categories", [255, 5, 2])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_text_codes_are_ordinal_encoders_codes(max_categories, seed):
    from dataspoc_ml.preprocess import TextCodes

    rng = np.random.default_rng(seed)
    words = sorted({"".join(rng.choice(list("abcçé10 "), rng.integers(1, 6))) for _ in range(400)})
    train = text_frame(rng, 3000, words[:300])
    later = text_frame(rng, 800, words[:200] + [f"new {i}" for i in range(100)])  # unseen ones: NaN
    ours, theirs = TextCodes(max_categories).fit(train), ordinal_encoder(max_categories).fit(train)
    for frame in (train, later, train.iloc[:1]):
        np.testing.assert_array_equal(ours.transform(frame), theirs.transform(frame))
    assert ours.transform(train.iloc[:0]).shape == (0, 3)  # OrdinalEncoder refuses no rows
    assert (np.isnan(ours.transform(later)[:, 1])).sum() > (later["many"].isna()).sum()  # unseen ones exist
    assert np.nanmax(ours.transform(train)[:, 1]) == min(max_categories, len(ours.categories_[1])) - 1


@pytest.mark.parametrize("max_categories", [32, 4, 300])
@pytest.mark.parametrize("seed", [0, 1])
def test_text_one_hot_is_the_imputer_and_one_hot_encoder(max_categories, seed):
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    from dataspoc_ml.preprocess import MISSING, TextOneHot

    rng = np.random.default_rng(seed)
    words = sorted({"".join(rng.choice(list("abcçé10 "), rng.integers(1, 4))) for _ in range(120)})
    train = text_frame(rng, 2000, words[:80])
    later = text_frame(rng, 600, words[:40] + [f"new {i}" for i in range(30)])
    for column in train.columns:  # one encoder per feature, as preprocess.build makes them
        ours = TextOneHot(max_categories).fit(train[[column]])
        theirs = make_pipeline(
            SimpleImputer(strategy="constant", fill_value=MISSING),
            OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=max_categories, sparse_output=False),
        ).fit(train[[column]])
        for frame in (train, later, train.iloc[:1]):
            np.testing.assert_array_equal(ours.transform(frame[[column]]), theirs.transform(frame[[column]]))
    wide = TextOneHot(max_categories).fit(train[["many"]])
    assert wide.transform(train[["many"]]).shape[1] == min(max_categories, len(wide.categories_[0]))

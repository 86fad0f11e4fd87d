"""The preprocessing built from a table's schema, in process: date parts, what each estimator
family gets, and the map from output columns back to features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dataspoc_ml import preprocess
from dataspoc_ml.contract.models import Feature

FEATURES = [
    Feature(name="age", type="int64", kind="numeric"),
    Feature(name="country", type="string", kind="categorical"),
    Feature(name="signed", type="date32[day]", kind="datetime"),
    Feature(name="seen", type="timestamp[us]", kind="datetime"),
    Feature(name="member", type="bool", kind="boolean"),
]


def frame(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    moments = pd.Timestamp("2024-02-27 05:30") + pd.to_timedelta(rng.integers(0, 900, rows), unit="D")
    seconds = moments.to_numpy().astype("datetime64[s]").astype("int64").astype(float)
    data = pd.DataFrame(
        {
            "age": rng.integers(18, 80, rows).astype(float),
            "country": np.array(rng.choice(["br", "us", "de"], rows), dtype=object),
            "signed": np.floor(seconds / 86400) * 86400,
            "seen": seconds,
            "member": np.array(rng.choice(["true", "false"], rows), dtype=object),
        }
    )
    data.loc[3, "age"] = np.nan
    data.loc[4, "country"] = np.nan
    data.loc[5, "seen"] = np.nan
    return data


def test_date_parts_match_pandas():
    data = frame()
    parts = preprocess.DateParts(hours=(True,)).fit_transform(data[["seen"]])
    moments = pd.to_datetime(data["seen"], unit="s")
    known = moments.notna().to_numpy()
    expected = np.column_stack(
        [
            data["seen"],
            moments.dt.year,
            moments.dt.month,
            moments.dt.day,
            moments.dt.day_of_week,
            moments.dt.day_of_year,
            moments.dt.hour,
        ]
    )
    assert np.array_equal(parts[known], expected[known])
    assert np.isnan(parts[~known]).all()


@pytest.mark.parametrize("encoder", ["hgb", "rf", "linear", "kmeans"])
def test_every_output_column_traces_back_to_its_feature(encoder):
    data = frame()
    prepare = preprocess.build(FEATURES, encoder).fit(data)
    out = prepare.transform(data)
    slices = preprocess.slices(prepare, FEATURES)
    covered = sorted(i for s in slices.values() for i in range(out.shape[1])[s])
    assert covered == list(range(out.shape[1]))  # each column belongs to exactly one feature
    assert slices["signed"].stop - slices["signed"].start == 6 and slices["seen"].stop - slices["seen"].start == 7
    if encoder == "hgb":
        assert np.isnan(out[3, slices["age"]]).all()  # missing stays missing: the trees handle it
        mask = preprocess.categorical_mask(FEATURES)
        assert [i for i, categorical in enumerate(mask) if categorical] == [
            slices["country"].start,
            slices["member"].start,
        ]
        assert set(out[:, slices["country"]].ravel()[~np.isnan(out[:, slices["country"]].ravel())]) == {0, 1, 2}
    else:
        assert not np.isnan(out).any()  # imputed
        width = slices["country"].stop - slices["country"].start
        assert width == 4  # br, de, us and the missing value as a category
    if encoder in preprocess.SCALED:
        assert abs(out[:, slices["age"]].mean()) < 1e-9


def test_one_hot_keeps_the_most_frequent_categories():
    many = pd.DataFrame({"city": np.array([f"c{i % 100}" for i in range(1000)], dtype=object)})
    feature = [Feature(name="city", type="string", kind="categorical")]
    prepare = preprocess.build(feature, "linear").fit(many)
    assert prepare.transform(many).shape[1] == preprocess.MAX_ONE_HOT
    unseen = prepare.transform(pd.DataFrame({"city": np.array(["nowhere"], dtype=object)}))
    assert unseen.sum() == 1  # folded into the infrequent column, not an error

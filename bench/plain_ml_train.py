"""The baseline of ml_train.py: a model trained by hand, as a data scientist would script it.

    python plain_ml_train.py classification|regression TARGET LEFT_OUT MODEL.pkl FILE.parquet...

Reads the files with pyarrow, then builds what dataspoc-ml builds for --estimator hgb
(preprocess.build, tasks/classification.py, tasks/regression.py): numbers as they are, text and
flags as ordinal codes that HistGradientBoosting treats as categories, random_state 42; the
same 80/20 holdout split (stratified for classification); the model pickled by joblib as the
registry stores it (compress=3). Nothing else: no metrics, no baseline, no importance.
"""

import sys

import joblib
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

task, target, left_out, out, *files = sys.argv[1:]
schema = pq.read_schema(files[0])
numbers = [f.name for f in schema if f.name not in (target, left_out) and pa.types.is_integer(f.type) | pa.types.is_floating(f.type)]
categories = [f.name for f in schema if f.name not in (target, left_out, *numbers)]
table = pa.concat_tables(pq.ParquetFile(f).read(columns=[*numbers, *categories, target]) for f in files)
x = table.select([*numbers, *categories]).to_pandas()
y = table[target].to_numpy()

train, test = train_test_split(
    np.arange(len(y)), test_size=0.2, random_state=42, stratify=y if task == "classification" else None
)
codes = OrdinalEncoder(
    handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan, max_categories=255
)
prepare = ColumnTransformer(
    [("numbers", "passthrough", numbers), ("categories", codes, categories)], remainder="drop", sparse_threshold=0
)
estimator = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
mask = [False] * len(numbers) + [True] * len(categories)
model = Pipeline([("prepare", prepare), ("model", estimator(random_state=42, categorical_features=mask))])
model.fit(x.iloc[train], y[train])
joblib.dump(model, out, compress=3)

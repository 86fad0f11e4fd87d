"""The baseline of ml_predict.py: a table scored by hand with a pickled model, batch by batch.

    python plain_ml_predict.py MODEL.pkl OUT.parquet FILE.parquet...

Streams the files with pyarrow in batches of 65,536 rows (dataspoc-ml's datasets.BATCH_ROWS),
hands the model its features as dataspoc-ml encodes them (flags as "true"/"false"), and writes
every input column with the prediction and the probability of the positive class to a zstd
Parquet file, one row group per batch, as `dataspoc-ml predict` does.
"""

import sys

import joblib
import pyarrow as pa
import pyarrow.parquet as pq

model_path, out, *files = sys.argv[1:]
model = joblib.load(model_path)
features = list(model.feature_names_in_)
writer = None
for path in files:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=65_536):
        columns = [batch.column(name) for name in features]
        columns = [c.cast(pa.string()) if pa.types.is_boolean(c.type) else c for c in columns]
        x = pa.table(columns, names=features).to_pandas()
        scored = pa.Table.from_batches([batch])
        probabilities = model.predict_proba(x)  # one pass; the class is the likelier one
        scored = scored.append_column("prediction", pa.array(model.classes_[probabilities.argmax(axis=1)]))
        scored = scored.append_column("probability", pa.array(probabilities[:, 1]))
        if writer is None:
            writer = pq.ParquetWriter(out, scored.schema, compression="zstd")
        writer.write_table(scored)
if writer is not None:
    writer.close()

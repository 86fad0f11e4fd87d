"""Score a table with a trained model and publish ml/predictions/<model>/ as a table.

The table is streamed batch by batch into one Parquet file (zstd) holding the input columns
plus `prediction` (and `probability` of the positive class for binary classification). The file
is published first, then the manifest entry that points at it, then the previous run's files,
which the manifest no longer lists, are deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dataspoc_ml import artifacts, catalog, console, datasets
from dataspoc_ml.bucket import Bucket
from dataspoc_ml.contract import predictions_location
from dataspoc_ml.errors import UnknownColumn, UsageError
from dataspoc_ml.train import check_model_name

OUTPUT_COLUMNS = ("prediction", "probability")


@dataclass
class PredictResult:
    model: str
    table: str
    run_id: str
    path: str
    rows: int
    bytes: int
    deleted: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "table": self.table,
            "run_id": self.run_id,
            "path": self.path,
            "rows": self.rows,
            "bytes": self.bytes,
            "deleted": self.deleted,
        }


def _binary_positive(estimator: Any, task: str) -> bool:
    return task == "classification" and len(getattr(estimator, "classes_", [])) == 2


def _prediction_type(target_type: str, task: str) -> Any:
    """The Arrow type of the prediction column: the target's, else string/double by task."""
    import pyarrow as pa

    try:
        return pa.type_for_alias(target_type)
    except (ValueError, KeyError):
        return pa.float64() if task == "regression" else pa.string()


def _prediction_array(values: Any, target_type: str) -> Any:
    import pyarrow as pa

    array = pa.array(values.tolist() if values.dtype == object else values)
    try:
        wanted = pa.type_for_alias(target_type)
    except (ValueError, KeyError):
        return array
    if array.type != wanted:
        try:
            array = array.cast(wanted)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            pass
    return array


def predict(bucket: Bucket, model: str, table_ref: str | None = None) -> PredictResult:
    check_model_name(model)
    import warnings

    import pyarrow as pa
    import pyarrow.parquet as pq

    bucket.check_exists()  # a missing bucket must not look like one without models

    info = artifacts.info(bucket, model)
    features = [f.model_dump() for f in info.features.features]
    task = info.features.task
    manifest = catalog.load(bucket)
    if table_ref is None:
        trained = info.features.training_table
        table_ref = f"{trained.layer}.{trained.namespace}.{trained.name}"
    table = catalog.resolve(manifest, table_ref, bucket)
    available = table.column_names
    missing = [f["name"] for f in features if f["name"] not in available]
    if missing:
        raise UnknownColumn(
            f"table {table.ref} lacks the feature columns of model '{model}': {', '.join(missing)}; "
            "predict on a table with the columns the model was trained on"
        )
    clashing = [c for c in OUTPUT_COLUMNS if c in available]
    if clashing:
        raise UsageError(
            f"table {table.ref} already has column(s) {', '.join(clashing)}, which predict would write; rename them upstream"
        )

    input_schema = datasets.schema_of(bucket, table)
    for feature in features:
        current = datasets.kind_of(input_schema.field(feature["name"]).type)
        if current != feature["kind"]:
            now = input_schema.field(feature["name"]).type
            raise UsageError(
                f"column '{feature['name']}' of table {table.ref} is now {now} "
                f"({current or 'unusable'}), but model '{model}' was trained on {feature['type']} "
                f"({feature['kind']}); retrain the model or fix the column upstream"
            )
    estimator, info = artifacts.load(bucket, model)  # the pickle (and scikit-learn) only once all checks pass
    binary = _binary_positive(estimator, task)
    prediction_type = _prediction_type(info.features.target.type, task)
    location = predictions_location(model)
    run_id = catalog.new_run_id()
    rel = f"{location}/part-{run_id}-00000.parquet"

    rows = 0
    with bucket.staging_dir(run_id) as staging:
        local = staging / "part-00000.parquet"
        writer = None
        try:
            for batch in datasets.iter_batches(bucket, table, schema=input_schema):
                x = datasets.to_frame(batch, features, table.ref)
                arrays = list(batch.columns)
                names = list(batch.schema.names)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # sklearn's warnings are noise on a user's stderr
                    if batch.num_rows:
                        arrays.append(_prediction_array(estimator.predict(x), info.features.target.type))
                    else:
                        arrays.append(pa.array([], type=prediction_type))
                    names.append("prediction")
                    if binary:
                        probability = estimator.predict_proba(x)[:, 1] if batch.num_rows else []
                        arrays.append(pa.array(probability, type=pa.float64()))
                        names.append("probability")
                out = pa.Table.from_arrays(arrays, names=names)
                if writer is None:
                    writer = pq.ParquetWriter(str(local), out.schema, compression="zstd")
                elif out.schema != writer.schema:
                    out = out.cast(writer.schema)
                writer.write_table(out)
                rows += out.num_rows
        finally:
            if writer is not None:
                writer.close()
        if writer is None:  # a table with files but no batches: publish an empty file
            fields = list(input_schema) + [pa.field("prediction", prediction_type)]
            if binary:
                fields.append(pa.field("probability", pa.float64()))
            pq.write_table(pa.Table.from_pylist([], schema=pa.schema(fields)), str(local), compression="zstd")
        output_schema = pq.read_schema(str(local))
        size = local.stat().st_size
        bucket.publish_file(local, rel)

    at = catalog.iso(catalog.now_utc())
    columns = [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in output_schema]
    entry = {
        "layer": "ml",
        "namespace": "predictions",
        "name": model,
        "location": location,
        "format": "parquet",
        "partition_by": [],
        "partitions": [
            {
                "values": {},
                "files": [{"path": rel, "rows": rows, "bytes": size, "run_id": run_id}],
                "rows": rows,
                "bytes": size,
            }
        ],
        "columns": columns,
        "row_count": rows,
        "file_count": 1,
        "bytes": size,
        "last_run_id": run_id,
        "last_run_at": at,
        "writer": catalog.WRITER,
        "description": f"Predictions of model {model} on {table.location}",
    }
    previous = catalog.upsert_table(bucket, entry)

    deleted = []
    if previous:
        for partition in previous.get("partitions", []):
            for old in partition.get("files", []):
                path = old.get("path", "")
                if path != rel and catalog.is_safe_path(location, path):
                    bucket.delete(path)
                    deleted.append(path)
    console.say(f"wrote {rows:,} predictions of model '{model}' on {table.ref} to {bucket.display(rel)}")
    return PredictResult(model=model, table=table.ref, run_id=run_id, path=rel, rows=rows, bytes=size, deleted=deleted)

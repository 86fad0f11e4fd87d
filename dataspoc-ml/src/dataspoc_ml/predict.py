"""Score a table with a model's promoted version and publish ml/predictions/<model>/ as a table,
in four steps:

    resolve  the model's documents, the table, its columns against the model's features
    load     the pickle of the promoted version, or --version N (hash-checked by artifacts.load),
             only once every check has passed
    score    classification, regression, clustering: the table streamed batch by batch, each row
             written as its key columns (--key, else the table's primary key, else every column)
             and the task's columns (prediction and probability or probabilities; prediction;
             segment); forecast: the table's history read, and the next --horizon periods of
             every series written (series key, time, prediction, lower, upper); every row also
             carries the model version and the run id that wrote it
    publish  one Parquet file (zstd), then the manifest entry pointing at it (ml.predictions.<model>,
             or --output-table), with the model, version and input run as lineage; the previous
             run's files move to the entry's `replaced` list and stay until `dataspoc-ml vacuum`

Nothing here prints: progress goes to a Progress and the outcome comes back as a PredictReport.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataspoc_ml import artifacts, catalog, datasets
from dataspoc_ml.bucket import Bucket
from dataspoc_ml.contract import predictions_location
from dataspoc_ml.contract.models import Feature, Manifest, Table
from dataspoc_ml.errors import UnknownColumn, UsageError
from dataspoc_ml.tasks import Progress, Task, spec, threads_for
from dataspoc_ml.train import check_model_name

if TYPE_CHECKING:
    import pyarrow as pa

    from dataspoc_ml.artifacts import ModelInfo

FORECAST_COLUMNS = ("prediction", "lower", "upper")
VERSION_COLUMN = "model_version"  # on every row, so rows of several runs stay attributable
RUN_COLUMN = "run_id"
MAX_HORIZON = 10_000


@dataclass
class PredictReport:
    model: str
    version: int | None
    task: str
    table: str
    output_table: str  # ml.predictions.<name>
    key: list[str]  # the input columns written beside the prediction (forecast: the series key)
    run_id: str
    path: str
    rows: int
    bytes: int
    replaced: list[str]
    trained_on_these_rows: bool  # the table is the training table, at the run the model read
    horizon: int | None = None  # forecasts: the periods written per series

    def as_dict(self) -> dict[str, Any]:
        document = {
            "model": self.model,
            "version": self.version,
            "task": self.task,
            "table": self.table,
            "output_table": self.output_table,
            "key": self.key,
            "run_id": self.run_id,
            "path": self.path,
            "rows": self.rows,
            "bytes": self.bytes,
            "replaced": self.replaced,
            "trained_on_these_rows": self.trained_on_these_rows,
        }
        if self.horizon is not None:
            document["horizon"] = self.horizon
        return document


def same_rows(info: ModelInfo, table: Table) -> bool:
    """Whether `table` is the very data the model was trained on (same location, same last run)."""
    trained = info.features.training_table
    return table.location == trained.location and table.last_run_id == trained.run_id


def resolve_table(bucket: Bucket, info: ModelInfo, table_ref: str | None, manifest: Manifest | None = None) -> Table:
    """The table named (default: the one the model was trained on), in `manifest` or the bucket's."""
    if table_ref is None:
        trained = info.features.training_table
        table_ref = f"{trained.layer}.{trained.namespace}.{trained.name}"
    return catalog.resolve(manifest if manifest is not None else catalog.load(bucket), table_ref, bucket)


def inputs_of(info: ModelInfo) -> list[Feature]:
    """The columns a model reads from a table: its features, and for a forecast the target too."""
    features = list(info.features.features)
    if info.features.task == Task.FORECAST.value:
        features.append(info.features.target)
    return features


def key_columns(table: Table, task: Task, key: list[str] | None) -> list[str]:
    """The input columns each prediction row keeps: --key, else the table's primary key, else all.
    A forecast writes new rows, keyed by its series and time, so it keeps none of the input's."""
    if task == Task.FORECAST:
        if key:
            raise UsageError("--key applies to row-scoring models; a forecast's rows are keyed by its series and time")
        return []
    if not key:
        return list(table.primary_key or table.column_names)
    unknown = [c for c in key if c not in table.column_names]
    if unknown:
        raise UnknownColumn(
            f"--key: table {table.ref} has no column(s) {', '.join(unknown)}; columns: {', '.join(table.column_names)}"
        )
    return list(dict.fromkeys(key))


def check_columns(
    bucket: Bucket, info: ModelInfo, table: Table, outputs: tuple[str, ...] = (), kept: list[str] | None = None
) -> pa.Schema:
    """The table's schema, once it has every column the model reads, of the same kind, and none
    of the kept columns is named like one predict writes."""
    model = info.name
    inputs = inputs_of(info)
    missing = [f.name for f in inputs if f.name not in table.column_names]
    if missing:
        raise UnknownColumn(
            f"table {table.ref} lacks the feature columns of model '{model}': {', '.join(missing)}; "
            "predict on a table with the columns the model was trained on"
        )
    kept = table.column_names if kept is None else kept
    clashing = [c for c in (*outputs, VERSION_COLUMN, RUN_COLUMN) if c in kept]
    if clashing:
        raise UsageError(
            f"table {table.ref} already has column(s) {', '.join(clashing)}, which predict writes; "
            "keep other columns with --key, or rename them upstream"
        )
    schema = datasets.schema_of(bucket, table)
    for feature in inputs:
        now = schema.field(feature.name).type
        current = datasets.kind_of(now)
        if current != feature.kind:
            raise UsageError(
                f"column '{feature.name}' of table {table.ref} is now {now} "
                f"({current or 'unusable'}), but model '{model}' was trained on {feature.type} "
                f"({feature.kind}); retrain the model or fix the column upstream"
            )
    return schema


def predict(
    bucket: Bucket,
    model: str,
    table_ref: str | None = None,
    horizon: int | None = None,
    progress: Progress | None = None,
    key: list[str] | None = None,
    output_table: str | None = None,
    version: int | None = None,
) -> PredictReport:
    progress = progress or Progress()
    check_model_name(model)
    output = output_table or model
    if output_table is not None:
        check_model_name(output_table, what="--output-table")
    bucket.check_exists()  # a missing bucket must not look like one without models
    info = artifacts.info(bucket, model, version)
    task = Task(info.features.task)
    if horizon is not None and task != Task.FORECAST:
        raise UsageError(f"--horizon applies to forecast models; model '{model}' is {task.value}")
    if horizon is not None and not 1 <= horizon <= MAX_HORIZON:
        raise UsageError(f"--horizon {horizon}: give 1 to {MAX_HORIZON} periods")
    document = catalog.read_manifest_document(bucket)  # read once: the input table and the output's owner
    table = resolve_table(bucket, info, table_ref, catalog.checked(bucket, document))
    task_spec = spec(task)
    kept = key_columns(table, task, key)
    input_schema = check_columns(bucket, info, table, task_spec.outputs, kept)
    check_owner(document, output, model)  # again under the lock, at publish
    estimator, info = artifacts.load(bucket, model, version)  # the pickle (and scikit-learn) only once all checks pass

    location = predictions_location(output)
    run_id = catalog.new_run_id()
    rel = f"{location}/part-{run_id}-00000.parquet"
    with bucket.staging_dir(run_id) as staging, threads_for(table.row_count):
        local = staging / "part-00000.parquet"
        if task == Task.FORECAST:
            horizon = horizon or int(estimator.horizon)
            progress.step(f"forecasting {horizon} period(s) per series from {table.ref} with model '{model}'")
            rows = write_forecast(bucket, table, info, estimator, horizon, input_schema, local, progress, run_id)
        else:
            progress.step(f"scoring {table.ref} ({table.row_count:,} rows) with model '{model}'")
            rows = write_scores(bucket, table, info, estimator, input_schema, kept, local, progress, run_id)
        import pyarrow.parquet as pq

        output_schema = pq.read_schema(str(local))
        size = local.stat().st_size
        progress.step(f"publishing {bucket.display(rel)}")
        bucket.publish_file(local, rel)

    lineage = {
        "model": model,
        "version": info.version,
        "task": task.value,
        "input": {"location": table.location, "last_run_id": table.last_run_id},
    }
    replaced = publish_entry(bucket, output, lineage, rel, run_id, rows, size, output_schema)
    return PredictReport(
        model=model,
        version=info.version,
        task=task.value,
        table=table.ref,
        output_table=f"ml.predictions.{output}",
        key=list(estimator.by) if task == Task.FORECAST else kept,
        run_id=run_id,
        path=rel,
        rows=rows,
        bytes=size,
        replaced=replaced,
        trained_on_these_rows=same_rows(info, table),
        horizon=horizon if task == Task.FORECAST else None,
    )


def stamp_fields() -> list[pa.Field]:
    import pyarrow as pa

    return [pa.field(VERSION_COLUMN, pa.int64()), pa.field(RUN_COLUMN, pa.string())]


def stamp_arrays(rows: int, version: int | None, run_id: str) -> list[pa.Array]:
    """The model version and run id of `rows` rows (run-length: a constant column costs nothing)."""
    import pyarrow as pa

    return [
        pa.nulls(rows, pa.int64()) if version is None else pa.repeat(pa.scalar(version, pa.int64()), rows),
        pa.repeat(pa.scalar(run_id, pa.string()), rows),
    ]


def write_scores(
    bucket: Bucket,
    table: Table,
    info: ModelInfo,
    estimator: Any,
    schema: pa.Schema,
    kept: list[str],
    local: Path,
    progress: Progress,
    run_id: str,
) -> int:
    """Stream the table through the model into `local`: the kept columns, the task's, the model
    version and run id; the row count."""
    import warnings

    import pyarrow as pa
    import pyarrow.parquet as pq

    task_spec = spec(info.features.task)
    target = info.features.target
    fields = task_spec.output_fields(estimator, target) + stamp_fields()
    features = list(info.features.features)
    read = list(dict.fromkeys([*kept, *(f.name for f in features)]))
    rows = 0
    writer = None
    try:
        for batch in datasets.iter_batches(bucket, table, schema=schema, columns=read):
            x = datasets.to_frame(batch, features, table.ref)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # scikit-learn's warnings are noise on a user's stderr
                arrays = task_spec.output_arrays(estimator, x, target)
            arrays += stamp_arrays(batch.num_rows, info.version, run_id)
            out = pa.Table.from_arrays([batch.column(c) for c in kept] + arrays, names=kept + [f.name for f in fields])
            if writer is None:
                writer = pq.ParquetWriter(str(local), out.schema, compression="zstd")
            elif out.schema != writer.schema:
                out = out.cast(writer.schema)
            writer.write_table(out)
            rows += out.num_rows
            progress.rows(rows, table.row_count)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:  # a table with files but no batches: publish an empty file
        empty = pa.schema([schema.field(c) for c in kept] + fields)
        pq.write_table(pa.Table.from_pylist([], schema=empty), str(local), compression="zstd")
    return rows


def write_forecast(
    bucket: Bucket,
    table: Table,
    info: ModelInfo,
    forecaster: Any,
    horizon: int,
    schema: pa.Schema,
    local: Path,
    progress: Progress,
    run_id: str,
) -> int:
    """The next `horizon` periods of every series in the table's history, into `local`."""
    import warnings

    import pyarrow as pa
    import pyarrow.parquet as pq

    from dataspoc_ml import preprocess

    inputs = inputs_of(info)
    data = datasets.read_table(
        bucket, table, columns=[f.name for f in inputs], on_rows=lambda n: progress.rows(n, table.row_count)
    )
    frame = datasets.to_frame(data, inputs, table.ref)
    frame = frame[frame[forecaster.time].notna()]
    time_type = schema.field(forecaster.time).type
    fields = [pa.field(name, schema.field(name).type) for name in forecaster.by]
    fields += [pa.field(forecaster.time, time_type)] + [pa.field(c, pa.float64()) for c in FORECAST_COLUMNS]
    fields += stamp_fields()
    if not len(frame):
        pq.write_table(pa.Table.from_pylist([], schema=pa.schema(fields)), str(local), compression="zstd")
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        future = forecaster.forecast(frame, horizon)
    arrays = []
    for name in forecaster.by:
        keys = [None if v == preprocess.MISSING else v for v in future[name].tolist()]
        arrays.append(_cast(pa.array(keys), schema.field(name).type))
    arrays.append(_cast(pa.array(future[forecaster.time].to_numpy()), time_type))
    arrays += [pa.array(future[c].to_numpy(), type=pa.float64()) for c in FORECAST_COLUMNS]
    arrays += stamp_arrays(len(future), info.version, run_id)
    out = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    pq.write_table(out, str(local), compression="zstd")
    return out.num_rows


def _cast(array: pa.Array, wanted: pa.DataType) -> pa.Array:
    import pyarrow as pa

    if pa.types.is_dictionary(wanted):
        wanted = wanted.value_type
    return array if array.type == wanted else array.cast(wanted)


def check_owner(document: dict[str, Any] | None, output: str, model: str) -> None:
    """Refuse to replace predictions another model wrote (ml.predictions.<output> is the model's
    own table unless --output-table names another)."""
    location = predictions_location(output)
    for entry in (document or {}).get("tables", []):
        if entry.get("location") != location:
            continue
        owner = (entry.get("prediction") or {}).get("model", entry.get("name"))
        if owner != model:
            raise UsageError(
                f"ml.predictions.{output} holds the predictions of model '{owner}'; "
                f"give model '{model}' another --output-table"
            )


def publish_entry(
    bucket: Bucket,
    output: str,
    lineage: dict[str, Any],
    rel: str,
    run_id: str,
    rows: int,
    size: int,
    output_schema: pa.Schema,
) -> list[str]:
    """Point the manifest's ml.predictions.<output> at the new file, with the model and input run
    as lineage; the files it replaced wait for `vacuum` (returned)."""
    location = predictions_location(output)
    at = catalog.iso(catalog.now_utc())
    what = "Forecast" if lineage["task"] == Task.FORECAST.value else "Predictions"
    columns = [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in output_schema]
    source = lineage["input"]["location"]
    entry = {
        "layer": "ml",
        "namespace": "predictions",
        "name": output,
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
        "description": f"{what} of model {lineage['model']} on {source}",
        "derived_from": [source],
        "prediction": lineage,
    }
    previous = catalog.upsert_table(
        bucket, entry, guard=lambda document: check_owner(document, output, lineage["model"])
    )
    # the files replaced stay in the bucket, listed under `replaced`, until `dataspoc-ml vacuum`
    return [
        f.get("path", "")
        for p in (previous or {}).get("partitions", [])
        for f in p.get("files", [])
        if f.get("path") != rel
    ]

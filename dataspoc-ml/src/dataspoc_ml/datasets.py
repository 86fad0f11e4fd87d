"""Reading a table: exactly the files its manifest entry lists, never a listing of the bucket.

pyarrow reads each file through the bucket's fsspec filesystem; partition columns (dt, ...)
come from the manifest's partition values and are added, typed as the manifest's `columns` say
(string when it does not say), when a file does not carry them itself. pyarrow, pandas and
numpy are imported inside the functions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from dataspoc_ml.bucket import Bucket, _transient, retrying
from dataspoc_ml.contract.models import Feature, Partition, Table
from dataspoc_ml.errors import DataError, MlError, StorageError

if TYPE_CHECKING:
    import pyarrow as pa

BATCH_ROWS = 65_536


def files_of(table: Table) -> list[tuple[Partition, str]]:
    return [(part, f.path) for part in table.partitions for f in part.files]


def _is_arrow_data_error(exc: BaseException) -> bool:
    """pyarrow's ArrowInvalid & co (a corrupt or non-Parquet file), as opposed to an I/O error."""
    return type(exc).__module__.startswith("pyarrow") and not isinstance(exc, OSError)


def read_error(bucket: Bucket, rel: str, exc: BaseException) -> MlError:
    """The user-facing error for a failure while opening or reading one listed file."""
    if isinstance(exc, MlError):
        return exc
    where = bucket.display(rel)
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, FileNotFoundError):
        return DataError(
            f"{where} is listed in the manifest but gone from the bucket; re-run the pipeline that writes this table"
        )
    if _is_arrow_data_error(exc):
        return DataError(f"{where} is not a readable Parquet file ({reason}); re-run the pipeline that writes it")
    if _transient(exc) or isinstance(exc, OSError):
        return StorageError(f"reading {where} failed part-way ({reason}); retry the command")
    return DataError(f"cannot read {where}: {reason}")


def _open(bucket: Bucket, rel: str):
    import pyarrow.parquet as pq

    def open_file():
        return pq.ParquetFile(bucket.fs.open(bucket.full(rel), "rb"))

    try:
        return retrying(open_file, f"read {bucket.display(rel)}", bucket.scheme)
    except Exception as exc:  # noqa: BLE001 - read_error classifies it and names the file
        raise read_error(bucket, rel, exc) from None


def _partition_type(table: Table, column: str) -> pa.DataType:
    """The type the manifest gives a partition column; string when it gives none we know."""
    import pyarrow as pa

    declared = next((c.type for c in table.columns if c.name == column), None)
    if declared:
        try:
            return pa.type_for_alias(declared)
        except (ValueError, KeyError):
            pass
    return pa.string()


NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


def _with_partition_values(
    batch: pa.RecordBatch, partition: Partition, table: Table, wanted: Sequence[str] | None = None
) -> pa.RecordBatch:
    """The batch with the partition's values as columns, those of `wanted` only when given."""
    import pyarrow as pa

    for column, value in partition.values.items():
        if column in batch.schema.names or (wanted is not None and column not in wanted):
            continue
        kind = _partition_type(table, column)
        # the contract's (and Hive's) name for a NULL partition value
        shown = pa.scalar(None if value == NULL_PARTITION else value, type=pa.string())
        try:
            typed = shown.cast(kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            raise DataError(
                f"partition value {column}={value!r} of table {table.ref} is not a {kind} "
                "as the manifest's columns say; fix the manifest entry"
            ) from None
        batch = batch.append_column(pa.field(column, kind), pa.repeat(typed, batch.num_rows))
    return batch


def schema_of(bucket: Bucket, table: Table) -> pa.Schema:
    """The table's schema from its files' footers (and partition columns), unified."""
    import pyarrow as pa

    schemas = []
    for partition, rel in files_of(table):
        schema = _open(bucket, rel).schema_arrow
        for column in partition.values:
            if column not in schema.names:
                schema = schema.append(pa.field(column, _partition_type(table, column)))
        schemas.append(schema)
    if not schemas:
        raise DataError(f"table {table.ref} has no data files in the manifest; nothing to read")
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"the files of table {table.ref} have incompatible schemas: {exc}") from None


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """A batch in the table's unified schema: columns in order, missing ones null, types cast."""
    import pyarrow as pa

    arrays = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        if index < 0:
            arrays.append(pa.nulls(batch.num_rows, type=field.type))
            continue
        array = batch.column(index)
        arrays.append(array if array.type == field.type else array.cast(field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def iter_batches(
    bucket: Bucket, table: Table, schema: pa.Schema | None = None, columns: list[str] | None = None
) -> Iterator[pa.RecordBatch]:
    """Stream the table's record batches, file by file, in the table's unified schema."""
    schema = schema if schema is not None else schema_of(bucket, table)
    if columns is not None:
        import pyarrow as pa

        schema = pa.schema([schema.field(c) for c in columns])
    for partition, rel in files_of(table):
        parquet = _open(bucket, rel)
        present = [c for c in schema.names if c in parquet.schema_arrow.names]
        batches = parquet.iter_batches(batch_size=BATCH_ROWS, columns=present)
        while True:
            # A generator that raised is finished: never call next() on it again, or the rest of
            # the file would be silently skipped. A failure part-way fails the whole read.
            try:
                batch = next(batches)
            except StopIteration:
                break
            except Exception as exc:  # noqa: BLE001 - read_error classifies it and names the file
                raise read_error(bucket, rel, exc) from None
            yield conform(_with_partition_values(batch, partition, table, schema.names), schema)


def read_table(
    bucket: Bucket,
    table: Table,
    columns: list[str] | None = None,
    on_rows: Callable[[int], None] | None = None,
    limit: int | None = None,
) -> pa.Table:
    """The table (or some of its columns) in memory, in the order its files are listed;
    `on_rows` is told the rows read so far after each batch; `limit` stops after that many rows."""
    import pyarrow as pa

    schema = schema_of(bucket, table)
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns])
    batches = []
    rows = 0
    for batch in iter_batches(bucket, table, schema=schema):
        if limit is not None and rows + batch.num_rows > limit:
            batch = batch.slice(0, limit - rows)
        batches.append(batch)
        rows += batch.num_rows
        if on_rows is not None:
            on_rows(rows)
        if limit is not None and rows >= limit:
            break
    return pa.Table.from_batches(batches, schema=schema)


# Arrow types -> feature kinds --------------------------------------------------------------
def kind_of(arrow_type: pa.DataType) -> str | None:
    """numeric, categorical, boolean or datetime; None for types a model cannot use."""
    import pyarrow.types as t

    if t.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if t.is_boolean(arrow_type):
        return "boolean"
    if t.is_integer(arrow_type) or t.is_floating(arrow_type) or t.is_decimal(arrow_type):
        return "numeric"
    if t.is_string(arrow_type) or t.is_large_string(arrow_type):
        return "categorical"
    if t.is_timestamp(arrow_type) or t.is_date(arrow_type):
        return "datetime"
    return None


def to_frame(data: pa.Table | pa.RecordBatch, features: Sequence[Feature], table: str = "the table") -> Any:
    """The model's input: a pandas DataFrame with one column per feature, in a fixed encoding.

    numeric and datetime (as epoch seconds) -> float64 with NaN; categorical and boolean ->
    str values ("true"/"false" for booleans) and NaN for missing, in an object column or the
    string column pandas makes of one (see _text). Train and predict share this encoding.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    columns: dict[str, Any] = {}
    for feature in features:
        name, kind = feature.name, feature.kind
        array = data.column(name)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks() if array.num_chunks else pa.array([], type=array.type)
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        try:
            if kind == "numeric":
                values = array.cast(pa.float64()).to_numpy(zero_copy_only=False)
            elif kind == "datetime":
                values = _epoch_seconds(array)
            else:
                values = _text(pc.cast(array, pa.string()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, KeyError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(
                f"column '{name}' ({array.type}) of table {table} cannot be read as a {kind} feature: {reason}"
            ) from None
        columns[name] = values
    return pd.DataFrame(columns, index=pd.RangeIndex(data.num_rows))


def _text(strings: pa.Array) -> Any:
    """An object array of str values with NaN for missing, or what pandas makes of one: with a
    string dtype for text (pandas 3), the column as Arrow hands it over when that has the same
    dtype, without a Python str per value (0.2 s a column per 1M rows)."""
    import numpy as np

    text = _text_dtype()
    # pandas keeps an empty or all-missing column as object
    if not isinstance(text, np.dtype) and strings.null_count < len(strings):
        series = strings.to_pandas()
        if series.dtype == text:
            return series.array
    values = np.asarray(strings.to_numpy(zero_copy_only=False, writable=True), dtype=object)
    if strings.null_count:
        values[strings.is_null().to_numpy(zero_copy_only=False)] = np.nan
    return values


@functools.cache
def _text_dtype() -> Any:
    """The dtype pandas gives a column of str values (object, or its string dtype)."""
    import numpy as np
    import pandas as pd

    return pd.DataFrame({"text": np.array(["a", np.nan], dtype=object)})["text"].dtype


def _epoch_seconds(array: Any) -> Any:
    import pyarrow as pa

    per_second = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}
    kind = array.type
    if pa.types.is_date32(kind):
        raw, scale = array.cast(pa.int32()).cast(pa.float64()), 1 / 86400
    elif pa.types.is_date64(kind):
        raw, scale = array.cast(pa.int64()).cast(pa.float64()), 1e3
    else:
        raw, scale = array.cast(pa.int64()).cast(pa.float64()), per_second[kind.unit]
    return raw.to_numpy(zero_copy_only=False) / scale

"""CREATE statements over the bucket's tables for other engines: the way out when one machine
is not enough.

- `duckdb`: a view per table over exactly the files the manifest lists (as Lens mounts them).
- `spark`: a Parquet table per table at its folder, partitioned by its partition columns, then
  `MSCK REPAIR TABLE` to find the partitions. Databases are `<layer>_<namespace>`.
- `trino`: Hive connector tables (`external_location`, `partitioned_by`), then
  `system.sync_partition_metadata`. Schemas are `<layer>_<namespace>`.
- `athena`: `CREATE EXTERNAL TABLE ... PARTITIONED BY ... STORED AS PARQUET LOCATION`, then
  `MSCK REPAIR TABLE`.

Spark, Trino and Athena read every Parquet file in a table's folder, not the manifest's list:
files a later run replaced and files a killed run left stay visible to them until
`dataspoc-pipe vacuum` deletes them. The statements hold no credentials: each engine reaches the
bucket with its own configuration.
"""

from __future__ import annotations

import re

from dataspoc_lens.catalog import Catalog
from dataspoc_lens.contract.models import Table
from dataspoc_lens.errors import UsageError

DIALECTS = ("duckdb", "spark", "trino", "athena")
TIMESTAMP = re.compile(r"^timestamp\[(s|ms|us|ns)(, tz=.+)?\]$")
DECIMAL = re.compile(r"^decimal(?:32|64|128|256)?\((\d+), ?(\d+)\)$")

# Arrow type -> (Spark, Trino, Athena/Hive)
SIMPLE = {
    "bool": ("BOOLEAN", "BOOLEAN", "boolean"),
    "int8": ("TINYINT", "TINYINT", "tinyint"),
    "int16": ("SMALLINT", "SMALLINT", "smallint"),
    "int32": ("INT", "INTEGER", "int"),
    "int64": ("BIGINT", "BIGINT", "bigint"),
    "uint8": ("SMALLINT", "SMALLINT", "smallint"),
    "uint16": ("INT", "INTEGER", "int"),
    "uint32": ("BIGINT", "BIGINT", "bigint"),
    "uint64": ("DECIMAL(20,0)", "DECIMAL(20,0)", "decimal(20,0)"),
    "halffloat": ("FLOAT", "REAL", "float"),
    "float": ("FLOAT", "REAL", "float"),
    "double": ("DOUBLE", "DOUBLE", "double"),
    "string": ("STRING", "VARCHAR", "string"),
    "large_string": ("STRING", "VARCHAR", "string"),
    "binary": ("BINARY", "VARBINARY", "binary"),
    "large_binary": ("BINARY", "VARBINARY", "binary"),
    "date32[day]": ("DATE", "DATE", "date"),
    "null": ("STRING", "VARCHAR", "string"),
}
ENGINE = {"spark": 0, "trino": 1, "athena": 2}


def engine_type(arrow: str, dialect: str) -> str:
    i = ENGINE[dialect]
    if arrow in SIMPLE:
        return SIMPLE[arrow][i]
    if m := TIMESTAMP.match(arrow):
        zoned = m.group(2) is not None
        if dialect == "spark":
            return "TIMESTAMP" if zoned else "TIMESTAMP_NTZ"
        if dialect == "trino":
            return "TIMESTAMP(6) WITH TIME ZONE" if zoned else "TIMESTAMP(6)"
        return "timestamp"
    if m := DECIMAL.match(arrow):
        precision, scale = int(m.group(1)), int(m.group(2))
        if precision > 38:
            return ("DOUBLE", "DOUBLE", "double")[i]
        return f"DECIMAL({precision},{scale})" if dialect != "athena" else f"decimal({precision},{scale})"
    return ("STRING", "VARCHAR", "string")[i]  # nested types: read as text by these engines' users


def statements(catalog: Catalog[Table], dialect: str, layer: str | None = None) -> list[str]:
    if dialect not in DIALECTS:
        raise UsageError(f"--dialect {dialect}: use one of {', '.join(DIALECTS)}")
    tables = sorted((t for t in catalog.tables if layer is None or t.layer == layer), key=lambda t: t.qualified)
    out: list[str] = []
    schemas: list[str] = []
    for t in tables:
        schema = f"{t.layer}.{t.namespace}" if dialect == "duckdb" else f"{t.layer}_{t.namespace}"
        if schema not in schemas:
            schemas.append(schema)
            out.append(_schema(schema, dialect))
        out += _table(catalog, t, dialect)
    return out


def _q(name: str, dialect: str) -> str:
    if dialect in ("spark", "athena"):
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _schema(schema: str, dialect: str) -> str:
    if dialect == "duckdb":
        layer, namespace = schema.split(".")
        return f"ATTACH IF NOT EXISTS ':memory:' AS {_q(layer, dialect)};\nCREATE SCHEMA IF NOT EXISTS {_q(layer, dialect)}.{_q(namespace, dialect)};"
    if dialect == "trino":
        return f"CREATE SCHEMA IF NOT EXISTS hive.{_q(schema, dialect)};"
    return f"CREATE DATABASE IF NOT EXISTS {_q(schema, dialect)};"


def view_body(catalog: Catalog[Table], table: Table) -> str:
    """The SELECT a DuckDB view of the table runs: the manifest's files, by path or URL."""
    from dataspoc_lens.views import view_sql

    return view_sql(table, catalog)


def location(catalog: Catalog[Table], table: Table, dialect: str) -> str:
    bucket = catalog.bucket
    if bucket.is_local:
        return "file://" + bucket.full(table.location)
    url = bucket.display(table.location)
    if dialect == "spark" and url.startswith("s3://"):
        return "s3a://" + url[len("s3://") :]  # Hadoop's S3 filesystem
    return url


def _columns(table: Table) -> list[tuple[str, str, bool]]:
    """(name, Arrow type, is a partition column), partition columns last."""
    data = [(c.name, c.type, False) for c in table.columns if c.name not in table.partition_by]
    parts = [
        (p, next((c.type for c in table.columns if c.name == p), "date32[day]" if p == "dt" else "string"), True)
        for p in table.partition_by
    ]
    return data + parts


def _table(catalog: Catalog[Table], table: Table, dialect: str) -> list[str]:
    if dialect == "duckdb":
        from dataspoc_lens.views import view_sql

        name = ".".join(_q(p, dialect) for p in (table.layer, table.namespace, table.name))
        return [f"CREATE OR REPLACE VIEW {name} AS {view_sql(table, catalog)};"]
    schema = f"{table.layer}_{table.namespace}"
    full = f"{_q(schema, dialect)}.{_q(table.name, dialect)}"
    columns = _columns(table)
    where = location(catalog, table, dialect)
    partitions = [n for n, _, p in columns if p]
    if dialect == "spark":
        body = ",\n  ".join(f"{_q(n, dialect)} {engine_type(t, dialect)}" for n, t, _ in columns)
        parted = f"\nPARTITIONED BY ({', '.join(_q(p, dialect) for p in partitions)})" if partitions else ""
        create = f"CREATE TABLE IF NOT EXISTS {full} (\n  {body}\n) USING parquet{parted}\nLOCATION {_lit(where)};"
        return [create] + ([f"MSCK REPAIR TABLE {full};"] if partitions and table.files else [])
    if dialect == "trino":
        # the Hive connector wants partition columns last and as VARCHAR (folder names)
        body = ",\n  ".join(f"{_q(n, dialect)} {'VARCHAR' if p else engine_type(t, dialect)}" for n, t, p in columns)
        props = [f"external_location = {_lit(where)}", "format = 'PARQUET'"]
        if partitions:
            props.append("partitioned_by = ARRAY[" + ", ".join(_lit(p) for p in partitions) + "]")
        create = f"CREATE TABLE IF NOT EXISTS hive.{full} (\n  {body}\n) WITH (\n  {', '.join(props)}\n);"
        sync = f"CALL hive.system.sync_partition_metadata({_lit(schema)}, {_lit(table.name)}, 'ADD');"
        return [create] + ([sync] if partitions and table.files else [])
    data = ",\n  ".join(f"{_q(n, dialect)} {engine_type(t, dialect)}" for n, t, p in columns if not p)
    parted = (
        "\nPARTITIONED BY (" + ", ".join(f"{_q(n, dialect)} string" for n, _, p in columns if p) + ")"
        if partitions
        else ""
    )
    create = (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS {full} (\n  {data}\n){parted}\nSTORED AS PARQUET\nLOCATION {_lit(where)};"
    )
    return [create] + ([f"MSCK REPAIR TABLE {full};"] if partitions and table.files else [])

"""DuckDB over a table's files, for transforms (raw → curated) and quality checks.

Views read exactly the files named (the manifest's, plus a run's staged ones), never a glob, so
files a crashed run left behind stay invisible. A remote bucket is reached through its fsspec
filesystem (`register_filesystem`): no DuckDB extension is ever downloaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from dataspoc_pipe.bucket import Bucket

if TYPE_CHECKING:
    import duckdb

FILE_COLUMN = "__dataspoc_file"  # which file a row came from: arrival order, and a run's new rows


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def connect(bucket: Bucket) -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False})
    con.execute("SET enable_progress_bar=false")  # DuckDB draws it on stdout, which --json owns
    if not bucket.is_local:
        con.register_filesystem(bucket.fs)
    return con


def path_of(bucket: Bucket, rel: str) -> str:
    return bucket.full(rel) if bucket.is_local else bucket.display(rel)


def files_view(
    con: duckdb.DuckDBPyConnection,
    name: str,
    paths: Iterable[str],
    hive: bool = True,
    with_file: bool = False,
) -> None:
    """A view over Parquet files, joined by column name (older files lack newer columns).

    `hive`: add the `dt` partition column from the paths (`__HIVE_DEFAULT_PARTITION__` reads
    as NULL). `with_file`: add FILE_COLUMN, the file each row came from, and file_row_number.
    """
    listed = ", ".join(literal(p) for p in paths)
    options = ["union_by_name=true"]
    if hive:
        options += ["hive_partitioning=true", "hive_types={'dt': DATE}"]
    if with_file:
        options += [f"filename={literal(FILE_COLUMN)}", "file_row_number=true"]
    con.execute(f"CREATE OR REPLACE VIEW {ident(name)} AS SELECT * FROM read_parquet([{listed}], {', '.join(options)})")

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
    if hasattr(value, "isoformat"):  # a date or timestamp written unquoted in YAML
        return "'" + value.isoformat() + "'"
    return "'" + str(value).replace("'", "''") + "'"


def connect(bucket: Bucket) -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False})
    con.execute("SET enable_progress_bar=false")  # DuckDB draws it on stdout, which --json owns
    if not bucket.is_local:
        con.register_filesystem(bucket.fs)
    return con


def path_of(bucket: Bucket, rel: str) -> str:
    """A bucket file as DuckDB names it. A file of a registered filesystem is named by the
    filesystem's first protocol whatever the URL said (`abfs://` for an `az://` bucket), so the
    paths given to read_parquet and the FILE_COLUMN it reports compare equal."""
    if bucket.is_local:
        return bucket.full(rel)
    protocol = bucket.fs.protocol
    first = protocol if isinstance(protocol, str) else protocol[0]
    return f"{first}://{bucket.full(rel)}"


def files_view(
    con: duckdb.DuckDBPyConnection,
    name: str,
    paths: Iterable[str],
    hive: bool = True,
    with_file: bool = False,
    only: Iterable[str] | None = None,
    dt: dict[str, str] | None = None,
) -> None:
    """A view over Parquet files, joined by column name (older files lack newer columns).

    The columns are those of every file in `paths`; `only` keeps the rows of some of them (a
    run's new files still show the columns older files have). `hive`: the `dt` partition column
    from the paths; `dt`: from a mapping of path to partition value instead (staged files live
    outside the partition folders). `__HIVE_DEFAULT_PARTITION__` reads as NULL. `with_file`:
    keep FILE_COLUMN, the file each row came from, and file_row_number.
    """
    from dataspoc_pipe.partitions import NULL_PARTITION

    paths = list(paths)
    listed = ", ".join(literal(p) for p in paths)
    options = ["union_by_name=true", f"filename={literal(FILE_COLUMN)}", "file_row_number=true"]
    if hive and dt is None:
        options += ["hive_partitioning=true", "hive_types={'dt': DATE}"]
    else:
        options.append("hive_partitioning=false")
    source = f"read_parquet([{listed}], {', '.join(options)}) AS r"
    select = "r.*"
    if dt is not None:
        mapping = f"__dt_{name}"
        execute(con, f"CREATE OR REPLACE TEMP TABLE {ident(mapping)} (path VARCHAR, dt VARCHAR)", name)
        if dt:
            rows = ", ".join(f"({literal(p)}, {literal(v)})" for p, v in dt.items())
            execute(con, f"INSERT INTO {ident(mapping)} VALUES {rows}", name)
        select = f"r.*, TRY_CAST(NULLIF(m.dt, {literal(NULL_PARTITION)}) AS DATE) AS dt"
        source += f" LEFT JOIN {ident(mapping)} AS m ON r.{ident(FILE_COLUMN)} = m.path"
    where = ""
    if only is not None:
        kept = [literal(p) for p in only]
        where = f" WHERE r.{ident(FILE_COLUMN)} IN ({', '.join(kept)})" if kept else " WHERE false"
    view = f"SELECT {select} FROM {source}{where}"
    if not with_file:
        view = f"SELECT * EXCLUDE ({ident(FILE_COLUMN)}, file_row_number) FROM ({view}) AS v"
    execute(con, f"CREATE OR REPLACE VIEW {ident(name)} AS {view}", name)


def failure(exc: Exception, what: str, hint: str = "") -> Exception:
    """A DuckDB error as Pipe reports it: a storage problem is a StorageError (exit 3, a retry
    may help), anything else a SourceError naming `what`."""
    import duckdb

    from dataspoc_pipe.errors import SourceError, StorageError

    message = str(exc).splitlines()[0]
    if isinstance(exc, (duckdb.IOException, duckdb.HTTPException)):
        return StorageError(f"{what}: cannot read its files: {message}")
    return SourceError(f"{what}: {message}{hint}")


def execute(con: duckdb.DuckDBPyConnection, sql: str, what: str, params: list | None = None):
    """Run SQL for Pipe itself, its errors as failure() reports them."""
    import duckdb

    try:
        return con.execute(sql, params) if params is not None else con.execute(sql)
    except duckdb.Error as exc:
        raise failure(exc, what) from None


def batches(con: duckdb.DuckDBPyConnection, sql: str, what: str, rows: int = 256_000):
    """A query's result as Arrow record batches, streamed; errors as failure() reports them."""
    import duckdb

    try:
        yield from con.sql(sql).to_arrow_reader(rows)
    except duckdb.Error as exc:
        raise failure(exc, what) from None

"""A Session: the catalog, one DuckDB connection, and the tables mounted on it so far.

`query`, the shell, the cache and `inspect` share it. Tables are mounted when a statement
first names them (references.py), so a query over one table of a large bucket reads one
table's footers. Remote buckets are reached through fsspec (`register_filesystem`), so no
DuckDB extension is ever downloaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataspoc_lens import execute
from dataspoc_lens.catalog import Catalog
from dataspoc_lens.references import referenced
from dataspoc_lens.views import create_schemas, mount

if TYPE_CHECKING:
    import duckdb
    import pyarrow


class Session:
    def __init__(self, catalog: Catalog, extension_directory: str | None = None):
        self.catalog = catalog
        self.con = open_connection(catalog, extension_directory)
        self.mounted: set[str] = set()

    def prepare(self, sql: str | None) -> None:
        """Mount what `sql` names (everything when that is uncertain, or for None)."""
        needed = referenced(self.con, self.catalog, sql) if sql is not None else None
        mount(self.con, self.catalog, needed, self.mounted)

    def run(self, sql: str, max_rows: int | None) -> tuple[pyarrow.Table | None, bool]:
        self.prepare(sql)
        return execute.run(self.con, sql, max_rows)

    def stream(self, sql: str, max_rows: int | None) -> execute.Stream | None:
        self.prepare(sql)
        return execute.stream(self.con, sql, max_rows)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_connection(catalog: Catalog, extension_directory: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a database per layer and a schema per namespace, no views yet."""
    import duckdb

    config: dict[str, Any] = {"autoinstall_known_extensions": False}
    if extension_directory:
        config["extension_directory"] = extension_directory
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET enable_progress_bar=false")
    if catalog.tables and not catalog.bucket.is_local:
        con.register_filesystem(catalog.bucket.fs)
    create_schemas(con, catalog)
    return con


def connect(
    catalog: Catalog, extension_directory: str | None = None, sql: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the catalog's tables mounted as views: every table, or with
    `sql` only the tables it references (all of them when that cannot be known for sure)."""
    session = Session(catalog, extension_directory)
    session.prepare(sql)
    return session.con

"""The views Lens mounts: one per manifest table, reading exactly the files the manifest lists.

Each table becomes `<layer>.<namespace>.<name>` (a database per layer, attached in memory, a
schema per namespace) plus an alias `main.<name>` when no other table shares the name. Lens
never globs or lists the bucket, so the files a crashed run left behind stay invisible. A table
whose files cannot be read gets a view that raises a message naming it, so the others still work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from dataspoc_lens.catalog import Catalog
from dataspoc_lens.duckdb_types import duckdb_type
from dataspoc_lens.errors import StorageError
from dataspoc_lens.translate import one_line, translate

if TYPE_CHECKING:
    import duckdb

    from dataspoc_lens.references import Needed
    from dataspoc_lens.tables import Mountable


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _columns(table: Mountable) -> list[tuple[str, str]]:
    """The manifest's columns (plus partition keys) as (name, DuckDB type) pairs."""
    columns = [(c.name, duckdb_type(c.type)) for c in table.columns]
    names = {c.name for c in table.columns}
    columns += [(p, "DATE" if p == "dt" else "VARCHAR") for p in table.partition_by if p not in names]
    return columns


def view_sql(table: Mountable, catalog: Catalog[Mountable], path_of: Callable[[str], str] | None = None) -> str:
    files = table.files
    if not files:
        columns = _columns(table)
        if not columns:
            return "SELECT NULL WHERE false"
        select = ", ".join(f"CAST(NULL AS {kind}) AS {ident(name)}" for name, kind in columns)
        return f"SELECT {select} WHERE false"
    locate = path_of or reader_path(catalog)
    paths = ", ".join(literal(locate(f.path)) for f in files)
    hive = "true" if table.partition_by else "false"
    return f"SELECT * FROM read_parquet([{paths}], hive_partitioning={hive}, union_by_name=true)"


def reader_path(catalog: Catalog[Mountable]) -> Callable[[str], str]:
    """How DuckDB names a bucket file: its local path, or its URL."""
    bucket = catalog.bucket
    return bucket.full if bucket.is_local else bucket.display


def _unreadable_view_sql(table: Mountable, reason: str) -> str:
    """A view with the table's columns that raises `reason` whenever it is read.

    Every column and the WHERE clause call error(), so neither count(*) (which prunes the
    columns) nor a filter on a column (which could fold a NULL constant to false) can return
    rows or an empty result without raising.
    """
    fail = f"error({literal(reason)})"
    columns = _columns(table) or [("unreadable", "VARCHAR")]
    select = ", ".join(f"CAST({fail} AS {kind}) AS {ident(name)}" for name, kind in columns)
    return f"SELECT {select} FROM range(1) WHERE {fail} IS NULL"


def _unreadable_reason(table: Mountable, catalog: Catalog[Mountable], problem: str) -> str:
    bucket = catalog.bucket
    try:
        gone = [f.path for f in table.files if not bucket.exists(f.path)]
    except Exception:  # noqa: BLE001 - the original problem is the better message
        gone = []
    if gone:
        more = f" (and {len(gone) - 1} more)" if len(gone) > 1 else ""
        return (
            f"table {table.qualified} cannot be read: the manifest lists {bucket.display(gone[0])}{more}, "
            "which is gone; restore the file or re-run the pipeline that writes the table"
        )
    return f"table {table.qualified} cannot be read: {problem}"


def create_schemas(con: duckdb.DuckDBPyConnection, catalog: Catalog[Mountable]) -> None:
    """A database per layer and a schema per namespace: no files are read."""
    for layer in sorted({t.layer for t in catalog.tables}):
        con.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {ident(layer)}")
    for layer, namespace in sorted({(t.layer, t.namespace) for t in catalog.tables}):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(layer)}.{ident(namespace)}")


def _create(
    con: duckdb.DuckDBPyConnection,
    view: str,
    table: Mountable,
    catalog: Catalog[Mountable],
    path_of: Callable[[str], str] | None,
) -> None:
    """CREATE VIEW over the table's files. DuckDB binds a view when it is created, which reads
    the files' footers: one unreadable table must not break queries on the others, so its view
    raises instead."""
    import duckdb

    try:
        con.execute(f"CREATE VIEW {view} AS {view_sql(table, catalog, path_of)}")
    except duckdb.Error as exc:
        problem = translate(exc)
        if isinstance(problem, StorageError):  # the bucket failed, not the table: a retry may help
            raise problem from exc
        reason = _unreadable_reason(table, catalog, one_line(str(exc)))
        con.execute(f"CREATE VIEW {view} AS {_unreadable_view_sql(table, reason)}")


def mount(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog[Mountable],
    needed: Needed | None = None,
    done: set[str] | None = None,
    path_of: Callable[[str], str] | None = None,
) -> None:
    """Create the views: all of them, or only those `needed` names; skip, and add to `done`,
    the names mounted already (qualified names and bare aliases)."""
    import duckdb

    done = set() if done is None else done
    layers = {t.layer for t in catalog.tables}
    for table in catalog.tables:
        if (needed is not None and table.qualified not in needed.tables) or table.qualified in done:
            continue
        done.add(table.qualified)
        _create(con, f"{ident(table.layer)}.{ident(table.namespace)}.{ident(table.name)}", table, catalog, path_of)
    for name, table in catalog.aliases.items():
        if name in layers:
            continue  # `FROM raw` would be ambiguous with the database named raw
        if (needed is not None and name not in needed.aliases) or name in done:
            continue
        done.add(name)
        target = f"{ident(table.layer)}.{ident(table.namespace)}.{ident(table.name)}"
        try:  # binding the alias reads the table's footers again, so the bucket may fail here too
            con.execute(f"CREATE VIEW main.{ident(name)} AS SELECT * FROM {target}")
        except duckdb.Error as exc:
            raise translate(exc) from exc


def mount_as(
    con: duckdb.DuckDBPyConnection, catalog: Catalog[Mountable], database: str, path_of: Callable[[str], str]
) -> None:
    """Mount every table of one bucket in its own database: `<database>.<layer>.<name>`, or
    `<namespace>_<name>` for a name two namespaces of the layer share."""

    con.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {ident(database)}")
    counts: dict[tuple[str, str], int] = {}
    for t in catalog.tables:
        counts[(t.layer, t.name)] = counts.get((t.layer, t.name), 0) + 1
    for layer in sorted({t.layer for t in catalog.tables}):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(database)}.{ident(layer)}")
    for table in catalog.tables:
        name = table.name if counts[(table.layer, table.name)] == 1 else f"{table.namespace}_{table.name}"
        _create(con, f"{ident(database)}.{ident(table.layer)}.{ident(name)}", table, catalog, path_of)

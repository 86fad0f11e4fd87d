"""DuckDB over the bucket: one in-memory database with a view per manifest table.

Each table becomes `<layer>.<namespace>.<name>` (a database per layer, attached in memory, a
schema per namespace) plus an alias `main.<name>` when no other table shares the name. Views
read exactly the files the manifest lists: Lens never globs or lists the bucket, so the files a
crashed run left behind stay invisible. Remote buckets are reached through fsspec
(`register_filesystem`), so no DuckDB extension is ever downloaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataspoc_lens.catalog import Catalog
from dataspoc_lens.contract.models import Table
from dataspoc_lens.errors import BucketUnreachable, QueryError, QueryFailed, StorageError, UnknownTable, UnreadableTable

if TYPE_CHECKING:
    import duckdb
    import pyarrow

SIMPLE_TYPES = {
    "null": "INTEGER",
    "bool": "BOOLEAN",
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "uint8": "UTINYINT",
    "uint16": "USMALLINT",
    "uint32": "UINTEGER",
    "uint64": "UBIGINT",
    "halffloat": "FLOAT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "large_string": "VARCHAR",
    "string_view": "VARCHAR",
    "utf8": "VARCHAR",
    "large_utf8": "VARCHAR",
    "binary": "BLOB",
    "large_binary": "BLOB",
    "binary_view": "BLOB",
    "date32[day]": "DATE",
    "date64[ms]": "DATE",
    "time32[s]": "TIME",
    "time32[ms]": "TIME",
    "time64[us]": "TIME",
    "time64[ns]": "TIME",
}
TIMESTAMP = re.compile(r"^timestamp\[(s|ms|us|ns)(?:, tz=.+)?\]$")
DECIMAL = re.compile(r"^decimal(?:32|64|128|256)?\((\d+), ?(\d+)\)$")
DURATION = re.compile(r"^duration\[(s|ms|us|ns)\]$")


def duckdb_type(arrow_type: str) -> str:
    """The DuckDB type of an Arrow type string; VARCHAR for the few nested types we don't map."""
    arrow_type = arrow_type.strip()
    if arrow_type in SIMPLE_TYPES:
        return SIMPLE_TYPES[arrow_type]
    if m := TIMESTAMP.match(arrow_type):
        tz = ", tz=" in arrow_type
        if tz:
            return "TIMESTAMPTZ"
        return {"s": "TIMESTAMP_S", "ms": "TIMESTAMP_MS", "us": "TIMESTAMP", "ns": "TIMESTAMP_NS"}[m.group(1)]
    if m := DECIMAL.match(arrow_type):
        precision, scale = int(m.group(1)), int(m.group(2))
        return f"DECIMAL({precision}, {scale})" if precision <= 38 else "DOUBLE"
    if DURATION.match(arrow_type):
        return "INTERVAL"
    return "VARCHAR"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _columns(table: Table) -> list[tuple[str, str]]:
    """The manifest's columns (plus partition keys) as (name, DuckDB type) pairs."""
    columns = [(c.name, duckdb_type(c.type)) for c in table.columns]
    names = {c.name for c in table.columns}
    columns += [(p, "DATE" if p == "dt" else "VARCHAR") for p in table.partition_by if p not in names]
    return columns


def _view_sql(table: Table, catalog: Catalog) -> str:
    files = table.files
    if not files:
        columns = _columns(table)
        if not columns:
            return "SELECT NULL WHERE false"
        select = ", ".join(f"CAST(NULL AS {kind}) AS {ident(name)}" for name, kind in columns)
        return f"SELECT {select} WHERE false"
    bucket = catalog.bucket
    paths = ", ".join(literal(bucket.full(f.path) if bucket.is_local else bucket.display(f.path)) for f in files)
    hive = "true" if table.partition_by else "false"
    return f"SELECT * FROM read_parquet([{paths}], hive_partitioning={hive}, union_by_name=true)"


def _unreadable_view_sql(table: Table, reason: str) -> str:
    """A view with the table's columns that raises `reason` whenever it is read.

    Every column and the WHERE clause call error(), so neither count(*) (which prunes the
    columns) nor a filter on a column (which could fold a NULL constant to false) can return
    rows or an empty result without raising.
    """
    fail = f"error({literal(reason)})"
    columns = _columns(table) or [("unreadable", "VARCHAR")]
    select = ", ".join(f"CAST({fail} AS {kind}) AS {ident(name)}" for name, kind in columns)
    return f"SELECT {select} FROM range(1) WHERE {fail} IS NULL"


def _unreadable_reason(table: Table, catalog: Catalog, problem: str) -> str:
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


def connect(
    catalog: Catalog, extension_directory: str | None = None, sql: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the catalog's tables mounted as views.

    Without `sql`, every table is mounted. With it, only the tables the SQL references (and
    the bare-name aliases it uses): creating a view binds it, which reads the footer of every
    file the table lists, so mounting a whole bucket costs one read per file. When the SQL's
    table references cannot be known for sure, every table is mounted.
    """
    import duckdb

    config: dict[str, Any] = {"autoinstall_known_extensions": False}
    if extension_directory:
        config["extension_directory"] = extension_directory
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET enable_progress_bar=false")
    if catalog.tables and not catalog.bucket.is_local:
        con.register_filesystem(catalog.bucket.fs)
    _create_schemas(con, catalog)
    needed = referenced(con, catalog, sql) if sql is not None else None
    mount(con, catalog, needed)
    return con


def _create_schemas(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> None:
    """A database per layer and a schema per namespace: no files are read."""
    for layer in sorted({t.layer for t in catalog.tables}):
        con.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {ident(layer)}")
    for layer, namespace in sorted({(t.layer, t.namespace) for t in catalog.tables}):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(layer)}.{ident(namespace)}")


@dataclass
class Needed:
    """What one query needs mounted: tables by qualified name, and bare-name aliases."""

    tables: set[str] = field(default_factory=set)
    aliases: set[str] = field(default_factory=set)


# A name as DuckDB's get_table_names reports it: up to three plain identifiers, maybe `AS alias`.
REFERENCE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*){0,2})(?: AS .*)?$", re.S)
# Statement kinds whose table references get_table_names reports in full.
PLAIN_STATEMENTS = ("SELECT", "EXPLAIN")
# Words that read the catalog itself or name tables inside strings: mount everything for them.
INTROSPECTION = re.compile(
    r"\b(?:show|describe|summarize|pragma\w*|duckdb_\w+|information_schema|pg_catalog|sqlite_\w+|"
    r"table_info|query(?:_table)?\s*\()",
    re.I,
)


def referenced(con: duckdb.DuckDBPyConnection, catalog: Catalog, sql: str) -> Needed | None:
    """The tables and aliases `sql` reads, or None (mount everything) when that is uncertain.

    Uses DuckDB's own parser. Any doubt (a parse or bind failure, a statement other than a
    query, a catalog lookup, a name that is not exactly one table or alias) answers None:
    mounting too much is only slower, mounting too little would change the answer.
    """
    import duckdb

    if not catalog.tables:
        return Needed()
    if INTROSPECTION.search(sql):
        return None
    try:
        statements = duckdb.extract_statements(sql)
        names: set[str] = set()
        ctes: set[str] = set()  # names that may be a CTE rather than a table
        for statement in statements:
            if getattr(statement.type, "name", "") not in PLAIN_STATEMENTS:
                return None
            found, local = _table_names(con, statement.query)
            names |= found
            ctes |= local
    except Exception:  # noqa: BLE001 - any failure means "uncertain"; the real run reports it
        return None
    layers = {t.layer for t in catalog.tables}
    by_name = {t.qualified: t for t in catalog.tables}
    aliases = {name: table for name, table in catalog.aliases.items() if name not in layers}
    needed = Needed()
    for entry in names:
        match = REFERENCE.match(entry.strip())
        if not match:
            return None
        parts = match.group(1).lower().split(".")
        if len(parts) == 3 and ".".join(parts) in by_name:
            needed.tables.add(".".join(parts))
        elif parts[-1] in aliases and parts[:-1] in ([], ["main"], ["memory", "main"]):
            needed.aliases.add(parts[-1])
            needed.tables.add(aliases[parts[-1]].qualified)
        elif entry in ctes:
            continue
        else:
            return None  # a table we do not know, e.g. a typo: let the full catalog answer
    return needed


def _table_names(con: duckdb.DuckDBPyConnection, statement: str) -> tuple[set[str], set[str]]:
    """The tables one statement names, from DuckDB's parser, and the CTE names it defines.

    get_table_names also binds the statement against placeholder tables, which fails for some
    valid SQL (`JOIN ... USING (col)`: the placeholders have no columns); a SELECT's syntax tree
    (json_serialize_sql) then gives the same names without binding anything.
    """
    import duckdb

    try:
        return set(con.get_table_names(statement, qualified=True)), set()
    except duckdb.BinderException:
        import json

        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [statement]).fetchall()[0][0])
        if tree.get("error"):
            raise
        tables: set[str] = set()
        ctes: set[str] = set()
        _walk(tree, tables, ctes)
        return tables, ctes


def _walk(node: Any, tables: set[str], ctes: set[str]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "BASE_TABLE":
            parts = [node.get(k) or "" for k in ("catalog_name", "schema_name", "table_name")]
            tables.add(".".join(p for p in parts if p))
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            ctes.update(entry.get("key", "") for entry in cte_map.get("map", []) if isinstance(entry, dict))
        for value in node.values():
            _walk(value, tables, ctes)
    elif isinstance(node, list):
        for value in node:
            _walk(value, tables, ctes)


def mount(con: duckdb.DuckDBPyConnection, catalog: Catalog, needed: Needed | None = None) -> None:
    """Create the views: all of them, or only those `needed` names."""
    import duckdb

    _create_schemas(con, catalog)
    layers = {t.layer for t in catalog.tables}
    for table in catalog.tables:
        if needed is not None and table.qualified not in needed.tables:
            continue
        view = f"{ident(table.layer)}.{ident(table.namespace)}.{ident(table.name)}"
        try:
            con.execute(f"CREATE VIEW {view} AS {_view_sql(table, catalog)}")
        except duckdb.Error as exc:
            # DuckDB binds a view when it is created, which reads the files' footers. One
            # unreadable table must not break queries on the others: its view raises instead.
            problem = translate(exc)
            if isinstance(problem, BucketUnreachable):
                raise problem from exc
            reason = _unreadable_reason(table, catalog, _one_line(str(exc)))
            con.execute(f"CREATE VIEW {view} AS {_unreadable_view_sql(table, reason)}")
    for name, table in catalog.aliases.items():
        if name in layers:
            continue  # `FROM raw` would be ambiguous with the database named raw
        if needed is not None and name not in needed.aliases:
            continue
        target = f"{ident(table.layer)}.{ident(table.namespace)}.{ident(table.name)}"
        con.execute(f"CREATE VIEW main.{ident(name)} AS SELECT * FROM {target}")


def _one_line(message: str) -> str:
    """DuckDB's message without the SQL excerpt and caret lines, joined onto one line."""
    keep = []
    for line in message.splitlines():
        line = line.strip()
        if not line or line.startswith("LINE ") or set(line) <= {"^", " "}:
            continue
        keep.append(line)
    return "; ".join(keep) or message.strip()


TABLE_MISSING = re.compile(r"(Table|Catalog|Schema) with name (\S+) does not exist", re.I)
UNREADABLE = re.compile(r"table \S+ cannot be read: .*")


def translate(exc: Exception) -> Exception:
    """Turn a DuckDB error into the LensError a person can act on."""
    import duckdb

    message = _one_line(str(exc))
    if isinstance(exc, duckdb.InvalidInputException) and (m := UNREADABLE.search(message)):
        return UnreadableTable(m.group(0))
    if isinstance(exc, duckdb.CatalogException) and TABLE_MISSING.search(message):
        return UnknownTable(f"{message}; run `dataspoc-lens catalog` to list the tables")
    if isinstance(exc, (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException)):
        return QueryError(message)
    if isinstance(exc, (duckdb.IOException, duckdb.HTTPException)):
        if any(s in message for s in ("Could not connect", "Connection refused", "Connect timeout")):
            return BucketUnreachable(f"cannot reach the bucket: {message}")
        return StorageError(f"cannot read a table's files: {message}")
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return BucketUnreachable(f"cannot reach the bucket: {message}")
    return QueryFailed(f"query failed: {message}")


def run(con: duckdb.DuckDBPyConnection, sql: str, max_rows: int | None) -> tuple[pyarrow.Table | None, bool]:
    """Run SQL; return its result (None for statements without one) and whether it was cut short."""
    import duckdb

    if not sql.strip():
        raise QueryError("the SQL is empty")
    try:
        relation = con.sql(sql)
        if relation is None:
            return None, False
        if max_rows is None:
            return _arrow(relation), False
        result = _arrow(relation.limit(max_rows + 1))
    except duckdb.Error as exc:
        raise translate(exc) from exc
    if result.num_rows > max_rows:
        return result.slice(0, max_rows), True
    return result, False


BATCH_ROWS = 10_000


@dataclass
class Stream:
    """A query's result as it arrives: column names, then record batches (read them once).

    `cut` turns true once the batches stop early because of max_rows.
    """

    names: list[str]
    _reader: Any = field(repr=False)
    _max_rows: int | None = None
    cut: bool = False

    def batches(self) -> Iterator[pyarrow.RecordBatch]:
        import duckdb

        seen = 0
        while True:
            try:
                batch = self._reader.read_next_batch()
            except StopIteration:
                return
            except duckdb.Error as exc:
                raise translate(exc) from exc
            except OSError as exc:  # Arrow's reader re-raises DuckDB's errors as OSError
                raise translate(_as_duckdb_error(exc)) from exc
            if self._max_rows is not None and seen + batch.num_rows > self._max_rows:
                self.cut = True
                if self._max_rows > seen:
                    yield batch.slice(0, self._max_rows - seen)
                return
            seen += batch.num_rows
            yield batch


# The prefix of DuckDB's message -> its exception class, to classify errors Arrow passed on.
ERROR_PREFIXES = {
    "IO Error": "IOException",
    "HTTP Error": "HTTPException",
    "Invalid Input Error": "InvalidInputException",
    "Conversion Error": "ConversionException",
    "Out of Range Error": "OutOfRangeException",
    "Binder Error": "BinderException",
    "Catalog Error": "CatalogException",
    "Parser Error": "ParserException",
}


def _as_duckdb_error(exc: OSError) -> Exception:
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return exc
    import duckdb

    message = str(exc)
    for prefix, name in ERROR_PREFIXES.items():
        if message.startswith(prefix):
            return getattr(duckdb, name, duckdb.Error)(message)
    return duckdb.Error(message)


def stream(con: duckdb.DuckDBPyConnection, sql: str, max_rows: int | None) -> Stream | None:
    """Run SQL; its result as a Stream of record batches (None for statements without one).

    Nothing is materialised: keep `con` open until the batches have been read.
    """
    import duckdb

    if not sql.strip():
        raise QueryError("the SQL is empty")
    try:
        relation = con.sql(sql)
        if relation is None:
            return None
        if max_rows is not None:
            relation = relation.limit(max_rows + 1)
        reader = _batch_reader(relation)
        return Stream(list(reader.schema.names), reader, max_rows)
    except duckdb.Error as exc:
        raise translate(exc) from exc


def _batch_reader(relation: Any) -> pyarrow.RecordBatchReader:
    # DuckDB 2.0 has to_arrow_reader(); older releases call it fetch_record_batch().
    method = getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch
    return method(BATCH_ROWS)


def _arrow(relation: Any) -> pyarrow.Table:
    # DuckDB 2.0 has to_arrow_table(); older releases call it arrow().
    method = getattr(relation, "to_arrow_table", None) or relation.arrow
    return method()

"""SQL databases, PostgreSQL and SQLite: tables (or one query) streamed as Arrow batches.

The drivers are ADBC's (`adbc-driver-postgresql`, `adbc-driver-sqlite`): rows arrive as Arrow
record batches over the database's binary protocol (PostgreSQL's COPY), so memory stays bounded
and no Python object is made per row.

Rules a user can rely on (docs/pipe.md repeats them):
- each selected table is one stream; its name is the table's, lowercased with anything other
  than letters, digits and underscores turned into `_`;
- with a `cursor` column a run reads the rows whose cursor is greater than the bookmark, and
  the bookmark moves to the greatest value read; without one every run reads the whole table;
- types are exact: numeric(p, s) -> decimal128(p, s) (p <= 38; wider or unconstrained numeric
  is kept as text), timestamptz -> UTC timestamp, json/jsonb -> JSON text, arrays -> lists,
  bytea -> binary, uuid/interval and other types with no Arrow equivalent -> text;
- the primary key is recorded in the manifest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from dataspoc_pipe.contract.models import Cursor, StreamBookmark
from dataspoc_pipe.errors import MissingBackend, SourceError, SourceUnreachable, UsageError
from dataspoc_pipe.sources import types
from dataspoc_pipe.sources.base import Context, Kind, SourceConfig, Stream, stream_name
from dataspoc_pipe.sources.read_ahead import read_ahead

BATCH_BYTES = 16 << 20
# PostgreSQL types read as text: Arrow has no faithful equivalent, or Parquet cannot store it.
AS_TEXT = {
    "uuid",
    "interval",
    "money",
    "inet",
    "cidr",
    "macaddr",
    "macaddr8",
    "xml",
    "tsvector",
    "point",
    "bit",
    "varbit",
}


class _SqlConfig(SourceConfig):
    tables: Annotated[list[str] | None, Field(description="Tables to read [default: every table].")] = None
    query: Annotated[str | None, Field(description="One query instead of tables; fills one table.")] = None
    cursor: Annotated[
        str | dict[str, str] | None,
        Field(description="Cursor column for incremental reads: one name for every table, or table -> column."),
    ] = None
    columns: dict[str, str] = Field(default_factory=dict, description="Declared types: column or table.column -> type.")

    @model_validator(mode="after")
    def _tables_or_query(self):
        if self.tables is not None and self.query is not None:
            raise ValueError("give tables or query, not both")
        if self.query is not None and isinstance(self.cursor, dict):
            raise ValueError("a query has one cursor: give its column name")
        return self

    def cursor_of(self, table: str) -> str | None:
        if isinstance(self.cursor, dict):
            return self.cursor.get(table)
        return self.cursor


class PostgresConfig(_SqlConfig):
    kind: Literal["postgres"] = "postgres"
    url: Annotated[
        str,
        Field(
            min_length=1,
            description="postgresql://USER@HOST:PORT/DB; the password from PGPASSWORD or ${VAR}, never written here.",
        ),
    ]
    db_schema: str = Field("public", alias="schema", description="The schema whose tables are read.")

    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class SqliteConfig(_SqlConfig):
    kind: Literal["sqlite"] = "sqlite"
    path: Annotated[str, Field(min_length=1, description="The database file, relative to the project file.")]


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _redact(text: str) -> str:
    """Driver messages may repeat the connection URL: never its password."""
    return re.sub(r"(://[^:/@\s]+):[^@\s]*@", r"\1:***@", text)


def pa_is_text(kind) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _decimal_of(kind: str):
    """decimal128(p, s) for PostgreSQL's numeric(p, s) with p <= 38, else None."""
    import pyarrow as pa

    match = re.fullmatch(r"numeric\((\d+),(\d+)\)", kind.replace(" ", ""))
    if match is None or int(match.group(1)) > 38:
        return None
    return pa.decimal128(int(match.group(1)), int(match.group(2)))


class Database:
    """One connection and what differs between PostgreSQL and SQLite."""

    def __init__(self, config: PostgresConfig | SqliteConfig, context: Context):
        self.config = config
        self.kind = config.kind
        self.conn = self._connect(context)

    def _connect(self, context: Context):
        if isinstance(self.config, PostgresConfig):
            try:
                import adbc_driver_postgresql.dbapi as driver
            except ImportError:
                raise MissingBackend(
                    "reading PostgreSQL needs the postgres extra: pip install 'dataspoc-pipe[postgres]'"
                ) from None
            target, where = self.config.url, _redact(self.config.url)
        else:
            try:
                import adbc_driver_sqlite.dbapi as driver
            except ImportError:
                raise MissingBackend(
                    "reading SQLite needs the sqlite extra: pip install 'dataspoc-pipe[sqlite]'"
                ) from None
            path = Path(self.config.path)
            path = path if path.is_absolute() else context.project_dir / path
            if not path.is_file():
                raise SourceError(f"no SQLite database at {path}; check source.path")
            target, where = f"file:{path}?mode=ro", str(path)
        try:
            conn = driver.connect(target)
        except Exception as exc:  # noqa: BLE001 - the driver's errors have no common base we can import
            message = _redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            if any(word in message.lower() for word in ("password", "authentication", "role", "does not exist")):
                raise UsageError(f"cannot log in to {where}: {message}") from None
            raise SourceUnreachable(f"cannot connect to {where}: {message}") from None
        self.where = where
        if isinstance(self.config, PostgresConfig):
            # every table of a run is read from one snapshot, and nothing is ever written
            cursor = conn.cursor()
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.close()
            conn.commit()  # the driver opened a transaction for SET: the next one has the characteristics
        return conn

    def rows(self, sql: str) -> list[tuple]:
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def tables(self) -> list[str]:
        if self.kind == "postgres":
            schema = _literal(self.config.db_schema)  # type: ignore[union-attr]
            # pg_class, not information_schema: a table the user may not read is listed, and
            # refused by name, rather than silently left out
            sql = (
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                f"WHERE n.nspname = {schema} AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY 1"
            )
        else:
            sql = (
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY 1"
            )
        return [row[0] for row in self.rows(sql)]

    def qualified(self, table: str) -> str:
        if self.kind == "postgres":
            return f"{_quote(self.config.db_schema)}.{_quote(table)}"  # type: ignore[union-attr]
        return _quote(table)

    def columns(self, table: str) -> list[tuple[str, str]]:
        """(name, type) of a table's columns, in order."""
        if self.kind == "postgres":
            sql = (
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                f"WHERE a.attrelid = {_literal(self.qualified(table))}::regclass AND a.attnum > 0 "
                "AND NOT a.attisdropped ORDER BY a.attnum"
            )
        else:
            sql = f"SELECT name, type FROM pragma_table_info({_literal(table)}) ORDER BY cid"
        return [(row[0], row[1]) for row in self.rows(sql)]

    def primary_key(self, table: str) -> list[str] | None:
        if self.kind == "postgres":
            sql = (
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                f"AND a.attnum = ANY(i.indkey) WHERE i.indrelid = {_literal(self.qualified(table))}::regclass "
                "AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)"
            )
        else:
            sql = f"SELECT name FROM pragma_table_info({_literal(table)}) WHERE pk > 0 ORDER BY pk"
        return [row[0] for row in self.rows(sql)] or None

    def select_list(self, table: str, declared: dict[str, Any]) -> str:
        parts = []
        for name, kind in self.columns(table):
            base = kind.split("(")[0].removesuffix("[]").strip()
            if name in declared and pa_is_text(declared[name]):
                parts.append(f"CAST({_quote(name)} AS TEXT) AS {_quote(name)}")
            elif name in declared:
                parts.append(_quote(name))
            elif self.kind == "postgres" and base in AS_TEXT:
                parts.append(f"{_quote(name)}::text{'[]' if kind.endswith('[]') else ''} AS {_quote(name)}")
            elif self.kind == "postgres" and (decimal := _decimal_of(kind)) is not None:
                # numeric as text, made decimal by Arrow: the driver's own numeric decoding is
                # slow (measured: 1.67 s against 1.20 s for 2M rows with one numeric column)
                declared.setdefault(name, decimal)
                parts.append(f"{_quote(name)}::text AS {_quote(name)}")
            else:
                parts.append(_quote(name))
        return ", ".join(parts)

    def batches(self, sql: str) -> Iterator:
        cursor = self.conn.cursor()
        if self.kind == "postgres":
            cursor.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(BATCH_BYTES)})
        try:
            cursor.execute(sql)
            yield from read_ahead(cursor.fetch_record_batch())
        finally:
            cursor.close()

    def column_names_after_failure(self, table: str | None) -> list[str]:
        """A table's column names, for an error message, once a statement has failed."""
        try:
            self.conn.rollback()  # PostgreSQL refuses every statement of an aborted transaction
            return [name for name, _ in self.columns(table)] if table else []
        except Exception:  # noqa: BLE001 - only a message is at stake
            return []

    def close(self) -> None:
        if self.conn is None:
            return
        conn, self.conn = self.conn, None
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - closing after a failure: the failure is what matters
            pass


class SqlStream(Stream):
    def __init__(self, name: str, database: Database, table: str | None, context: Context, config: _SqlConfig):
        self.name = name
        self.database = database
        self.table = table  # None: the config's query
        self.context = context
        self.config = config
        self.cursor_column = config.cursor_of(table) if table else config.cursor_of("")
        self.incremental = bool(self.cursor_column)
        self.declared = {
            column.split(".", 1)[-1]: types.parse(text, f"source.columns.{column}")
            for column, text in config.columns.items()
            if "." not in column or column.split(".", 1)[0] == table
        }
        previous = context.bookmark(name)
        self.start = previous.cursor.value if previous and previous.cursor else None
        self.greatest: Any = self.start
        self.primary_key = database.primary_key(table) if table else None

    def origin(self) -> str:
        return f"{self.database.where} {'table ' + self.table if self.table else 'query'}"

    def sql(self) -> str:
        if self.table is None:
            source = f"({self.config.query}) AS q"
            select = "*"
        else:
            source = self.database.qualified(self.table)
            select = self.database.select_list(self.table, self.declared)
        sql = f"SELECT {select} FROM {source}"
        if self.cursor_column:
            column = _quote(self.cursor_column)
            if self.context.window is not None:
                low, high = self.context.window
                sql += f" WHERE {column} >= {self._typed(low)} AND {column} <= {self._typed(high)}"
            elif self.start is not None:
                sql += f" WHERE {column} > {self._typed(self.start)}"
            sql += f" ORDER BY {column} NULLS FIRST"
        return sql

    def _typed(self, value: Any) -> str:
        literal = _literal(value)
        if self.database.kind == "postgres" and self.table is not None and isinstance(value, str):
            kinds = dict(self.database.columns(self.table))
            if self.cursor_column in kinds:
                return f"CAST({literal} AS {kinds[self.cursor_column]})"
        return literal

    def plan(self) -> list[str]:
        where = f" where {self.cursor_column} > {self.start}" if self.cursor_column and self.start is not None else ""
        if self.context.window is not None:
            where = f" where {self.context.window[0]} <= {self.cursor_column} <= {self.context.window[1]} (backfill)"
        how = f"incremental by {self.cursor_column}" if self.cursor_column else "whole table"
        return [f"{self.origin()}{where} ({how})"]

    def batches(self) -> Iterator:
        import pyarrow as pa

        try:
            for batch in self.database.batches(self.sql()):
                batch = _clean(batch, self.declared, self.origin())
                if self.cursor_column and batch.num_rows:
                    if self.cursor_column not in batch.schema.names:
                        raise SourceError(
                            f"{self.origin()}: no cursor column '{self.cursor_column}'; check source.cursor"
                        )
                    # rows come in cursor order: the last value is the greatest in the database's
                    # own order (a max in Arrow would compare numerics read as text as text)
                    present = batch.column(self.cursor_column).drop_null()
                    if len(present):
                        self.greatest = _bookmark_value(present[-1].as_py())
                yield batch
        except SourceError:
            raise
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise SourceError(f"{self.origin()}: {_redact(str(exc).splitlines()[0])}") from None
        except Exception as exc:  # noqa: BLE001 - driver errors (dbapi.Error, OSError) share no importable base
            names = self.database.column_names_after_failure(self.table)
            raise SourceError(_explain(self.origin(), exc, names)) from None

    def close(self) -> None:
        self.database.close()

    def bookmark(self) -> StreamBookmark:
        if self.context.window is not None:  # a backfill never moves the live bookmark
            return self.context.bookmarks.get(self.name) or StreamBookmark()
        if not self.cursor_column or self.greatest is None:
            return StreamBookmark()
        return StreamBookmark(cursor=Cursor(column=self.cursor_column, value=self.greatest))


def _bookmark_value(value: Any) -> str | int | float:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (int, float, str)):
        return value
    return str(value)


def _explain(origin: str, exc: BaseException, names: list[str]) -> str:
    message = _redact(next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__))
    lower = message.lower()
    if "permission denied" in lower:
        return f"{origin}: permission denied; grant the user SELECT on it, or leave it out of source.tables"
    if match := re.search(r"type mismatch in column (\d+)", lower):
        index = int(match.group(1))
        column = names[index] if index < len(names) else f"#{index + 1}"
        return (
            f"{origin}: column '{column}' holds values of different types; "
            f"declare its type in source.columns (e.g. {column}: string)"
        )
    return f"{origin}: {message}"


def _clean(batch, declared: dict[str, Any], origin: str):
    """Plain Arrow types for Parquet: decimals from PostgreSQL numeric, text from extensions."""
    import pyarrow as pa

    arrays, fields = [], []
    for field, column in zip(batch.schema, batch.columns):
        kind = field.type
        if isinstance(kind, pa.BaseExtensionType):
            storage = column.storage if hasattr(column, "storage") else column
            if getattr(kind, "extension_name", "") == "arrow.uuid":
                import uuid

                column = pa.array(
                    [None if v is None else str(uuid.UUID(bytes=v)) for v in storage.to_pylist()], pa.string()
                )
            else:
                column = storage
                if (field.metadata or {}).get(b"POSTGRESQL:type") == b"numeric":
                    column = _numeric(column, int((field.metadata or {}).get(b"POSTGRESQL:typmod", b"-1")))
        elif pa.types.is_interval(kind):
            column = pa.array(
                [None if v is None else f"P{v.months}M{v.days}DT{v.nanoseconds / 1e9:g}S" for v in column.to_pylist()],
                pa.string(),
            )
        if field.name in declared and not column.type.equals(declared[field.name]):
            try:
                column = column.cast(declared[field.name])
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise SourceError(
                    f"{origin}: column '{field.name}' does not fit {declared[field.name]}: {str(exc).splitlines()[0]}"
                ) from None
        arrays.append(column)
        fields.append(pa.field(field.name, column.type))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _numeric(column, typmod: int):
    """numeric(p, s) as decimal128(p, s); unconstrained or wider than 38 digits stays text."""
    import pyarrow as pa

    if typmod < 4:
        return column
    precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
    if precision > 38:
        return column
    return column.cast(pa.decimal128(precision, scale))


def open_streams(config: PostgresConfig | SqliteConfig, context: Context) -> list[Stream]:
    database = Database(config, context)
    try:
        if config.query is not None:
            return _for_backfill(
                [SqlStream(context.default_table, database, None, context, config)], context, database.where
            )
        available = database.tables()
        chosen = config.tables if config.tables is not None else available
        missing = [t for t in chosen if t not in available]
        if missing:
            raise SourceError(f"{database.where}: no table {missing[0]}; tables: {', '.join(available) or 'none'}")
        names: dict[str, str] = {}
        for table in chosen:
            name = stream_name(table)
            if name in names:
                raise SourceError(
                    f"{database.where}: tables {names[name]} and {table} both land in table '{name}'; select one"
                )
            names[name] = table
        streams = [SqlStream(stream_name(t), database, t, context, config) for t in chosen]
        return _for_backfill(streams, context, database.where)
    except Exception:
        database.close()
        raise


def _for_backfill(streams: list[SqlStream], context: Context, where: str) -> list[Stream]:
    if context.window is None:
        return list(streams)
    if context.only is not None:
        streams = [s for s in streams if s.name == context.only]
        if not streams:
            raise UsageError(f"{where}: no stream '{context.only}' to backfill")
    without = [s.name for s in streams if not s.cursor_column]
    if without:
        raise UsageError(f"{where}: stream '{without[0]}' has no cursor column to backfill by; set source.cursor")
    return list(streams)


POSTGRES = Kind(
    name="postgres",
    config=PostgresConfig,
    open=open_streams,
    summary="PostgreSQL: every table of a schema, chosen tables or a query; incremental by a cursor column",
)
SQLITE = Kind(
    name="sqlite",
    config=SqliteConfig,
    open=open_streams,
    summary="SQLite: every table, chosen tables or a query; incremental by a cursor column",
)

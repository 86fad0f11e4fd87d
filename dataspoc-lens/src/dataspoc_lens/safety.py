"""Read-only by construction: what a query may touch is DuckDB's own configuration, locked.

Before any user SQL runs, the connection allows exactly the bucket's files (a local bucket: the
files the manifest lists, by path; a remote one: its prefix, through a filesystem that refuses
every write), plus the folder `--write` names; external access is otherwise off, extensions
cannot be installed or loaded, and the configuration is locked so SQL cannot lift any of it.
Statements whose only purpose is to write files or change the catalog of databases (COPY,
EXPORT, ATTACH, DETACH, INSTALL, LOAD) are refused by their type, as DuckDB's parser gives it,
unless `--write` allows COPY.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataspoc_lens.errors import ReadOnlyRefused

if TYPE_CHECKING:
    import duckdb

REFUSED = {
    "COPY": "COPY writes files",
    "EXPORT": "EXPORT writes files",
    "COPY_DATABASE": "COPY DATABASE writes a database",
    "ATTACH": "ATTACH opens another database",
    "DETACH": "DETACH changes the databases",
    "LOAD": "INSTALL and LOAD add extensions",
    "EXTENSION": "extension statements add extensions",
}


def check(con: duckdb.DuckDBPyConnection, sql: str, write: bool) -> None:
    """Refuse statements that would write outside a query's result (parsed by `con`, so no
    second DuckDB database is opened for it)."""
    import duckdb

    try:
        kinds = [s.type.name for s in con.extract_statements(sql)]
    except duckdb.Error:
        return  # a syntax error: running it reports it
    except ValueError:  # a statement type this Python API cannot name
        raise ReadOnlyRefused("this statement is not allowed in a read-only query") from None
    for kind in kinds:
        if kind in REFUSED and not (write and kind == "COPY"):
            hint = "; pass --write to COPY results to files outside the bucket" if kind == "COPY" else ""
            raise ReadOnlyRefused(f"{REFUSED[kind]}: dataspoc-lens queries are read-only{hint}")


def lock(con: duckdb.DuckDBPyConnection, directories: list[str], paths: list[str]) -> None:
    """Allow only `directories` and `paths`, then lock the configuration."""
    from dataspoc_lens.views import literal

    def listing(items: list[str]) -> str:
        return "[" + ", ".join(literal(i) for i in items) + "]"

    con.execute(f"SET allowed_directories = {listing(directories)}")
    con.execute(f"SET allowed_paths = {listing(paths)}")
    con.execute("SET enable_external_access = false")
    con.execute("SET allow_community_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET lock_configuration = true")

"""Which tables a SQL text names, by DuckDB's own parser: only those are mounted for a query.

Creating a view binds it, which reads the footer of every file the table lists, so mounting a
whole bucket costs one read per file. Any doubt answers None: mount everything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataspoc_lens.catalog import Catalog

if TYPE_CHECKING:
    import duckdb

    from dataspoc_lens.tables import Mountable


@dataclass
class Needed:
    """What one query needs mounted: tables by qualified name, and bare-name aliases."""

    tables: set[str] = field(default_factory=set)
    aliases: set[str] = field(default_factory=set)


# A name as DuckDB's get_table_names reports it: up to three plain identifiers, maybe `AS alias`.
# Each part plain or double-quoted (DuckDB quotes names that are also keywords: "second").
IDENTIFIER = r'(?:[A-Za-z_][A-Za-z0-9_]*|"(?:[^"]|"")+")'
REFERENCE = re.compile(rf"^({IDENTIFIER}(?:\.{IDENTIFIER}){{0,2}})(?: AS .*)?$", re.S)
PART = re.compile(IDENTIFIER)


def name_parts(entry: str) -> list[str] | None:
    """`gold.ops."second" AS s` -> ['gold', 'ops', 'second'] (lowercase); None when it is not a
    plain reference of up to three parts."""
    match = REFERENCE.match(entry.strip())
    if not match:
        return None
    parts = PART.findall(match.group(1))
    return [p[1:-1].replace('""', '"').lower() if p.startswith('"') else p.lower() for p in parts]


# Statement kinds whose table references get_table_names reports in full.
PLAIN_STATEMENTS = ("SELECT", "EXPLAIN")
# Words that read the catalog itself or name tables inside strings: mount everything for them.
INTROSPECTION = re.compile(
    r"\b(?:show|describe|summarize|pragma\w*|duckdb_\w+|information_schema|pg_catalog|sqlite_\w+|"
    r"table_info|query(?:_table)?\s*\()",
    re.I,
)


def referenced(con: duckdb.DuckDBPyConnection, catalog: Catalog[Mountable], sql: str) -> Needed | None:
    """The tables and aliases `sql` reads, or None (mount everything) when that is uncertain.

    Uses DuckDB's own parser. Any doubt (a parse or bind failure, a statement other than a
    query, a catalog lookup, a name that is not exactly one table or alias) answers None:
    mounting too much is only slower, mounting too little would change the answer.
    """
    if not catalog.tables:
        return Needed()
    if INTROSPECTION.search(sql):
        return None
    try:
        statements = con.extract_statements(sql)
        names: set[str] = set()
        ctes: set[str] = set()  # names that may be a CTE rather than a table
        for statement in statements:
            if getattr(statement.type, "name", "") not in PLAIN_STATEMENTS:
                return None
            found, local = table_names(con, statement.query)
            names |= found
            ctes |= local
    except Exception:  # noqa: BLE001 - any failure means "uncertain"; the real run reports it
        return None
    layers = {t.layer for t in catalog.tables}
    by_name = {t.qualified: t for t in catalog.tables}
    aliases = {name: table for name, table in catalog.aliases.items() if name not in layers}
    needed = Needed()
    for entry in names:
        found_parts = name_parts(entry)
        if found_parts is None:
            return None
        parts = found_parts
        if len(parts) == 3 and ".".join(parts) in by_name:
            needed.tables.add(".".join(parts))
        elif parts[-1] in aliases and parts[:-1] in ([], ["main"], ["memory", "main"]):
            needed.aliases.add(parts[-1])
            needed.tables.add(aliases[parts[-1]].qualified)
        elif entry in ctes or ".".join(parts) in ctes:
            continue
        else:
            return None  # a table we do not know, e.g. a typo: let the full catalog answer
    return needed


def table_names(con: duckdb.DuckDBPyConnection, statement: str) -> tuple[set[str], set[str]]:
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

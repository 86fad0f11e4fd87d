"""Which tables each model reads, the order models run in, and `--select`.

Dependencies come from DuckDB's own parser (the tables each compiled SQL names), resolved
against the other models first, then the bucket's catalog, so a model may read a gold table that
another model of the project publishes before it exists.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dataspoc_lens.catalog import Catalog
from dataspoc_lens.errors import AmbiguousTable, ProjectError, UnknownTable
from dataspoc_lens.gold.project import Model
from dataspoc_lens.references import name_parts, table_names

if TYPE_CHECKING:
    import duckdb

    from dataspoc_lens.contract.models import Table


@dataclass
class Node:
    model: Model
    upstream_models: list[str] = field(default_factory=list)  # qualified names of models it reads
    upstream_tables: list[str] = field(default_factory=list)  # qualified names of bucket tables it reads


@dataclass
class Graph:
    nodes: dict[str, Node]  # by qualified name, in run order

    @property
    def order(self) -> list[Model]:
        return [n.model for n in self.nodes.values()]

    def find(self, name: str) -> Model:
        """A model by `gold.domain.name`, `domain.name` or a unique bare name."""
        parts = name.strip().split(".")
        matches = [n.model for n in self.nodes.values() if n.model.qualified.split(".")[-len(parts) :] == parts]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise ProjectError(f"model '{name}' is ambiguous: {', '.join(m.key for m in matches)}; use domain.name")
        known = ", ".join(n.model.key for n in self.nodes.values()) or "none"
        raise ProjectError(f"no model '{name}' in the transforms folder; models: {known}")

    def upstream(self, qualified: str) -> set[str]:
        found: set[str] = set()
        stack = [qualified]
        while stack:
            for parent in self.nodes[stack.pop()].upstream_models:
                if parent not in found:
                    found.add(parent)
                    stack.append(parent)
        return found

    def downstream(self, qualified: str) -> set[str]:
        found: set[str] = set()
        stack = [qualified]
        while stack:
            current = stack.pop()
            for node in self.nodes.values():
                if current in node.upstream_models and node.model.qualified not in found:
                    found.add(node.model.qualified)
                    stack.append(node.model.qualified)
        return found

    def select(self, selectors: list[str]) -> list[Model]:
        """The models `--select` names, in run order: NAME, +NAME (with what it reads),
        NAME+ (with what reads it), tag:TAG; none given means every model."""
        if not selectors:
            return self.order
        chosen: set[str] = set()
        for selector in selectors:
            for item in (s for s in selector.split(",") if s.strip()):
                chosen |= self._selected(item.strip())
        return [n.model for q, n in self.nodes.items() if q in chosen]

    def _selected(self, item: str) -> set[str]:
        if item.startswith("tag:"):
            tag = item[4:]
            found = {q for q, n in self.nodes.items() if tag in n.model.settings.tags}
            if not found:
                raise ProjectError(f"--select {item}: no model has the tag '{tag}'")
            return found
        with_up, with_down = item.startswith("+"), item.endswith("+")
        model = self.find(item.strip("+"))
        found = {model.qualified}
        if with_up:
            found |= self.upstream(model.qualified)
        if with_down:
            found |= self.downstream(model.qualified)
        return found


def build(models: list[Model], catalog: Catalog[Table], con: duckdb.DuckDBPyConnection | None = None) -> Graph:
    """Resolve every model's inputs and sort the models so each runs after what it reads;
    a cycle is a ProjectError naming it."""
    import duckdb

    con = con or duckdb.connect()
    by_qualified = {m.qualified: m for m in models}
    nodes = {m.qualified: _node(con, m, models, catalog) for m in models}
    waiting = {q: set(n.upstream_models) for q, n in nodes.items()}
    ready = [(by_qualified[q].order, by_qualified[q].path, q) for q, parents in waiting.items() if not parents]
    heapq.heapify(ready)
    ordered: dict[str, Node] = {}
    while ready:
        _, _, current = heapq.heappop(ready)
        ordered[current] = nodes[current]
        for q, parents in waiting.items():
            if current in parents:
                parents.discard(current)
                if not parents and q not in ordered:
                    heapq.heappush(ready, (by_qualified[q].order, by_qualified[q].path, q))
    if len(ordered) < len(nodes):
        raise ProjectError(f"models read each other in a cycle: {_cycle(waiting, ordered)}; break it")
    return Graph(ordered)


def _cycle(waiting: dict[str, set[str]], done: dict[str, Node]) -> str:
    start = next(q for q in waiting if q not in done)
    path = [start]
    while True:
        parent = sorted(p for p in waiting[path[-1]] if p not in done)[0]
        if parent in path:
            loop = path[path.index(parent) :] + [parent]
            return " -> ".join(q.split(".", 1)[1] for q in loop)
        path.append(parent)


def _node(con: duckdb.DuckDBPyConnection, model: Model, models: list[Model], catalog: Catalog[Table]) -> Node:
    import duckdb

    sql = model.compiled(incremental=True)  # the most a run can read
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise ProjectError(f"{model.path}: the SQL does not parse: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1 or getattr(statements[0].type, "name", "") != "SELECT":
        raise ProjectError(f"{model.path}: a model is one SELECT statement; found {len(statements)} statement(s)")
    try:
        names, ctes = table_names(con, statements[0].query)
    except duckdb.Error as exc:
        raise ProjectError(f"{model.path}: the SQL does not parse: {str(exc).splitlines()[0]}") from None
    node = Node(model)
    for entry in sorted(names):
        parts = name_parts(entry)
        if parts is None:
            raise ProjectError(f"{model.path}: cannot tell which table '{entry}' is; name it layer.namespace.name")
        reference = ".".join(parts)
        if reference in ctes or entry in ctes:
            continue
        target = _resolve(reference, model, models, catalog)
        if target is None:
            continue
        kind, qualified = target
        bucket = node.upstream_models if kind == "model" else node.upstream_tables
        if qualified not in bucket:
            bucket.append(qualified)
    return node


def _resolve(reference: str, model: Model, models: list[Model], catalog: Catalog[Table]) -> tuple[str, str] | None:
    parts = reference.split(".")
    if parts[:2] == ["memory", "main"] and len(parts) == 3:
        parts = parts[2:]
    elif parts[0] == "main" and len(parts) == 2:
        parts = parts[1:]
    if ".".join(parts) == model.qualified:
        return None  # {{ this }}: the model's own table
    found = [m for m in models if m.qualified.split(".")[-len(parts) :] == parts]
    if len(found) == 1:
        return "model", found[0].qualified
    if len(found) > 1:
        raise ProjectError(
            f"{model.path}: '{reference}' could be the model {' or '.join(m.key for m in found)}; use gold.domain.name"
        )
    try:
        table = catalog.resolve(".".join(parts))
    except AmbiguousTable as exc:
        raise ProjectError(f"{model.path}: {exc}") from None
    except UnknownTable:
        raise ProjectError(
            f"{model.path}: reads '{reference}', which is neither a table of {catalog.bucket.display()} "
            "nor a model of the transforms folder; check the name (`dataspoc-lens catalog` lists the tables)"
        ) from None
    return "table", table.qualified

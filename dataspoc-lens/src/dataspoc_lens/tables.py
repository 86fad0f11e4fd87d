"""A manifest's tables as plain objects: what a query reads of them, without pydantic.

`catalog.for_query` builds these from a manifest whose exact bytes Lens validated before
(validated.py), so a query does not pay for importing pydantic and building the contract's
models (75–110 ms). `Mountable` is what views.py, references.py, session.py and cache.py read of
a table; the contract's `Table` model offers the same, so they take either.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class ColumnLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...


class FileLike(Protocol):
    @property
    def path(self) -> str: ...


class Mountable(Protocol):
    """What a query needs of a table: its names, where its files are, and its columns."""

    @property
    def layer(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def partition_by(self) -> Sequence[str]: ...
    @property
    def columns(self) -> Sequence[ColumnLike]: ...
    @property
    def files(self) -> Sequence[FileLike]: ...
    @property
    def qualified(self) -> str: ...


@dataclass(slots=True)
class Column:
    name: str
    type: str


@dataclass(slots=True)
class DataFile:
    path: str


@dataclass(slots=True)
class Table:
    layer: str
    namespace: str
    name: str
    location: str
    partition_by: list[str]
    columns: list[Column]
    files: list[DataFile]  # every partition's files, in the manifest's order, as the model's `files`

    @property
    def qualified(self) -> str:
        return f"{self.layer}.{self.namespace}.{self.name}"


def read(raw: bytes) -> list[Table] | None:
    """The tables of a manifest known to be valid; None when the document does not have the
    shape validation saw (the caller then validates it in full)."""
    try:
        return [_table(entry) for entry in json.loads(raw)["tables"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _table(entry: dict[str, Any]) -> Table:
    return Table(
        layer=entry["layer"],
        namespace=entry["namespace"],
        name=entry["name"],
        location=entry["location"],
        partition_by=list(entry["partition_by"]),
        columns=[Column(c["name"], c["type"]) for c in entry["columns"]],
        files=[DataFile(f["path"]) for p in entry["partitions"] for f in p["files"]],
    )

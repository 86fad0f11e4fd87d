"""Source kinds: each module brings a config model and turns it into streams (base.py).

A kind's module is imported only when a pipeline of that kind is loaded: a run pays for the
drivers and libraries of its own kind alone.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from dataspoc_pipe.sources.base import Kind

# kind -> "module:attribute" of its Kind
WHERE = {
    "csv": "csv_files:KIND",
    "jsonl": "jsonl_files:KIND",
    "parquet": "parquet_files:KIND",
    "postgres": "sql_tables:POSTGRES",
    "sqlite": "sql_tables:SQLITE",
    "http": "http_api:KIND",
    "singer": "singer_tap:KIND",
}


class _Kinds(Mapping[str, Kind]):
    def __getitem__(self, name: str) -> Kind:
        module, attribute = WHERE[name].split(":")
        return getattr(importlib.import_module(f"dataspoc_pipe.sources.{module}"), attribute)

    def __iter__(self) -> Iterator[str]:
        return iter(WHERE)

    def __len__(self) -> int:
        return len(WHERE)


KINDS: Mapping[str, Kind] = _Kinds()


def kind(name: str) -> Kind:
    from dataspoc_pipe.errors import UsageError

    if name not in KINDS:
        raise UsageError(f"unknown source kind '{name}'; this version reads: {', '.join(sorted(KINDS))}")
    return KINDS[name]

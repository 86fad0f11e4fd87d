"""Source kinds: each module brings a config model and turns it into streams (base.py)."""

from __future__ import annotations

from dataspoc_pipe.sources import csv_files, http_api, jsonl_files, parquet_files, singer_tap, sql_tables
from dataspoc_pipe.sources.base import Kind

KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        csv_files.KIND,
        jsonl_files.KIND,
        parquet_files.KIND,
        sql_tables.POSTGRES,
        sql_tables.SQLITE,
        http_api.KIND,
        singer_tap.KIND,
    )
}


def kind(name: str) -> Kind:
    from dataspoc_pipe.errors import UsageError

    if name not in KINDS:
        raise UsageError(f"unknown source kind '{name}'; this version reads: {', '.join(sorted(KINDS))}")
    return KINDS[name]

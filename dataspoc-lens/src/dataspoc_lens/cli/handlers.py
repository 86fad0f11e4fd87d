"""What `query` and `catalog` do once their arguments are known.

The Typer commands (query_commands.py, catalog_commands.py) and the direct path (direct.py)
both call these functions, so a command line behaves the same whichever parser read it. No
Typer here, and everything heavy is imported inside the functions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dataspoc_lens.console import out, say

NO_TABLES = "no tables yet: run dataspoc-pipe first"
LAYERS = ("raw", "curated", "gold", "ml")
BUCKET_ENV = "DATASPOC_BUCKET"
DEFAULT_BUCKET = "./bucket"


def query(
    sql: str | None = None,
    file: str | None = None,
    bucket: list[str] | None = None,
    fmt: str | None = None,
    output: str | None = None,
    limit: int | None = None,
    timer: bool = False,
    write: bool = False,
    write_dir: str | None = None,
    offline: bool = False,
) -> None:
    """`dataspoc-lens query` (its --help is in query_commands.py)."""
    import time

    from dataspoc_lens import catalog as catalogs
    from dataspoc_lens import output as outputs
    from dataspoc_lens.bucket import Bucket
    from dataspoc_lens.errors import UsageError
    from dataspoc_lens.session import Session
    from dataspoc_lens.settings import resolve

    text = outputs.sql_text(sql, file)
    chosen = outputs.choose_format(fmt, output)
    rows = limit if limit is not None else (100 if chosen == "table" else 0)
    chosen_buckets = list(bucket or []) or [os.environ.get(BUCKET_ENV) or DEFAULT_BUCKET]
    folder = Path(write_dir).expanduser() if write_dir else (Path.cwd() if write else None)
    if len(chosen_buckets) > 1:
        if offline:
            raise UsageError("--offline reads one bucket's cache; name one bucket")
        from dataspoc_lens.session import Several

        started = time.monotonic()
        named = {_name_of(b): catalogs.for_query(Bucket(resolve(b))) for b in chosen_buckets}
        if len(named) < len(chosen_buckets):
            raise UsageError("two of the buckets have the same name; save them under different names")
        with Several(named, write_dir=folder) as several:
            result = outputs.run(several, text, chosen, rows or None, output)
        _tell(result, rows, timer, started)
        return
    bucket_value = chosen_buckets[0]
    if offline:
        from dataspoc_lens import cache

        found, missing = cache.offline_catalog(Bucket(resolve(bucket_value)))
        if missing:
            say(f"offline: not cached, so not queryable: {', '.join(missing)}")
        if not found.tables:
            say("offline: no cached tables for this bucket; run `dataspoc-lens cache --all` while online")
    else:
        found = catalogs.for_query(Bucket(resolve(bucket_value)))
        if not found.found:
            say(NO_TABLES)
    started = time.monotonic()
    with Session(found, write_dir=folder) as session:
        result = outputs.run(session, text, chosen, rows or None, output)
    _tell(result, rows, timer, started)


def _name_of(value: str) -> str:
    """A bucket's database name: its saved name, else the last part of its URL as a name."""
    import re

    from dataspoc_lens import settings

    if value in settings.load():
        return value
    last = value.rstrip("/").rsplit("/", 1)[-1].lower()
    name = re.sub(r"[^a-z0-9_]", "_", last)
    return name if name[:1].isalpha() else f"b_{name}"


def _tell(result: Any, rows: int, timer: bool, started: float) -> None:
    """What stderr says after a query."""
    import time

    if result.statements > 1:
        say(f"ran {result.statements} statements; the result shown is the last one's")
    if result.cut:
        say(f"showing the first {rows} rows; use --limit N (0 for all) to see more")
    if timer:
        say(f"run time: {time.monotonic() - started:.3f} s")


def catalog(bucket: str = DEFAULT_BUCKET, layer: str | None = None, as_json: bool = False) -> None:
    """`dataspoc-lens catalog` (its --help is in catalog_commands.py)."""
    import json

    from dataspoc_lens import catalog as catalogs
    from dataspoc_lens import render
    from dataspoc_lens.bucket import Bucket
    from dataspoc_lens.errors import UsageError
    from dataspoc_lens.settings import resolve

    if layer is not None and layer not in LAYERS:
        raise UsageError(f"--layer {layer}: use one of {', '.join(LAYERS)}")
    every, any_tables = catalogs.summaries(Bucket(resolve(bucket)))
    rows = [r for r in every if layer is None or r["layer"] == layer]
    if not rows:
        say(NO_TABLES if not any_tables else f"no tables in the {layer} layer")
    if as_json:
        out(json.dumps(rows, indent=2))
        return
    if rows:
        names = ["name", "alias", "rows", "files", "partitions", "columns", "score", "last_run_at", "writer"]
        render.records(names, [["" if r[n] is None else r[n] for n in names] for r in rows], "table")

"""`ddl` and `export-catalog`: the way out to other engines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dataspoc_lens.cli.app import (
    LAYERS,
    NO_TABLES,
    BucketOption,
    DebugOption,
    command,
    resolve,
)
from dataspoc_lens.console import out, say


@command(
    "dataspoc-lens ddl --dialect spark --bucket s3://lake > lake.sql",
    "dataspoc-lens ddl --dialect trino --layer gold",
)
def ddl(
    dialect: Annotated[str, typer.Option("--dialect", help="duckdb, spark, trino or athena.")] = "duckdb",
    layer: Annotated[str | None, typer.Option("--layer", help="Only this layer's tables.")] = None,
    bucket: BucketOption = "./bucket",
    debug: DebugOption = False,
) -> None:
    """Print CREATE statements over the bucket's tables for another engine (Spark, Trino,
    Athena, or DuckDB itself), so a team that outgrows one machine queries the same bucket.

    Spark, Trino and Athena read every Parquet file in a table's folder: run
    `dataspoc-pipe vacuum` so replaced files and leftovers of killed runs are gone. No
    credentials are written: each engine reaches the bucket with its own configuration.
    """
    from dataspoc_lens import catalog as catalogs
    from dataspoc_lens import ddl as ddls
    from dataspoc_lens.bucket import Bucket

    if layer is not None and layer not in LAYERS:
        from dataspoc_lens.errors import UsageError

        raise UsageError(f"--layer {layer}: use one of {', '.join(LAYERS)}")
    found = catalogs.load(Bucket(resolve(bucket)))
    if not found.tables:
        say(NO_TABLES)
    out("\n\n".join(ddls.statements(found, dialect, layer)))


@command("dataspoc-lens export-catalog lake.duckdb", "dataspoc-lens export-catalog lake.duckdb --bucket s3://lake")
def export_catalog(
    target: Annotated[str, typer.Argument(help="The DuckDB database file to write (replaced whole).")],
    bucket: BucketOption = "./bucket",
    debug: DebugOption = False,
) -> None:
    """Write a DuckDB database file with a view per table, so DBeaver, Metabase, Tableau or any
    DuckDB client opens the lake without DataSpoc.

    Views read the files the manifest lists now: export again after new runs. For a remote
    bucket the client needs DuckDB's httpfs extension and its own credentials (the file holds
    none).
    """
    from dataspoc_lens import catalog as catalogs
    from dataspoc_lens import exporting
    from dataspoc_lens.bucket import Bucket

    found = catalogs.load(Bucket(resolve(bucket)))
    count = exporting.export(found, Path(target).expanduser())
    say(f"wrote {target}: {count} view{'' if count == 1 else 's'}; open it with any DuckDB client")

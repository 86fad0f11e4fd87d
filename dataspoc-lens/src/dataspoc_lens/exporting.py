"""`export-catalog`: a DuckDB database file with a view per table, for any DuckDB client.

The file is written beside the target and moved into place, so a client never opens half of
it. Views name the files the manifest lists now, by absolute path (local buckets) or URL
(remote ones, which the client reads with its own httpfs and credentials); nothing secret is
stored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from dataspoc_lens import ddl
from dataspoc_lens.catalog import Catalog
from dataspoc_lens.errors import UsageError

if TYPE_CHECKING:
    from dataspoc_lens.contract.models import Table


def export(catalog: Catalog[Table], target: Path) -> int:
    import duckdb

    if target.is_dir():
        raise UsageError(f"{target} is a folder; name a .duckdb file")
    if not target.parent.is_dir():
        raise UsageError(f"folder {target.parent} does not exist")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(tmp), config={"autoinstall_known_extensions": False})
        try:
            con.execute("SET enable_progress_bar=false")
            if catalog.tables and not catalog.bucket.is_local:
                con.register_filesystem(catalog.bucket.fs)  # to bind the views now; clients use their own
            views = 0
            for table in sorted(catalog.tables, key=lambda t: t.qualified):
                # one file, one database: schemas named <layer>_<namespace>, as the other dialects
                schema = f"{table.layer}_{table.namespace}"
                con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                body = ddl.view_body(catalog, table)
                con.execute(f'CREATE OR REPLACE VIEW "{schema}"."{table.name}" AS {body}')
                views += 1
        finally:
            con.close()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return views

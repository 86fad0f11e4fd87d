"""`dataspoc-lens ml ...`: run the dataspoc-ml command on the same bucket.

Lens never imports dataspoc-ml: the two meet only in the bucket, and here on the command line.
The executable is `$DATASPOC_ML_BIN`, else `dataspoc-ml` on PATH. Its stdout and stderr are
passed through untouched and its exit code becomes ours.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import TYPE_CHECKING

from dataspoc_lens.errors import MlCommandError

if TYPE_CHECKING:
    from dataspoc_lens.contract.models import Table

ENV_BIN = "DATASPOC_ML_BIN"


def executable() -> str:
    configured = os.environ.get(ENV_BIN, "").strip()
    if configured:
        found = shutil.which(configured)
        if not found:
            raise MlCommandError(f"{ENV_BIN}={configured} is not an executable file; fix the variable or unset it")
        return found
    found = shutil.which("dataspoc-ml")
    if not found:
        raise MlCommandError(f"dataspoc-ml is not installed: pip install dataspoc-ml, or set {ENV_BIN} to its path")
    return found


def run(args: list[str], bucket_url: str) -> int:
    """Run `dataspoc-ml <args> --bucket <bucket_url>` and return its exit code."""
    command = [executable(), *args, "--bucket", bucket_url]
    try:
        completed = subprocess.run(command, check=False)
    except OSError as exc:
        raise MlCommandError(f"cannot start {command[0]}: {exc.strerror or exc}") from None
    return completed.returncode


def output_table(model: str, args: list[str]) -> str:
    """The predictions table a `predict` publishes: ml.predictions.<--output-table or model>."""
    name = model
    for i, arg in enumerate(args):
        if arg == "--output-table" and i + 1 < len(args):
            name = args[i + 1]
        elif arg.startswith("--output-table="):
            name = arg.split("=", 1)[1]
    return f"ml.predictions.{name}"


def after_predict(bucket_url: str, table_name: str) -> Table | None:
    """Re-read the catalog once dataspoc-ml published `table_name`, and refresh a cached copy of
    it (only the new files are fetched) so queries, `--offline` ones too, see the new predictions
    at once. None when the manifest does not list the table."""
    from dataspoc_lens import cache
    from dataspoc_lens.bucket import Bucket
    from dataspoc_lens.catalog import load
    from dataspoc_lens.errors import LensError

    catalog = load(Bucket(bucket_url))
    try:
        table = catalog.resolve(table_name)
    except LensError:
        return None
    cache.refresh(catalog, [table.qualified])
    return table

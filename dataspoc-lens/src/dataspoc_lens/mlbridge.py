"""`dataspoc-lens ml ...`: run the dataspoc-ml command on the same bucket.

Lens never imports dataspoc-ml: the two meet only in the bucket, and here on the command line.
The executable is `$DATASPOC_ML_BIN`, else `dataspoc-ml` on PATH. Its stdout and stderr are
passed through untouched and its exit code becomes ours.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from dataspoc_lens.errors import MlCommandError

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

"""--help stays fast: the heavy libraries load only inside the commands that use them."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ["pyarrow", "pandas", "duckdb", "sklearn", "s3fs", "gcsfs", "adlfs", "yaml"]

PROBE = """
import sys
from typer.main import get_command
from dataspoc_pipe.cli import app
for args in (["--help"], ["run", "--help"], ["add", "--help"], ["status", "--help"]):
    try:
        get_command(app).main(args=args, prog_name="dataspoc-pipe", standalone_mode=False)
    except SystemExit:
        pass
print("LOADED:" + ",".join(sorted(m for m in {heavy} if m in sys.modules)))
"""


def test_help_imports_no_heavy_library():
    proc = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY)], capture_output=True, text=True, check=True)
    [marker] = [line for line in proc.stdout.splitlines() if line.startswith("LOADED:")]
    assert marker == "LOADED:", f"--help imported {marker[len('LOADED:') :]}"


def test_every_kind_is_registered_and_named_alike():
    from dataspoc_pipe.sources import KINDS

    assert sorted(KINDS) == ["csv", "http", "jsonl", "parquet", "postgres", "singer", "sqlite"]
    for name in KINDS:
        assert KINDS[name].name == name and KINDS[name].config.model_fields["kind"].default == name

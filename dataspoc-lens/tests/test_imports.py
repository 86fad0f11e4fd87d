"""`--help` must stay fast: the CLI module imports no heavy library."""

import subprocess
import sys

CHECK = """
import sys
from dataspoc_lens import cli
try:
    cli.app(args=[{args}], prog_name="dataspoc-lens", standalone_mode=False)
except SystemExit:
    pass
heavy = sorted(m for m in ("pyarrow", "duckdb", "pandas", "sklearn", "s3fs") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


def run_help(args: str) -> str:
    done = subprocess.run([sys.executable, "-c", CHECK.format(args=args)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Usage: dataspoc-lens" in done.stdout
    return done.stdout.strip().splitlines()[-1].removeprefix("HEAVY=")


def test_help_imports_nothing_heavy():
    assert run_help("'--help'") == ""


def test_subcommand_help_imports_nothing_heavy():
    assert run_help("'query', '--help'") == ""
    assert run_help("'ml', 'predict', '--help'") == ""

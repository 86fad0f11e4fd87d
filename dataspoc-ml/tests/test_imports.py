"""--help stays fast: the CLI module imports no heavy library."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sklearn", "pyarrow", "pandas", "numpy", "joblib")

PROBE = """
import contextlib, io, sys
from dataspoc_ml import cli
for args in (["--help"], ["train", "--help"], ["predict", "--help"], ["models", "--help"]):
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            cli.main(args)
    except SystemExit as exc:
        assert exc.code == 0, (args, exc.code)
    text = buffer.getvalue()
    assert "Exit codes" in text and "130" in text, (args, text)
    if len(args) == 2:
        assert "Example" in text and "dataspoc-ml " + args[0] in text, (args, text)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
print("HEAVY:" + ",".join(heavy), file=sys.stderr)
"""


def test_help_imports_no_heavy_library():
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=set(HEAVY))], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "HEAVY:\n" in done.stderr, done.stderr.splitlines()[-1]

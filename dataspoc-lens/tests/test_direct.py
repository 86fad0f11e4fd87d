"""The direct path (cli/direct.py) against Typer: the same command line, the same ending.

Each line runs twice, as a whole process: through the installed `dataspoc-lens`, whose `main`
gives it to the direct path when the direct path takes it, and through the Typer app, as
`main` does with every other line. stdout, stderr, the exit code and any file written must be
the same.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from conftest import Result
from dataspoc_lens import cli, render
from dataspoc_lens.cli import direct, handlers
from dataspoc_lens.errors import ExitCode
from lake import Lake, shop

TYPER = "import sys; from dataspoc_lens import cli, diagnostics; diagnostics.run(cli.app, sys.argv[1:])"
ORDERS = "SELECT order_id, amount FROM raw.shop.orders ORDER BY 1"


def through_typer(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    done = subprocess.run(
        [sys.executable, "-c", TYPER, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )
    return Result(done.returncode, done.stdout, done.stderr)


# {case: (args, stdin, env)}; {bucket} and {other} are shop lakes; the default ./bucket is
# {bucket}, since tests run in tmp_path.
LINES = {
    "csv": (["query", ORDERS, "--bucket", "{bucket}", "--format", "csv"], None, None),
    "table view": (["query", "SELECT count(*) AS n FROM raw.shop.orders", "--bucket", "{bucket}"], None, None),
    "json, cut": (["query", ORDERS, "--bucket", "{bucket}", "--format", "json", "--limit", "2"], None, None),
    "max rows": (["query", ORDERS, "--max-rows", "1", "--format", "csv", "--bucket", "{bucket}"], None, None),
    "statements": (["query", "SELECT 1 AS a; SELECT 2 AS b", "--bucket", "{bucket}", "--format", "jsonl"], None, None),
    "stdin dash": (["query", "-", "--bucket", "{bucket}", "--format", "tsv"], ORDERS, None),
    "stdin": (["query", "--bucket", "{bucket}", "--format", "markdown"], ORDERS, None),
    "file": (["query", "-f", "report.sql", "--bucket", "{bucket}", "--format", "csv"], None, None),
    "sql and file": (["query", ORDERS, "--file", "report.sql", "--bucket", "{bucket}"], None, None),
    "no sql": (["query", "--bucket", "{bucket}"], "", None),
    "empty sql": (["query", "", "--bucket", "{bucket}"], None, None),
    "output file": (["query", ORDERS, "--bucket", "{bucket}", "-o", "out.csv"], None, None),
    "output parquet": (["query", ORDERS, "--bucket", "{bucket}", "--output", "out.parquet"], None, None),
    "output suffix": (["query", ORDERS, "--bucket", "{bucket}", "--output", "out.xyz"], None, None),
    "output folder missing": (["query", ORDERS, "--bucket", "{bucket}", "-o", "no/such/out.csv"], None, None),
    "unknown table": (["query", "SELECT * FROM nowhere", "--bucket", "{bucket}"], None, None),
    "syntax": (["query", "SELEC 1", "--bucket", "{bucket}"], None, None),
    "runtime": (["query", "SELECT 'x'::INTEGER", "--bucket", "{bucket}", "--format", "csv"], None, None),
    "read-only": (["query", "COPY (SELECT 1) TO 'x.csv'", "--bucket", "{bucket}"], None, None),
    "write": (["query", "COPY (SELECT 1) TO 'x.csv'", "--write", "--bucket", "{bucket}"], None, None),
    "write dir": (
        ["query", "COPY (SELECT 1 AS a) TO '{exports}/x.csv'", "--write-dir", "{exports}", "--bucket", "{bucket}"],
        None,
        None,
    ),
    "write dir in bucket": (["query", "SELECT 1", "--write-dir", "{bucket}", "--bucket", "{bucket}"], None, None),
    "missing bucket": (["query", "SELECT 1", "--bucket", "{missing}"], None, None),
    "unknown scheme": (["query", "SELECT 1", "--bucket", "ftp://user:pw@host/x"], None, None),
    "several buckets": (
        ["query", "SELECT count(*) AS n FROM other.raw.customers", "--bucket", "{bucket}", "--bucket", "{other}"],
        None,
        None,
    ),
    "several offline": (["query", "SELECT 1", "--bucket", "{bucket}", "--bucket", "{other}", "--offline"], None, None),
    "offline": (["query", "SELECT 1 AS one", "--offline", "--bucket", "{bucket}", "--format", "csv"], None, None),
    "default bucket": (["query", ORDERS, "--format", "csv"], None, None),
    "bucket from env": (["query", ORDERS, "--format", "csv"], None, {"DATASPOC_BUCKET": "{other}"}),
    "catalog json": (["catalog", "--bucket", "{bucket}", "--json"], None, None),
    "catalog table": (["catalog", "--bucket", "{bucket}"], None, None),
    "catalog layer": (["catalog", "--layer", "gold", "--bucket", "{bucket}", "--json"], None, None),
    "catalog empty layer": (["catalog", "--layer", "ml", "--bucket", "{bucket}"], None, None),
    "catalog bad layer": (["catalog", "--layer", "bronze", "--bucket", "{bucket}"], None, None),
    "catalog default bucket": (["catalog", "--json"], None, None),
    "catalog env bucket": (["catalog", "--json"], None, {"DATASPOC_BUCKET": "{other}"}),
    "catalog empty env": (["catalog"], None, {"DATASPOC_BUCKET": ""}),
    "catalog no manifest": (["catalog", "--bucket", "{empty}"], None, None),
    "catalog broken manifest": (["catalog", "--bucket", "{broken}"], None, None),
    "catalog missing bucket": (["catalog", "--bucket", "{missing}", "--json"], None, None),
    "debug": (["query", "SELEC 1", "--debug", "--bucket", "{bucket}"], None, None),
    "debug first": (["--debug", "catalog", "--bucket", "{broken}"], None, None),
    "debug from env": (["query", "SELEC 1", "--bucket", "{bucket}"], None, {"DATASPOC_DEBUG": "1"}),
    "timer": (["query", "SELECT 1 AS one", "--timer", "--bucket", "{bucket}", "--format", "csv"], None, None),
}


def places(tmp_path: Path) -> dict[str, str]:
    """What the lines' {names} stand for: two shop lakes, an empty folder, a broken manifest."""
    (tmp_path / "report.sql").write_text(ORDERS)
    (tmp_path / "empty").mkdir()
    (tmp_path / "exports").mkdir()
    broken = tmp_path / "broken" / ".dataspoc"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text('{"contract_version": "1.0", "tables": [{"layer": "raw"}]}')
    return {
        "bucket": shop(Lake.local(tmp_path / "bucket")).url,
        "other": shop(Lake.local(tmp_path / "other")).url,
        "empty": str(tmp_path / "empty"),
        "exports": str(tmp_path / "exports"),
        "broken": str(tmp_path / "broken"),
        "missing": str(tmp_path / "missing"),
    }


# Lines the direct path leaves to Typer: it must not take them, and the ending is Typer's.
TYPER_LINES = {
    "help": ["query", "--help"],
    "catalog help": ["catalog", "--help"],
    "bad format": ["query", "SELECT 1", "--format", "xml"],
    "format=": ["query", "--format=csv", "SELECT 1"],
    "negative limit": ["query", "SELECT 1", "--limit", "-1"],
    "limit not a number": ["query", "SELECT 1", "--limit", "ten"],
    "extra argument": ["query", "SELECT 1", "SELECT 2"],
    "repeated option": ["query", "SELECT 1", "--format", "csv", "--format", "json"],
    "repeated flag": ["catalog", "--json", "--json"],
    "unknown option": ["catalog", "--tables"],
    "missing value": ["catalog", "--layer"],
    "value like an option": ["query", "SELECT 1", "--output", "-x"],
    "double dash": ["query", "--", "SELECT 1"],
    "catalog argument": ["catalog", "raw"],
    "other command": ["schema", "raw.shop.orders"],
    "nothing": [],
}


def comparable(result: Result) -> tuple[int, str, str]:
    """The ending, with what may differ between two runs: timings, and a traceback's frames
    (the two paths call the handler from different places; the traceback is there or not)."""
    stderr = re.sub(r"run time: [0-9.]+ s", "run time: N s", result.stderr)
    if "Traceback" in stderr:
        stderr = "Traceback ...\n" + stderr.rstrip().splitlines()[-1]
    return result.code, result.stdout, stderr


def written(folder: Path) -> dict[str, bytes]:
    """The files a line wrote (out.*, exports/*, x.csv), removed for the next run."""
    paths = [*folder.glob("out.*"), *folder.glob("exports/*"), *folder.glob("x.csv")]
    found = {str(p.relative_to(folder)): p.read_bytes() for p in paths}
    for path in paths:
        path.unlink()
    return found


@pytest.mark.parametrize("case", sorted(LINES))
def test_every_line_ends_the_same_through_both_paths(lens, tmp_path, case):
    where = places(tmp_path)
    args, stdin, env = LINES[case]
    args = [a.format(**where) for a in args]
    env = {k: v.format(**where) for k, v in (env or {}).items()}
    assert direct.parse([a for a in args if a != "--debug"]) is not None, "not taken by the direct path"
    fast = lens(*args, stdin=stdin, env=env)
    fast_files = written(tmp_path)
    slow = through_typer(*args, stdin=stdin, env=env)
    assert comparable(fast) == comparable(slow)
    assert fast_files == written(tmp_path)


@pytest.mark.parametrize("case", sorted(TYPER_LINES))
def test_lines_the_direct_path_leaves_to_typer(lens, case):
    args = TYPER_LINES[case]
    assert direct.parse(args) is None
    assert comparable(lens(*args)) == comparable(through_typer(*args))


def test_the_direct_path_takes_the_commands_options_as_typer_declares_them():
    """Every option the direct path reads is the Typer command's, of the same kind, for the
    same parameter; an option it does not read is left to Typer."""
    group = typer.main.get_command(cli.typer_app())  # Typer's own click (vendored): read, not imported
    for name, shape in direct.SHAPES.items():
        params = [p for p in group.commands[name].params if p.name != "debug"]  # --debug: taken before parsing
        options = [p for p in params if p.param_type_name == "option"]
        assert {o: p.name for p in options for o in p.opts} == {**shape.values, **shape.flags}, name
        assert not [o for p in options for o in p.secondary_opts], name
        assert {o for p in options if p.is_flag for o in p.opts} == set(shape.flags), name
        assert {p.name for p in options if p.multiple} == set(shape.repeatable), name
        arguments = [p.name for p in params if p.param_type_name == "argument"]
        assert arguments == ([shape.argument] if shape.argument else []), name
        for p in options:
            if p.name in shape.defaults:
                assert (p.envvar, p.default) == (handlers.BUCKET_ENV, handlers.DEFAULT_BUCKET)
    from dataspoc_lens.cli.app import Format

    assert tuple(f.value for f in Format) == render.FORMATS


def test_a_query_or_catalog_line_loads_neither_typer_nor_rich_nor_fsspec(tmp_path):
    bucket = shop(Lake.local(tmp_path / "bucket")).url
    script = (
        "import sys\n"
        "from dataspoc_lens import cli\n"
        "try:\n"
        "    cli.main(sys.argv[1:])\n"
        "except SystemExit as stop:\n"
        "    assert stop.code == 0, stop.code\n"
        "heavy = ('typer', 'click', 'rich', 'fsspec', 'pyarrow.compute', 'yaml')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    for args in (
        ["query", "SELECT * FROM raw.shop.orders", "--bucket", bucket, "--format", "csv"],
        ["catalog", "--bucket", bucket, "--json"],
    ):
        done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == ExitCode.OK, done.stderr
        assert done.stderr.strip().splitlines()[-1] == "[]", (args, done.stderr)

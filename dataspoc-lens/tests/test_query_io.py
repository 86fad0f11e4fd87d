"""`query` input and output through the installed CLI: SQL from an argument, a file or stdin;
every format to stdout or a file; several statements; the table view at a terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess

import pytest

from conftest import LENS
from dataspoc_lens.errors import ExitCode
from lake import shop

ORDERS = "SELECT order_id, amount FROM raw.shop.orders WHERE order_id <= 2 ORDER BY 1"


@pytest.fixture
def bucket(local_lake):
    return shop(local_lake).url


@pytest.fixture(params=["local", "s3"])
def any_bucket(request, tmp_path):
    from lake import Lake

    if request.param == "local":
        return shop(Lake.local(tmp_path / "bucket")).url
    return shop(Lake.s3(request.getfixturevalue("s3_bucket"))).url


@pytest.mark.parametrize(
    "fmt, expected",
    [
        ("csv", "order_id,amount\n1,10.5\n2,21.0\n"),
        ("tsv", "order_id\tamount\n1\t10.5\n2\t21.0\n"),
        ("jsonl", '{"order_id": 1, "amount": 10.5}\n{"order_id": 2, "amount": 21.0}\n'),
        ("markdown", "| order_id | amount |\n| --- | --- |\n| 1 | 10.5 |\n| 2 | 21.0 |\n"),
    ],
)
def test_text_formats(lens, any_bucket, fmt, expected):
    result = lens("query", ORDERS, "--bucket", any_bucket, "--format", fmt)
    assert result.code == ExitCode.OK, result.stderr
    assert result.stdout == expected


def test_tsv_quotes_tabs_and_markdown_escapes_pipes(lens, bucket):
    sql = "SELECT 'a\tb' AS x, 'c|d' AS y"
    assert lens("query", sql, "--bucket", bucket, "--format", "tsv").stdout == 'x\ty\n"a\tb"\tc|d\n'
    assert "| a\tb | c\\|d |" in lens("query", sql, "--bucket", bucket, "--format", "markdown").stdout


def test_output_file_takes_its_format_from_the_suffix(lens, any_bucket, tmp_path):
    bucket = any_bucket
    import pyarrow.parquet as pq

    result = lens("query", ORDERS, "--bucket", bucket, "--output", "out.parquet")
    assert result.code == ExitCode.OK, result.stderr
    assert result.stdout == ""
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.to_pylist() == [{"order_id": 1, "amount": 10.5}, {"order_id": 2, "amount": 21.0}]
    assert lens("query", ORDERS, "--bucket", bucket, "-o", "out.jsonl").code == ExitCode.OK
    assert (tmp_path / "out.jsonl").read_text().count("\n") == 2
    bad = lens("query", ORDERS, "--bucket", bucket, "--output", "out.xlsx")
    assert bad.code == ExitCode.USAGE and "give --format" in bad.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out")) == ["out.jsonl", "out.parquet"]


def test_a_failing_query_leaves_the_output_file_as_it_was(lens, bucket, tmp_path):
    (tmp_path / "out.csv").write_text("before\n")
    sql = "SELECT CASE WHEN range < 15000 THEN range::VARCHAR ELSE 'abc' END::INTEGER AS x FROM range(20000)"
    result = lens("query", sql, "--bucket", bucket, "--output", "out.csv")
    assert result.code == ExitCode.DATA and "abc" in result.stderr
    assert (tmp_path / "out.csv").read_text() == "before\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []  # no temporary left


def test_sql_from_a_file_or_stdin(lens, bucket, tmp_path):
    (tmp_path / "q.sql").write_text(ORDERS + ";\n")
    from_file = lens("query", "-f", "q.sql", "--bucket", bucket, "--format", "csv")
    assert from_file.code == ExitCode.OK and from_file.stdout == "order_id,amount\n1,10.5\n2,21.0\n"
    from_stdin = lens("query", "--bucket", bucket, "--format", "csv", stdin=ORDERS)
    assert from_stdin.stdout == from_file.stdout
    both = lens("query", "SELECT 1", "-f", "q.sql", "--bucket", bucket)
    assert both.code == ExitCode.USAGE and "not both" in both.stderr
    missing = lens("query", "-f", "nope.sql", "--bucket", bucket)
    assert missing.code == ExitCode.USAGE and "no SQL file nope.sql" in missing.stderr


def test_several_statements_run_in_order_and_the_last_is_printed(lens, bucket):
    sql = "CREATE TEMP TABLE t AS SELECT 41 AS a; INSERT INTO t VALUES (1); SELECT sum(a)::BIGINT AS total FROM t"
    result = lens("query", sql, "--bucket", bucket, "--format", "json")
    assert result.code == ExitCode.OK, result.stderr
    assert json.loads(result.stdout) == [{"total": 42}]
    assert "ran 3 statements; the result shown is the last one's" in result.stderr


def test_timer_and_limit(lens, bucket):
    result = lens("query", "SELECT * FROM range(10)", "--bucket", bucket, "--format", "csv", "--limit", "3", "--timer")
    assert result.stdout == "range\n0\n1\n2\n"
    assert "showing the first 3 rows" in result.stderr and "run time: " in result.stderr


def test_table_view_shows_types_row_count_and_special_floats(lens, bucket):
    sql = "SELECT 1 AS n, 'x' AS s, 'nan'::DOUBLE AS a, 'inf'::DOUBLE AS b, '-inf'::DOUBLE AS c, NULL::INT AS d"
    result = lens("query", sql, "--bucket", bucket)
    assert result.code == ExitCode.OK, result.stderr
    out = result.stdout
    for word in ("integer", "varchar", "double", "NaN", "Infinity", "-Infinity", "NULL", "1 row"):
        assert word in out, (word, out)
    cut = lens("query", "SELECT * FROM range(150)", "--bucket", bucket)
    assert "first 100 rows shown" in cut.stdout and "showing the first 100 rows" in cut.stderr


def at_a_terminal(*args: str, columns: int = 80) -> tuple[int, str]:
    """Run the CLI with stdout on a pseudo-terminal of `columns` columns."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "40", "TERM": "xterm"}
    proc = subprocess.Popen([str(LENS), *args], stdout=follower, stderr=subprocess.PIPE, env=env)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout=30)
    os.close(leader)
    return code, b"".join(chunks).decode()


def test_the_table_view_fits_80_columns_cutting_cells(bucket):
    import re

    sql = "SELECT repeat('a', 200) AS long_text, repeat('b', 50) AS other, 42 AS n"
    code, out = at_a_terminal("query", sql, "--bucket", bucket)
    assert code == ExitCode.OK
    plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out)
    lines = [line for line in plain.replace("\r", "").splitlines() if line.strip()]
    assert lines and max(len(line) for line in lines) <= 80
    assert "…" in plain and "42" in plain and "1 row" in plain
    binary = at_a_terminal("query", "SELECT 1", "--bucket", bucket, "--format", "parquet")
    assert binary[0] == ExitCode.USAGE


def test_a_bucket_that_does_not_exist_is_an_error(lens, tmp_path):
    result = lens("query", "SELECT 1", "--bucket", str(tmp_path / "nope"))
    assert result.code == ExitCode.USAGE and "does not exist" in result.stderr

"""`ddl` and `export-catalog` through the installed CLI: the DuckDB dialect run by DuckDB, the
Spark dialect run by a real local PySpark session, Trino and Athena parsed by sqlglot, and the
exported database opened by plain DuckDB in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dataspoc_lens.errors import ExitCode
from lake import Lake, shop


@pytest.fixture
def bucket(local_lake):
    return shop(local_lake).url


def counts(lens, url: str) -> dict[str, int]:
    found = json.loads(lens("catalog", "--bucket", url, "--json").stdout)
    result = {}
    for row in found:
        q = lens("query", f"SELECT count(*) AS n FROM {row['name']}", "--bucket", url, "--format", "json")
        result[row["name"]] = json.loads(q.stdout)[0]["n"]
    return result


def test_duckdb_dialect_runs_in_duckdb(lens, bucket):
    import duckdb

    result = lens("ddl", "--dialect", "duckdb", "--bucket", bucket)
    assert result.code == ExitCode.OK, result.stderr
    con = duckdb.connect()
    con.execute(result.stdout)
    expected = counts(lens, bucket)
    for name, n in expected.items():
        assert con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0] == n, name


def test_spark_dialect_runs_in_a_real_spark_session(lens, bucket, tmp_path):
    result = lens("ddl", "--dialect", "spark", "--bucket", bucket)
    assert result.code == ExitCode.OK, result.stderr
    assert "s3" not in result.stdout and "secret" not in result.stdout.lower()
    (tmp_path / "lake.sql").write_text(result.stdout)
    expected = counts(lens, bucket)
    script = f"""
import json, sys
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").appName("ddl")
         .config("spark.ui.enabled", "false").config("spark.sql.warehouse.dir", {str(tmp_path / "warehouse")!r})
         .config("spark.driver.host", "127.0.0.1").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
for statement in open({str(tmp_path / "lake.sql")!r}).read().split(";\\n"):
    if statement.strip():
        spark.sql(statement.strip().rstrip(";"))
names = {json.dumps(list(expected))}
print(json.dumps({{n: spark.sql("SELECT count(*) AS n FROM " + n.split(".")[0] + "_" + n.split(".")[1] + "." + n.split(".")[2]).collect()[0]["n"] for n in names}}))
row = spark.sql("SELECT dt, count(*) AS n FROM raw_shop.orders GROUP BY dt ORDER BY dt").collect()
print(json.dumps([[str(r["dt"]), r["n"]] for r in row]))
spark.stop()
"""
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert json.loads(lines[-2]) == expected
    lens_days = lens(
        "query",
        "SELECT dt::VARCHAR AS dt, count(*) AS n FROM raw.shop.orders GROUP BY 1 ORDER BY 1",
        "--bucket",
        bucket,
        "--format",
        "json",
    )
    assert json.loads(lines[-1]) == [[r["dt"], r["n"]] for r in json.loads(lens_days.stdout)]


@pytest.mark.parametrize("dialect, read", [("trino", "trino"), ("athena", "hive")])
def test_trino_and_athena_statements_parse(lens, bucket, dialect, read):
    import sqlglot

    result = lens("ddl", "--dialect", dialect, "--bucket", bucket)
    assert result.code == ExitCode.OK, result.stderr
    parsed = [s for s in sqlglot.parse(result.stdout, read=read) if s is not None]
    creates = [s for s in parsed if s.key == "create" and s.args.get("kind") == "TABLE"]
    assert len(creates) == len(json.loads(lens("catalog", "--bucket", bucket, "--json").stdout))
    assert "PARTITION" in result.stdout.upper() and "raw_shop" in result.stdout


def test_ddl_names_wrong_options(lens, bucket):
    bad = lens("ddl", "--dialect", "oracle", "--bucket", bucket)
    assert bad.code == ExitCode.USAGE and "duckdb, spark, trino, athena" in bad.stderr
    gold = lens("ddl", "--dialect", "spark", "--layer", "gold", "--bucket", bucket)
    assert gold.code == ExitCode.OK and "gold_sales" in gold.stdout and "raw_shop" not in gold.stdout


@pytest.mark.parametrize("where", ["local", "s3"])
def test_export_catalog_opens_in_plain_duckdb(lens, tmp_path, where, request):
    lake = (
        shop(Lake.local(tmp_path / "bucket"))
        if where == "local"
        else shop(Lake.s3(request.getfixturevalue("s3_bucket")))
    )
    result = lens("export-catalog", str(tmp_path / "lake.duckdb"), "--bucket", lake.url)
    assert result.code == ExitCode.OK, result.stderr
    assert "4 views" in result.stderr
    expected = {name.replace(".", "_", 1): n for name, n in counts(lens, lake.url).items()}
    register = ""
    if where == "s3":  # the client brings its own way to S3 (here fsspec; httpfs elsewhere)
        register = "import s3fs; con.register_filesystem(s3fs.S3FileSystem())\n"
    script = (
        "import duckdb, json\n"
        f"con = duckdb.connect({str(tmp_path / 'lake.duckdb')!r}, read_only=True)\n"
        + register
        + "names = [r[0] + '.' + r[1] for r in con.execute(\"SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal\").fetchall()]\n"
        "print(json.dumps({n: con.execute('SELECT count(*) FROM ' + n).fetchall()[0][0] for n in names}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == expected
    assert b"secret" not in (tmp_path / "lake.duckdb").read_bytes().lower()

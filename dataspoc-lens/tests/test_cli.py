"""The installed dataspoc-lens command on a local bucket: stdout, stderr and exit codes apart."""

import csv
import io
import json
import os

import pytest

from dataspoc_lens.errors import ExitCode
from lake import orders, shop


@pytest.fixture
def bucket(local_lake):
    return shop(local_lake).url


def one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Traceback" not in stderr
    return lines[0]


def test_catalog_lists_every_table(lens, bucket):
    result = lens("catalog", "--bucket", bucket, "--json")
    assert result.code == ExitCode.OK, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {"raw.shop.orders", "raw.crm.customers", "gold.sales.orders", "curated.crm.events"}
    assert (
        rows["raw.shop.orders"]["rows"],
        rows["raw.shop.orders"]["files"],
        rows["raw.shop.orders"]["partitions"],
    ) == (5, 2, 2)
    assert rows["raw.shop.orders"]["columns"] == 3
    assert rows["raw.shop.orders"]["alias"] is None  # two tables are named orders
    assert rows["raw.crm.customers"]["alias"] == "customers"
    assert rows["gold.sales.orders"]["writer"] == "dataspoc-lens/0.1.0"
    assert rows["curated.crm.events"]["files"] == 0


def test_catalog_table_for_people(lens, bucket):
    result = lens("catalog", "--bucket", bucket)
    assert result.code == ExitCode.OK
    assert "raw.shop.orders" in result.stdout and "dataspoc-pipe/0.1.0" in result.stdout
    assert result.stderr == ""
    assert "customers" in result.stdout.split("raw.crm.customers", 1)[1].splitlines()[0]  # its alias


def test_bucket_from_environment_then_default(lens, bucket, tmp_path):
    from lake import Lake

    other = Lake.local(tmp_path / "elsewhere")
    other.add("raw", "hr", "people", {"2026-11-22": orders(1)})
    other.manifest()

    def names(**env: str) -> set[str]:
        result = lens("catalog", "--json", env=env)
        assert result.code == ExitCode.OK, result.stderr
        return {r["name"] for r in json.loads(result.stdout)}

    # $DATASPOC_BUCKET wins over the default ./bucket ...
    assert names(DATASPOC_BUCKET=other.url) == {"raw.hr.people"}
    # ... --bucket wins over $DATASPOC_BUCKET ...
    result = lens("catalog", "--json", "--bucket", bucket, env={"DATASPOC_BUCKET": other.url})
    assert "raw.hr.people" not in result.stdout and "raw.shop.orders" in result.stdout
    # ... and without either, ./bucket (the tests run in tmp_path, where the shop lake lives)
    assert bucket == str(tmp_path / "bucket")
    assert "DATASPOC_BUCKET" not in os.environ
    assert names() == {"raw.shop.orders", "raw.crm.customers", "gold.sales.orders", "curated.crm.events"}


def test_missing_bucket_folder_is_a_usage_error(lens, tmp_path):
    result = lens("query", "SELECT 1", "--bucket", str(tmp_path / "typo"))
    assert result.code == ExitCode.USAGE and result.stdout == ""
    assert result.stderr.startswith("error: bucket ") and "typo does not exist" in result.stderr


def test_missing_manifest_is_friendly(lens, tmp_path):
    (tmp_path / "empty").mkdir()
    result = lens("catalog", "--bucket", str(tmp_path / "empty"), "--json")
    assert result.code == ExitCode.OK
    assert result.stdout.strip() == "[]"
    assert result.stderr.strip() == "no tables yet: run dataspoc-pipe first"


def test_query_csv_with_partition_column(lens, bucket):
    result = lens(
        "query", "SELECT order_id, dt FROM raw.shop.orders ORDER BY order_id", "--bucket", bucket, "--format", "csv"
    )
    assert result.code == ExitCode.OK, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["order_id"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert [r["dt"] for r in rows] == ["2026-11-21"] * 3 + ["2026-11-22"] * 2
    assert result.stderr == ""


def test_query_json_types(lens, bucket):
    sql = (
        "SELECT order_id, amount, dt, amount::DECIMAL(10,2) AS exact, NULL AS nothing, true AS yes "
        "FROM raw.shop.orders WHERE order_id = 1"
    )
    result = lens("query", sql, "--bucket", bucket, "--format", "json")
    assert result.code == ExitCode.OK, result.stderr
    assert json.loads(result.stdout) == [
        {"order_id": 1, "amount": 10.5, "dt": "2026-11-21", "exact": "10.50", "nothing": None, "yes": True}
    ]


def test_query_table_alias_and_stdin(lens, bucket):
    result = lens("query", "-", "--bucket", bucket, stdin="SELECT country FROM customers ORDER BY country")
    assert result.code == ExitCode.OK, result.stderr
    assert "BR" in result.stdout and "PT" in result.stdout and "country" in result.stdout


def test_max_rows_notice_goes_to_stderr(lens, bucket):
    result = lens("query", "SELECT * FROM raw.shop.orders", "--bucket", bucket, "--format", "json", "--max-rows", "2")
    assert result.code == ExitCode.OK
    assert len(json.loads(result.stdout)) == 2
    assert "showing the first 2 rows" in result.stderr


def test_orphan_file_not_in_manifest_is_ignored(lens, local_lake):
    local_lake.add("raw", "shop", "orders", {"2026-11-22": orders(2)})
    local_lake.manifest()
    # what a crashed run leaves: a file in the table's folder that the manifest does not list
    local_lake.parquet("raw/shop/orders/dt=2026-11-22/part-20261122T040000.000Z-dead00-00000.parquet", orders(50, 100))
    local_lake.parquet("raw/shop/orders/dt=2026-11-23/part-20261123T040000.000Z-dead00-00000.parquet", orders(50, 200))
    result = lens(
        "query",
        "SELECT count(*) AS n, max(order_id) AS top FROM raw.shop.orders",
        "--bucket",
        local_lake.url,
        "--format",
        "json",
    )
    assert json.loads(result.stdout) == [{"n": 2, "top": 2}]


def test_empty_table_is_queryable(lens, bucket):
    result = lens("query", "SELECT * FROM curated.crm.events", "--bucket", bucket, "--format", "csv")
    assert result.code == ExitCode.OK, result.stderr
    assert result.stdout.strip() == "event_id,at,kind,dt"


def test_unknown_table_is_a_usage_error(lens, bucket):
    result = lens("query", "SELECT * FROM raw.shop.nope", "--bucket", bucket)
    assert result.code == ExitCode.USAGE
    assert result.stdout == ""
    line = one_line_error(result.stderr)
    assert "nope" in line and "dataspoc-lens catalog" in line


def test_ambiguous_bare_name_is_unknown(lens, bucket):
    result = lens("query", "SELECT * FROM orders", "--bucket", bucket)
    assert result.code == ExitCode.USAGE
    assert "dataspoc-lens catalog" in one_line_error(result.stderr)


def test_sql_syntax_error_is_one_line(lens, bucket):
    result = lens("query", "SELEC * FROM raw.shop.orders", "--bucket", bucket)
    assert result.code == ExitCode.USAGE
    assert "syntax error" in one_line_error(result.stderr)


def test_runtime_failure_is_a_data_error(lens, bucket):
    result = lens("query", "SELECT 'abc'::INTEGER", "--bucket", bucket)
    assert result.code == ExitCode.DATA
    assert "query failed" in one_line_error(result.stderr)


def test_unknown_major_contract_version_is_refused(lens, local_lake):
    local_lake.add("raw", "shop", "orders", {"2026-11-22": orders()})
    local_lake.manifest(contract_version="2.0", validate=False)
    result = lens("query", "SELECT 1", "--bucket", local_lake.url)
    assert result.code == ExitCode.DATA and result.stdout == ""
    line = one_line_error(result.stderr)
    assert ".dataspoc/manifest.json" in line and "2.0" in line and "1.x" in line and "upgrade dataspoc-lens" in line


def test_broken_manifest_names_the_problem(lens, local_lake):
    entry = local_lake.add("raw", "shop", "orders", {"2026-11-22": orders()})
    entry["row_count"] = -1
    local_lake.manifest(validate=False)
    result = lens("catalog", "--bucket", local_lake.url)
    assert result.code == ExitCode.DATA
    assert "row_count" in one_line_error(result.stderr)


def test_deleted_parquet_file_fails_its_table_only(lens, local_lake, tmp_path):
    shop(local_lake)
    customers_file = local_lake.tables[1]["partitions"][0]["files"][0]["path"]
    (tmp_path / "bucket" / customers_file).unlink()
    for sql in ("select count(*) from raw.crm.customers", "select * from customers where country = 'BR'"):
        result = lens("query", sql, "--bucket", local_lake.url, "--format", "csv")
        assert result.code == ExitCode.DATA, result
        assert result.stdout == ""
        line = one_line_error(result.stderr)
        assert line.startswith("error: table raw.crm.customers cannot be read: ")
        assert f"the manifest lists {local_lake.url}/{customers_file}, which is gone" in line
    result = lens("query", "select count(*) AS n from raw.shop.orders", "--bucket", local_lake.url, "--format", "csv")
    assert result.code == ExitCode.OK, result.stderr
    assert result.stdout == "n\n5\n"


def test_corrupt_manifest_is_a_data_error_naming_the_file(lens, local_lake):
    shop(local_lake)
    local_lake.put(".dataspoc/manifest.json", b'{"contract_version": "1.0", "tables": [')
    for args in (("catalog",), ("query", "SELECT 1")):
        result = lens(*args, "--bucket", local_lake.url)
        assert result.code == ExitCode.DATA, result
        line = one_line_error(result.stderr)
        assert f"{local_lake.url}/.dataspoc/manifest.json is not valid JSON" in line
        assert "restore it" in line


def test_unknown_scheme_does_not_echo_credentials(lens):
    result = lens("catalog", "--bucket", "ftp://alice:s3cr3t@example.com/lake")
    assert result.code == ExitCode.USAGE
    line = one_line_error(result.stderr)
    assert "unknown bucket scheme 'ftp://'" in line and "ftp://example.com/lake" in line
    assert "s3cr3t" not in result.stderr and "alice" not in result.stderr


def test_closed_pipe_ends_quietly(bucket):
    import subprocess

    from conftest import LENS

    sql = "select range AS i, range * 1.5 AS x, 'abc' AS s from range(200000)"
    proc = subprocess.Popen(
        [str(LENS), "query", sql, "--bucket", bucket, "--format", "csv"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    head = [proc.stdout.readline() for _ in range(2)]  # what `| head -2` reads
    proc.stdout.close()  # ... before the command has written everything
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == ExitCode.OK, stderr
    assert head == [b"i,x,s\n", b"0,0.0,abc\n"]
    assert stderr == ""


def test_json_streams_across_batches_and_cuts_at_max_rows(lens, bucket):
    result = lens(
        "query", "SELECT range AS i FROM range(25000)", "--bucket", bucket, "--format", "json", "--max-rows", "20005"
    )
    assert result.code == ExitCode.OK, result.stderr
    assert json.loads(result.stdout) == [{"i": i} for i in range(20005)]  # more than one batch
    assert "showing the first 20005 rows" in result.stderr
    result = lens(
        "query", "SELECT range AS i FROM range(20000)", "--bucket", bucket, "--format", "csv", "--max-rows", "10000"
    )
    assert result.stdout.splitlines() == ["i"] + [str(i) for i in range(10000)]
    assert "showing the first 10000 rows" in result.stderr
    result = lens(
        "query", "SELECT range AS i FROM range(20000)", "--bucket", bucket, "--format", "csv", "--max-rows", "20000"
    )
    assert len(result.stdout.splitlines()) == 20001 and result.stderr == ""


def test_streamed_json_is_the_same_document(lens, bucket):
    result = lens(
        "query",
        "SELECT order_id, amount FROM raw.shop.orders WHERE order_id <= 2 ORDER BY 1",
        "--bucket",
        bucket,
        "--format",
        "json",
    )
    expected = [{"order_id": 1, "amount": 10.5}, {"order_id": 2, "amount": 21.0}]
    assert result.stdout == json.dumps(expected, indent=2) + "\n"
    result = lens("query", "SELECT 1 AS a WHERE false", "--bucket", bucket, "--format", "json")
    assert result.code == ExitCode.OK and result.stdout == "[]\n"


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_failure_while_streaming_is_one_line(lens, bucket, fmt):
    sql = "SELECT CASE WHEN range < 15000 THEN range::VARCHAR ELSE 'abc' END::INTEGER AS x FROM range(20000)"
    result = lens("query", sql, "--bucket", bucket, "--format", fmt)
    assert result.code == ExitCode.DATA
    line = one_line_error(result.stderr)
    assert "query failed" in line and "abc" in line

"""dataspoc-lens on an S3 bucket served by moto over HTTP, read through fsspec (no httpfs)."""

import csv
import io
import json
import time

import pytest

from dataspoc_lens.errors import ExitCode
from lake import orders, shop

pytestmark = pytest.mark.s3


def test_catalog_and_query_on_s3(lens, s3_lake):
    shop(s3_lake)
    # a crashed run's file, which the manifest does not list
    s3_lake.parquet("raw/shop/orders/dt=2026-11-22/part-20261122T040000.000Z-dead00-00000.parquet", orders(50, 100))

    listed = lens("catalog", "--bucket", s3_lake.url, "--json")
    assert listed.code == ExitCode.OK, listed.stderr
    assert {r["name"] for r in json.loads(listed.stdout)} == {
        "raw.shop.orders",
        "raw.crm.customers",
        "gold.sales.orders",
        "curated.crm.events",
    }

    sql = (
        "SELECT o.dt, count(*) AS n, string_agg(DISTINCT c.country, '|' ORDER BY c.country) AS countries "
        "FROM raw.shop.orders o JOIN customers c USING (customer_id) GROUP BY o.dt ORDER BY o.dt"
    )
    result = lens("query", sql, "--bucket", s3_lake.url, "--format", "csv")
    assert result.code == ExitCode.OK, result.stderr
    assert list(csv.DictReader(io.StringIO(result.stdout))) == [
        {"dt": "2026-11-21", "n": "3", "countries": "BR|PT"},
        {"dt": "2026-11-22", "n": "2", "countries": "BR|PT"},
    ]
    assert result.stderr == ""


def test_empty_s3_bucket_is_friendly(lens, s3_bucket):
    result = lens("query", "SELECT 42 AS answer", "--bucket", f"s3://{s3_bucket}", "--format", "json")
    assert result.code == ExitCode.OK
    assert json.loads(result.stdout) == [{"answer": 42}]
    assert "no tables yet" in result.stderr


def test_missing_s3_bucket_is_a_usage_error(lens, moto_endpoint):
    result = lens("catalog", "--bucket", "s3://no-such-bucket-here", env={"AWS_ENDPOINT_URL": moto_endpoint})
    assert result.code == ExitCode.USAGE
    assert result.stderr.startswith("error: bucket s3://no-such-bucket-here does not exist")
    assert result.stderr.count("\n") == 1


def test_unreachable_bucket_is_a_storage_error_quickly(lens):
    started = time.monotonic()
    result = lens("query", "SELECT 1", "--bucket", "s3://lens-offline", env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    assert time.monotonic() - started < 20
    assert result.code == ExitCode.STORAGE and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the bucket"), result.stderr

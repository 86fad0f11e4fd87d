"""One query over several buckets: each a database named after it (finance.gold.revenue)."""

from __future__ import annotations

import json

from dataspoc_lens.errors import ExitCode
from lake import Lake, orders, shop


def test_a_query_joins_tables_of_two_buckets(lens, tmp_path, s3_bucket):
    shop(Lake.local(tmp_path / "bucket"))
    finance = Lake.s3(s3_bucket)
    finance.add("gold", "sales", "revenue", {None: orders(2)})
    finance.add("gold", "ops", "revenue", {None: orders(1)})  # the same name in another namespace
    finance.manifest()
    assert lens("buckets", "add", "finance", finance.url).code == ExitCode.OK
    sql = (
        "SELECT (SELECT count(*) FROM bucket.raw.orders) AS shop_orders, "
        "(SELECT count(*) FROM finance.gold.sales_revenue) AS sales, "
        "(SELECT count(*) FROM finance.gold.ops_revenue) AS ops"
    )
    result = lens("query", sql, "--bucket", str(tmp_path / "bucket"), "--bucket", "finance", "--format", "json")
    assert result.code == ExitCode.OK, result.stderr
    assert json.loads(result.stdout) == [{"shop_orders": 5, "sales": 2, "ops": 1}]
    # the same read-only rules hold
    refused = lens(
        "query", f"COPY (SELECT 1) TO '{tmp_path}/x.csv'", "--bucket", str(tmp_path / "bucket"), "--bucket", "finance"
    )
    assert refused.code == ExitCode.USAGE and not (tmp_path / "x.csv").exists()


def test_bucket_names_must_differ_and_not_be_layers(lens, tmp_path):
    a = shop(Lake.local(tmp_path / "one" / "lake"))
    b = shop(Lake.local(tmp_path / "two" / "lake"))
    same = lens("query", "SELECT 1", "--bucket", a.url, "--bucket", b.url)
    assert same.code == ExitCode.USAGE and "same name" in same.stderr
    assert lens("buckets", "add", "raw", a.url).code == ExitCode.OK
    layer = lens("query", "SELECT 1", "--bucket", "raw", "--bucket", b.url)
    assert layer.code == ExitCode.USAGE and "may not be named 'raw'" in layer.stderr

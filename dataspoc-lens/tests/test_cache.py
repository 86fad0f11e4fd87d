"""The local cache of remote tables through the CLI, on the moto S3 server: copies keep the
partition folders, queries use them while fresh, --offline needs no bucket at all, and the
size bound evicts the least recently used table."""

from __future__ import annotations

import json

import pytest

from dataspoc_lens.errors import ExitCode
from lake import Lake, orders, shop


@pytest.fixture
def lake(s3_bucket) -> Lake:
    return shop(Lake.s3(s3_bucket))


def cache_root(tmp_path):
    return tmp_path / "home" / ".dataspoc-lens" / "cache"


def test_cache_then_query_offline_with_the_bucket_gone(lens, lake, tmp_path, closed_port):
    result = lens("cache", "raw.shop.orders", "--bucket", lake.url)
    assert result.code == ExitCode.OK, result.stderr
    assert "cached raw.shop.orders: 2 files (2 fetched)" in result.stderr
    copies = sorted(p.relative_to(cache_root(tmp_path)).as_posix() for p in cache_root(tmp_path).rglob("*.parquet"))
    assert len(copies) == 2 and all("/files/raw/shop/orders/dt=" in c for c in copies)  # partition folders kept

    listed = json.loads(lens("cache", "list", "--json", "--bucket", lake.url).stdout)
    assert [(r["table"], r["state"]) for r in listed] == [("raw.shop.orders", "fresh")]
    online = lens("query", "SELECT count(*) AS n FROM raw.shop.orders", "--bucket", lake.url, "--format", "csv")
    assert online.stdout == "n\n5\n"

    gone = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port}"}  # the bucket cannot be reached
    offline = lens(
        "query",
        "SELECT count(*) AS n FROM raw.shop.orders",
        "--bucket",
        lake.url,
        "--format",
        "csv",
        "--offline",
        env=gone,
    )
    assert offline.code == ExitCode.OK, offline.stderr
    assert offline.stdout == "n\n5\n"
    assert "not cached, so not queryable: " in offline.stderr and "raw.crm.customers" in offline.stderr
    missing = lens("query", "SELECT * FROM raw.crm.customers", "--bucket", lake.url, "--offline", env=gone)
    assert missing.code == ExitCode.USAGE


def test_a_changed_table_is_stale_until_refreshed(lens, lake):
    assert lens("cache", "--all", "--bucket", lake.url).code == ExitCode.OK
    lake.add("raw", "shop", "orders", {"2026-11-23": orders(3, start=100)})  # replaced by other files
    lake.manifest()
    listed = {r["table"]: r["state"] for r in json.loads(lens("cache", "list", "--json", "--bucket", lake.url).stdout)}
    assert listed["raw.shop.orders"] == "stale" and listed["raw.crm.customers"] == "fresh"
    query = lens("query", "SELECT count(*) AS n FROM raw.shop.orders", "--bucket", lake.url, "--format", "csv")
    assert query.stdout == "n\n3\n"  # the stale copy (5 rows) is never used
    refreshed = lens("cache", "refresh", "--bucket", lake.url)
    assert refreshed.code == ExitCode.OK and "(1 fetched)" in refreshed.stderr
    listed = {r["table"]: r["state"] for r in json.loads(lens("cache", "list", "--json", "--bucket", lake.url).stdout)}
    assert set(listed.values()) == {"fresh"}
    assert lens("cache", "clear", "raw.shop.orders", "--bucket", lake.url).code == ExitCode.OK
    assert "raw.shop.orders" not in lens("cache", "list", "--bucket", lake.url).stdout


def test_the_size_bound_evicts_the_least_recently_used(lens, lake, tmp_path):
    import yaml

    config = tmp_path / "home" / ".dataspoc-lens" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    assert lens("cache", "raw.crm.customers", "--bucket", lake.url).code == ExitCode.OK
    assert lens("cache", "gold.sales.orders", "--bucket", lake.url).code == ExitCode.OK
    lens("query", "SELECT count(*) FROM raw.crm.customers", "--bucket", lake.url)  # used now
    sizes = {r["table"]: r["bytes"] for r in json.loads(lens("cache", "list", "--json", "--bucket", lake.url).stdout)}
    config.write_text(yaml.safe_dump({"cache_max_bytes": sizes["raw.crm.customers"] + 1}))
    assert lens("cache", "raw.crm.customers", "--bucket", lake.url).code == ExitCode.OK
    kept = [r["table"] for r in json.loads(lens("cache", "list", "--json", "--bucket", lake.url).stdout)]
    assert kept == ["raw.crm.customers"]

"""Buckets without a file list: written by dataspoc-pipe 0.2.0, or with no manifest at all.
Lens finds the tables by the contract's layout, says so once, and counts what the files hold."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataspoc_lens.errors import ExitCode
from lake import Lake


def write(root, rel, rows):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(rows), path)


@pytest.fixture(params=["local", "s3"])
def legacy(request, tmp_path):
    """What dataspoc-pipe 0.2.0 left: a manifest keyed source/table, files by the layout."""
    lake = Lake.local(tmp_path / "lake") if request.param == "local" else Lake.s3(request.getfixturevalue("s3_bucket"))
    orders_020 = "raw/crm/public-orders/dt={}/crm_public-orders_0001.parquet"
    lake.parquet(orders_020.format("2026-11-20"), pa.table({"id": [1, 2], "total": [1.5, 2.5]}))
    lake.parquet(orders_020.format("2026-11-21"), pa.table({"id": [3], "total": [3.5]}))
    lake.parquet("raw/crm/users/dt=2026-11-21/crm_users_0001.parquet", pa.table({"id": [7], "email": ["a@b.c"]}))
    manifest = {
        "version": "1.0",
        "updated_at": "2026-11-21T03:00:00+00:00",
        "tables": {
            "crm/public-orders": {
                "source": "crm",
                "table": "public-orders",
                "stats": {"total_rows": 99, "extractions": 4},
            },
            "crm/users": {"source": "crm", "table": "users", "stats": {"total_rows": 1}, "columns": {"id": "integer"}},
        },
    }
    lake.put(".dataspoc/manifest.json", json.dumps(manifest).encode())
    return lake.url


def test_a_020_bucket_is_read_by_its_layout_and_the_files_win(lens, legacy):
    catalog = lens("catalog", "--bucket", legacy, "--json")
    assert catalog.code == ExitCode.OK, catalog.stderr
    rows = {r["name"]: r for r in json.loads(catalog.stdout)}
    assert set(rows) == {"raw.crm.public_orders", "raw.crm.users"}
    assert rows["raw.crm.public_orders"]["rows"] == 3  # not stats.total_rows (99)
    assert catalog.stderr.count("0.2 style") == 1
    query = lens(
        "query",
        "SELECT dt::VARCHAR AS dt, sum(total) AS t FROM raw.crm.public_orders GROUP BY 1 ORDER BY 1",
        "--bucket",
        legacy,
        "--format",
        "csv",
    )
    assert query.code == ExitCode.OK, query.stderr
    assert query.stdout == "dt,t\n2026-11-20,4.0\n2026-11-21,3.5\n"


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_bucket_without_a_manifest_is_read_by_its_layout(lens, tmp_path, where, request):
    lake = Lake.local(tmp_path / "lake") if where == "local" else Lake.s3(request.getfixturevalue("s3_bucket"))
    lake.parquet("raw/shop/orders/dt=2026-11-20/part-a.parquet", pa.table({"id": [1, 2]}))
    lake.parquet("raw/shop/orders/dt=2026-11-21/part-b.parquet", pa.table({"id": [3], "extra": ["x"]}))
    lake.parquet("gold/sales/revenue/part-c.parquet", pa.table({"day": [1], "total": [9.0]}))
    lake.parquet("ml/predictions/churn/part-d.parquet", pa.table({"customer_id": [1], "prediction": [0.5]}))
    lake.parquet("raw/shop/orders/.tmp/leftover.parquet", pa.table({"id": [999]}))  # hidden: not the table's
    root = lake.url
    result = lens("catalog", "--bucket", root, "--json")
    assert result.code == ExitCode.OK, result.stderr
    rows = {r["name"]: r["rows"] for r in json.loads(result.stdout)}
    assert rows == {"raw.shop.orders": 3, "gold.sales.revenue": 1, "ml.predictions.churn": 1}
    assert "has no manifest: 3 tables found" in result.stderr
    joined = lens(
        "query",
        "SELECT count(*) AS n, count(extra) AS e FROM raw.shop.orders",
        "--bucket",
        str(root),
        "--format",
        "csv",
    )
    assert joined.stdout == "n,e\n3,1\n"


def test_two_folders_that_would_be_one_table_are_refused(lens, tmp_path):
    root = tmp_path / "lake"
    write(root, "raw/shop/order-items/dt=2026-11-20/a.parquet", {"id": [1]})
    write(root, "raw/shop/order_items/dt=2026-11-20/b.parquet", {"id": [2]})
    result = lens("catalog", "--bucket", str(root))
    assert result.code == ExitCode.DATA
    assert "raw/shop/order-items and raw/shop/order_items both read as table raw.shop.order_items" in result.stderr


def test_an_empty_bucket_still_says_no_tables(lens, tmp_path):
    (tmp_path / "empty").mkdir()
    result = lens("catalog", "--bucket", str(tmp_path / "empty"))
    assert result.code == ExitCode.OK and "no tables yet" in result.stderr

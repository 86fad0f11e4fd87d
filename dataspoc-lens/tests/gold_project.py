"""A three-model gold project over a small bucket, as the transform tests build it.

raw.shop.orders (partitioned by dt), curated.crm.customers and ml.predictions.churn, written the
contract's way (lake.py); the models: sales.daily_revenue (incremental by dt, over raw orders),
sales.customers (curated customers with their churn predictions), sales.overview (over those
two) and sales.customer_value (customers and raw orders). `arrive` adds a file to a table as a
later Pipe run would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from lake import RUN_AT, Lake

DAILY_REVENUE = """/* ---
materialized: incremental
partition_by: [dt]
tags: [daily]
tests:
  - check: not_null
    columns: [dt]
  - check: range
    column: revenue
    min: 0
--- */
SELECT dt, count(*) AS orders, sum(amount) AS revenue
FROM raw.shop.orders
GROUP BY dt
"""

CUSTOMERS = """SELECT c.customer_id, c.country, p.churn
FROM curated.crm.customers AS c LEFT JOIN ml.predictions.churn AS p USING (customer_id)
"""

CUSTOMER_VALUE = """SELECT c.customer_id, c.country, c.churn, coalesce(sum(o.amount), 0) AS spent
FROM gold.sales.customers AS c LEFT JOIN raw.shop.orders AS o USING (customer_id)
GROUP BY ALL
"""

OVERVIEW = """SELECT d.dt, d.orders, d.revenue,
       (SELECT count(*) FROM gold.sales.customers) AS customers,
       round(d.revenue / (SELECT count(*) FROM gold.sales.customers), 2) AS revenue_per_customer
FROM gold.sales.daily_revenue AS d
"""

CUSTOMER_VALUE_TESTS = """tests:
  - check: unique
    columns: [customer_id]
  - check: relationships
    column: customer_id
    to: gold.sales.customers
    field: customer_id
  - check: not_null
    columns: [churn]
    severity: warn
"""


def orders(ids: list[int], amount: float) -> pa.Table:
    return pa.table(
        {
            "order_id": pa.array(ids, pa.int64()),
            "customer_id": pa.array([100 + i % 3 for i in ids], pa.int64()),
            "amount": pa.array([amount] * len(ids), pa.float64()),
        }
    )


def bucket(lake: Lake) -> Lake:
    lake.add("raw", "shop", "orders", {"2026-11-20": orders([1, 2, 3], 10.0), "2026-11-21": orders([4, 5], 20.0)})
    lake.add(
        "curated",
        "crm",
        "customers",
        {
            "2026-11-21": pa.table(
                {"customer_id": pa.array([100, 101, 102, 103], pa.int64()), "country": ["BR", "PT", "US", "DE"]}
            )
        },
    )
    lake.add(
        "ml",
        "predictions",
        "churn",
        {None: pa.table({"customer_id": pa.array([100, 101, 102], pa.int64()), "churn": pa.array([0.1, 0.8, 0.3])})},
        writer="dataspoc-ml/0.1.0",
    )
    lake.manifest("1.2")
    return lake


def project(root: Path) -> Path:
    sales = root / "transforms" / "sales"
    sales.mkdir(parents=True, exist_ok=True)
    (sales / "daily_revenue.sql").write_text(DAILY_REVENUE)
    (sales / "customers.sql").write_text(CUSTOMERS)
    (sales / "customer_value.sql").write_text(CUSTOMER_VALUE)
    (sales / "customer_value.yml").write_text(CUSTOMER_VALUE_TESTS)
    (sales / "overview.sql").write_text(OVERVIEW)
    return root / "transforms"


def arrive(lake: Lake, location: str, dt: str, rows: pa.Table, run_id: str) -> None:
    """A later Pipe run appends one file to `location`'s partition `dt` and republishes the manifest."""
    document = json.loads(lake.fs.cat_file(f"{lake.root}/.dataspoc/manifest.json"))
    entry = next(t for t in document["tables"] if t["location"] == location)
    path = f"{location}/dt={dt}/part-{run_id}-00000.parquet"
    size = lake.parquet(path, rows)
    partition = next((p for p in entry["partitions"] if p["values"] == {"dt": dt}), None)
    if partition is None:
        partition = {"values": {"dt": dt}, "files": [], "rows": 0, "bytes": 0}
        entry["partitions"].append(partition)
        entry["partitions"].sort(key=lambda p: p["values"]["dt"])
    partition["files"].append({"path": path, "rows": rows.num_rows, "bytes": size, "run_id": run_id})
    partition["rows"] += rows.num_rows
    partition["bytes"] += size
    entry["row_count"] += rows.num_rows
    entry["file_count"] += 1
    entry["bytes"] += size
    entry["last_run_id"] = run_id
    entry["last_run_at"] = RUN_AT
    lake.put(".dataspoc/manifest.json", json.dumps(document, indent=2).encode())


def manifest(lake: Lake) -> dict[str, Any]:
    return json.loads(lake.fs.cat_file(f"{lake.root}/.dataspoc/manifest.json"))


def entry(lake: Lake, location: str) -> dict[str, Any]:
    return next(t for t in manifest(lake)["tables"] if t["location"] == location)


def files(lake: Lake, location: str) -> list[str]:
    return sorted(f["path"] for p in entry(lake, location)["partitions"] for f in p["files"])

"""Pipe's layers as the other readers see them, through the installed CLIs, local and on S3:
a table whose schema grew (an added column, a widened one) read by Lens and by plain DuckDB,
and a curated table with its checks queried by Lens."""

from __future__ import annotations

import csv
import io

import yaml

from conftest import bucket_fs, read_json


def write(tmp_path, name, text):
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / name).write_text(text)


def project(tmp_path, bucket_url, **pipeline):
    document = {
        "version": 1,
        "bucket": bucket_url,
        "pipelines": {
            "orders": {"source": {"kind": "csv", "path": "data/*.csv"}, "target": {"namespace": "shop"}, **pipeline}
        },
    }
    (tmp_path / "dataspoc-pipe.yaml").write_text(yaml.safe_dump(document))


def rows(result):
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_an_added_and_a_widened_column_read_by_lens_and_plain_duckdb(cli, tmp_path, bucket_url):
    import duckdb

    project(tmp_path, bucket_url)
    if "://" not in bucket_url:
        (tmp_path / "bucket").mkdir(exist_ok=True)
    write(tmp_path, "1.csv", "id,amount\n1,10\n2,20\n")
    assert cli("dataspoc-pipe", "run", "orders").code == 0
    write(tmp_path, "2.csv", "id,amount,coupon\n3,30.5,WINTER\n")  # amount widens to double, coupon is new
    run = cli("dataspoc-pipe", "run", "orders")
    assert run.code == 0, run.stderr

    table = next(t for t in read_json(bucket_url, ".dataspoc/manifest.json")["tables"] if t["location"] == "raw/shop/orders")
    types = {c["name"]: c["type"] for c in table["columns"]}
    assert types["amount"] == "double" and types["coupon"] == "string"
    assert [h["change"] for h in table["schema_history"]] == ["created", "changed"]

    query = "SELECT id, amount, coupon FROM raw.shop.orders ORDER BY id"
    lens = cli("dataspoc-lens", "query", "--bucket", bucket_url, "--format", "csv", query)
    assert lens.code == 0, lens.stderr
    assert rows(lens) == [
        {"id": "1", "amount": "10.0", "coupon": ""},
        {"id": "2", "amount": "20.0", "coupon": ""},
        {"id": "3", "amount": "30.5", "coupon": "WINTER"},
    ]

    fs, root = bucket_fs(bucket_url)
    con = duckdb.connect()
    prefix = ""
    if "://" in bucket_url:
        con.register_filesystem(fs)
        prefix = bucket_url.split("://")[0] + "://"
    files = [f"{prefix}{root.rstrip('/')}/{f['path']}" for p in table["partitions"] for f in p["files"]]
    plain = con.execute(
        f"SELECT id, amount, coupon FROM read_parquet({files}, union_by_name=true) ORDER BY id"
    ).fetchall()
    assert plain == [(1, 10.0, None), (2, 20.0, None), (3, 30.5, "WINTER")]


def test_lens_queries_the_curated_table_pipe_checked(cli, tmp_path, bucket_url):
    transform = {
        "domain": "sales",
        "tables": {
            "orders": {
                "steps": [{"lower": ["customer"]}, {"filter": "amount > 0"}],
                "checks": [{"check": "not_null", "columns": ["customer"]}],
            },
            "totals": {"from": "orders", "sql": "SELECT lower(customer) AS customer, sum(amount) AS total FROM source GROUP BY 1"},
        },
    }
    project(tmp_path, bucket_url, transform=transform)
    if "://" not in bucket_url:
        (tmp_path / "bucket").mkdir(exist_ok=True)
    write(tmp_path, "1.csv", "id,customer,amount\n1,ANN,10\n2,Bob,0\n3,ann,5\n")
    run = cli("dataspoc-pipe", "run", "orders")
    assert run.code == 0, run.stderr

    catalog = cli("dataspoc-lens", "catalog", "--bucket", bucket_url, "--json")
    assert catalog.code == 0 and "curated.sales.orders" in catalog.stdout and "curated.sales.totals" in catalog.stdout
    query = (
        "SELECT o.customer, count(*) AS n, t.total FROM curated.sales.orders o "
        "JOIN curated.sales.totals t USING (customer) GROUP BY ALL ORDER BY 1"
    )
    lens = cli("dataspoc-lens", "query", "--bucket", bucket_url, "--format", "csv", query)
    assert lens.code == 0, lens.stderr
    assert rows(lens) == [{"customer": "ann", "n": "2", "total": "15"}]
    manifest = read_json(bucket_url, ".dataspoc/manifest.json")
    curated = next(t for t in manifest["tables"] if t["location"] == "curated/sales/orders")
    assert curated["quality"]["score"] == 100.0 and curated["derived_from"] == ["raw/shop/orders"]

"""Gold transforms through the installed CLI: order, incremental reruns (asserted from the files),
failures that keep the old version, selection, compiled SQL; on a local bucket and on S3 (moto)."""

from __future__ import annotations

import csv
import io
import json

import duckdb
import jsonschema
import pytest

import gold_project as gp
from dataspoc_lens.errors import ExitCode
from lake import schema

LATER = "20261123T030000.000Z-b0b0b0"
LATEST = "20261124T030000.000Z-c0c0c0"


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def lake(request):
    return gp.bucket(request.getfixturevalue(f"{request.param}_lake"))


def rows(lens, lake, sql: str) -> list[dict[str, str]]:
    result = lens("query", sql, "--bucket", lake.url, "--format", "csv")
    assert result.code == ExitCode.OK, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def expected(lake, sql: str) -> list[dict[str, str]]:
    """The same figures computed by plain DuckDB over the raw files the manifest lists."""
    con = duckdb.connect()
    if lake.url.startswith("s3://"):
        con.register_filesystem(lake.fs)
    for location in ("raw/shop/orders", "curated/crm/customers", "ml/predictions/churn"):
        paths = ", ".join(f"'{lake.url}/{p}'" for p in gp.files(lake, location))
        con.execute(
            f"CREATE VIEW {location.split('/')[-1]} AS SELECT * FROM read_parquet([{paths}], hive_partitioning=true)"
        )
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [{n: "" if v is None else str(v) for n, v in zip(names, row)} for row in cursor.fetchall()]


REVENUE = "SELECT dt, count(*) AS orders, sum(amount) AS revenue FROM orders GROUP BY dt ORDER BY dt"
OVERVIEW = (
    "SELECT dt, count(*) AS orders, sum(amount) AS revenue, (SELECT count(*) FROM customers) AS customers, "
    "round(sum(amount) / (SELECT count(*) FROM customers), 2) AS revenue_per_customer FROM orders GROUP BY dt ORDER BY dt"
)
VALUE = (
    "SELECT c.customer_id, c.country, p.churn, coalesce(sum(o.amount), 0) AS spent FROM customers c "
    "LEFT JOIN churn p USING (customer_id) LEFT JOIN orders o USING (customer_id) GROUP BY ALL ORDER BY 1"
)


def test_three_models_run_in_order_and_rerun_only_what_changed(lens, lake, tmp_path):
    gp.project(tmp_path)
    listed = lens("transform", "list", "--bucket", lake.url, "--json")
    assert listed.code == ExitCode.OK, listed.stderr
    order = [m["model"] for m in json.loads(listed.stdout)]
    assert order.index("sales.customers") < order.index("sales.customer_value")
    assert max(order.index("sales.customers"), order.index("sales.daily_revenue")) < order.index("sales.overview")
    assert {m["model"]: sorted(m["reads"]) for m in json.loads(listed.stdout)} == {
        "sales.daily_revenue": ["raw.shop.orders"],
        "sales.customers": ["curated.crm.customers", "ml.predictions.churn"],
        "sales.overview": ["gold.sales.customers", "gold.sales.daily_revenue"],
        "sales.customer_value": ["gold.sales.customers", "raw.shop.orders"],
    }

    first = lens("transform", "run", "--bucket", lake.url, "--json")
    assert first.code == ExitCode.OK, first.stderr
    assert {o["model"]: o["status"] for o in json.loads(first.stdout)} == dict.fromkeys(order, "success")
    assert rows(lens, lake, "SELECT * FROM gold.sales.daily_revenue ORDER BY dt") == expected(lake, REVENUE)
    assert rows(lens, lake, "SELECT * FROM gold.sales.customer_value ORDER BY 1") == expected(lake, VALUE)
    assert rows(lens, lake, "SELECT * FROM gold.sales.overview ORDER BY dt") == expected(lake, OVERVIEW)
    revenue_files = gp.files(lake, "gold/sales/daily_revenue")
    assert [f.split("/")[3] for f in revenue_files] == ["dt=2026-11-20", "dt=2026-11-21"]

    entry = gp.entry(lake, "gold/sales/customer_value")
    assert entry["writer"].startswith("dataspoc-lens/")
    assert entry["derived_from"] == ["gold/sales/customers", "raw/shop/orders"]
    assert entry["transform"]["model"] == "sales/customer_value.sql"
    assert entry["transform"]["sql_hash"].startswith("sha256:")
    assert {u["location"]: u["last_run_id"] for u in entry["transform"]["upstream"]} == {
        "gold/sales/customers": gp.entry(lake, "gold/sales/customers")["last_run_id"],
        "raw/shop/orders": gp.entry(lake, "raw/shop/orders")["last_run_id"],
    }
    document = gp.manifest(lake)
    assert document["contract_version"] == "1.3"
    jsonschema.Draft202012Validator(schema("manifest")).validate(document)

    # nothing changed: nothing is written
    before = {
        loc: gp.files(lake, loc)
        for loc in ("gold/sales/daily_revenue", "gold/sales/customers", "gold/sales/customer_value")
    }
    again = lens("transform", "run", "--bucket", lake.url, "--json")
    assert again.code == ExitCode.OK, again.stderr
    assert {o["status"] for o in json.loads(again.stdout)} == {"unchanged"}
    assert {loc: gp.files(lake, loc) for loc in before} == before

    # a later Pipe run adds orders to 2026-11-21 and a new day: only those partitions are rebuilt
    gp.arrive(lake, "raw/shop/orders", "2026-11-21", gp.orders([6], 5.0), LATER)
    gp.arrive(lake, "raw/shop/orders", "2026-11-22", gp.orders([7, 8], 1.0), LATER)
    third = lens("transform", "run", "--bucket", lake.url, "--json")
    assert third.code == ExitCode.OK, third.stderr
    outcomes = {o["model"]: o for o in json.loads(third.stdout)}
    assert outcomes["sales.daily_revenue"]["mode"] == "partitions"
    assert outcomes["sales.daily_revenue"]["partitions"] == [{"dt": "2026-11-21"}, {"dt": "2026-11-22"}]
    assert outcomes["sales.customers"]["status"] == "unchanged"
    assert outcomes["sales.customer_value"]["mode"] == "full"
    assert outcomes["sales.overview"]["mode"] == "full"
    now_files = gp.files(lake, "gold/sales/daily_revenue")
    assert now_files[0] == revenue_files[0], "the unchanged partition keeps its file"
    assert now_files[1] != revenue_files[1] and "dt=2026-11-21" in now_files[1]
    assert "dt=2026-11-22" in now_files[2]
    replaced = gp.entry(lake, "gold/sales/daily_revenue")["replaced"]
    assert [r["path"] for r in replaced] == [revenue_files[1]]
    assert lake.fs.exists(f"{lake.root}/{revenue_files[1]}"), "a replaced file stays until vacuum"
    assert rows(lens, lake, "SELECT * FROM gold.sales.daily_revenue ORDER BY dt") == expected(lake, REVENUE)
    assert rows(lens, lake, "SELECT * FROM gold.sales.customer_value ORDER BY 1") == expected(lake, VALUE)
    assert rows(lens, lake, "SELECT * FROM gold.sales.overview ORDER BY dt") == expected(lake, OVERVIEW)

    # each model's runs are logged in the bucket, valid against the contract
    validator = jsonschema.Draft202012Validator(schema("model-run"))
    logs = sorted(lake.fs.find(f"{lake.root}/.dataspoc/logs/lens/sales.daily_revenue"))
    assert len(logs) == 3
    documents = [json.loads(lake.fs.cat_file(p)) for p in logs]
    for document in documents:
        validator.validate(document)
    assert [d["status"] for d in documents] == ["success", "unchanged", "success"]
    assert documents[-1]["partitions_rebuilt"] == [{"dt": "2026-11-21"}, {"dt": "2026-11-22"}]


def test_vacuum_deletes_replaced_gold_files_after_the_retention(lens, local_lake, tmp_path):
    lake = gp.bucket(local_lake)
    gp.project(tmp_path)
    assert lens("transform", "run", "--bucket", lake.url).code == ExitCode.OK
    assert lens("transform", "run", "--full", "--bucket", lake.url).code == ExitCode.OK
    replaced = [r["path"] for t in gp.manifest(lake)["tables"] for r in t.get("replaced", [])]
    assert len(replaced) == 5
    kept = lens("transform", "vacuum", "--bucket", lake.url, "--json")
    assert json.loads(kept.stdout)["deleted"] == [] and json.loads(kept.stdout)["kept"] == 5
    dry = lens("transform", "vacuum", "--retain", "0", "--dry-run", "--bucket", lake.url, "--json")
    assert sorted(json.loads(dry.stdout)["deleted"]) == sorted(replaced)
    assert all(lake.fs.exists(f"{lake.root}/{p}") for p in replaced)
    done = lens("transform", "vacuum", "--retain", "0", "--bucket", lake.url)
    assert done.code == ExitCode.OK, done.stderr
    assert not any(lake.fs.exists(f"{lake.root}/{p}") for p in replaced)
    assert not any("replaced" in t for t in gp.manifest(lake)["tables"] if t["layer"] == "gold")
    assert rows(lens, lake, "SELECT count(*) AS n FROM gold.sales.daily_revenue") == [{"n": "2"}]


def test_a_failed_model_keeps_its_old_version_and_skips_what_reads_it(lens, lake, tmp_path):
    folder = gp.project(tmp_path)
    assert lens("transform", "run", "--bucket", lake.url).code == ExitCode.OK
    old = gp.files(lake, "gold/sales/customers")
    (folder / "sales" / "customers.sql").write_text("SELECT customer_id, no_such_column FROM curated.crm.customers")
    gp.arrive(lake, "raw/shop/orders", "2026-11-22", gp.orders([9], 3.0), LATER)

    result = lens("transform", "run", "--bucket", lake.url, "--json")
    assert result.code == ExitCode.DATA
    outcomes = {o["model"]: o for o in json.loads(result.stdout)}
    assert outcomes["sales.customers"]["status"] == "failed"
    assert "no_such_column" in outcomes["sales.customers"]["error"]
    assert "sales/customers.sql" in outcomes["sales.customers"]["error"]
    assert outcomes["sales.customer_value"]["status"] == "skipped"
    assert outcomes["sales.overview"]["status"] == "skipped"
    assert "sales.customers" in outcomes["sales.customer_value"]["error"]
    assert outcomes["sales.daily_revenue"]["status"] == "success"
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: model sales.customers")
    assert gp.files(lake, "gold/sales/customers") == old
    assert rows(lens, lake, "SELECT count(*) AS n FROM gold.sales.customers") == [{"n": "4"}]


def test_select_takes_a_model_its_parents_or_a_tag(lens, local_lake, tmp_path):
    lake = gp.bucket(local_lake)
    gp.project(tmp_path)
    result = lens("transform", "run", "--select", "+customer_value", "--bucket", lake.url, "--json")
    assert result.code == ExitCode.OK, result.stderr
    assert [o["model"] for o in json.loads(result.stdout)] == ["sales.customers", "sales.customer_value"]
    result = lens("transform", "run", "-s", "tag:daily", "--bucket", lake.url, "--json")
    assert [o["model"] for o in json.loads(result.stdout)] == ["sales.daily_revenue"]
    result = lens("transform", "list", "--select", "customers+", "--bucket", lake.url, "--json")
    assert sorted(o["model"] for o in json.loads(result.stdout)) == [
        "sales.customer_value",
        "sales.customers",
        "sales.overview",
    ]
    for selector, words in (("nope", "no model 'nope'"), ("tag:weekly", "no model has the tag 'weekly'")):
        bad = lens("transform", "run", "--select", selector, "--bucket", lake.url)
        assert bad.code == ExitCode.USAGE
        assert words in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_merge_on_a_unique_key_with_an_incremental_block(lens, local_lake, tmp_path):
    lake = gp.bucket(local_lake)
    folder = tmp_path / "transforms" / "sales"
    folder.mkdir(parents=True)
    (folder / "latest_orders.sql").write_text(
        "/* ---\nmaterialized: incremental\nunique_key: [order_id]\n--- */\n"
        "SELECT order_id, customer_id, amount, dt FROM raw.shop.orders\n"
        "{% if is_incremental() %}WHERE dt > (SELECT max(dt) FROM {{ this }}){% endif %}\n"
    )
    shown = lens("transform", "show", "latest_orders", "--incremental", "--bucket", lake.url)
    assert shown.stdout.strip().endswith("WHERE dt > (SELECT max(dt) FROM gold.sales.latest_orders);")
    plain = lens("transform", "show", "sales.latest_orders", "--bucket", lake.url)
    assert "is_incremental" not in plain.stdout and "WHERE" not in plain.stdout

    assert lens("transform", "run", "--bucket", lake.url).code == ExitCode.OK
    # a correction of order 5 arrives the next day with the new order 6: only they change
    gp.arrive(lake, "raw/shop/orders", "2026-11-22", gp.orders([5, 6], 99.0), LATER)
    result = lens("transform", "run", "--bucket", lake.url, "--json")
    assert result.code == ExitCode.OK, result.stderr
    assert json.loads(result.stdout)[0]["mode"] == "merge"
    assert rows(lens, lake, "SELECT order_id, amount FROM gold.sales.latest_orders ORDER BY order_id") == [
        {"order_id": "1", "amount": "10.0"},
        {"order_id": "2", "amount": "10.0"},
        {"order_id": "3", "amount": "10.0"},
        {"order_id": "4", "amount": "20.0"},
        {"order_id": "5", "amount": "99.0"},
        {"order_id": "6", "amount": "99.0"},
    ]


def test_a_key_the_model_repeats_fails_the_merge_and_keeps_the_table(lens, local_lake, tmp_path):
    lake = gp.bucket(local_lake)
    folder = tmp_path / "transforms" / "sales"
    folder.mkdir(parents=True)
    (folder / "by_customer.sql").write_text(
        "/* ---\nmaterialized: incremental\nunique_key: [customer_id]\n--- */\n"
        "SELECT customer_id, amount FROM raw.shop.orders {% if is_incremental() %}WHERE false{% endif %}\n"
    )
    first = lens("transform", "run", "--bucket", lake.url)
    assert first.code == ExitCode.OK, first.stderr  # a full build writes what the SQL returns
    (folder / "by_customer.sql").write_text(
        "/* ---\nmaterialized: incremental\nunique_key: [customer_id]\n--- */\n"
        "SELECT customer_id, amount FROM raw.shop.orders\n"
    )
    old = gp.files(lake, "gold/sales/by_customer")
    gp.arrive(lake, "raw/shop/orders", "2026-11-22", gp.orders([9], 3.0), LATER)
    again = lens("transform", "run", "--bucket", lake.url)
    assert again.code == ExitCode.OK, again.stderr  # the SQL changed: a full rebuild, no merge
    assert gp.files(lake, "gold/sales/by_customer") != old
    gp.arrive(lake, "raw/shop/orders", "2026-11-22", gp.orders([10], 3.0), LATEST)
    old = gp.files(lake, "gold/sales/by_customer")
    merged = lens("transform", "run", "--bucket", lake.url)
    assert merged.code == ExitCode.DATA
    assert "unique_key (customer_id) is not unique" in merged.stderr
    assert gp.files(lake, "gold/sales/by_customer") == old


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ({"a/x.sql": "SELECT * FROM gold.a.y", "a/y.sql": "SELECT * FROM gold.a.x"}, "cycle: a.x -> a.y -> a.x"),
        ({"a/x.sql": "SELECT * FROM raw.shop.nope"}, "a/x.sql: reads 'raw.shop.nope'"),
        ({"a/x.sql": "/* ---\nmaterialized: incremental\n--- */\nSELECT 1"}, "a/x.sql: an incremental model needs"),
        ({"a/x.sql": "/* ---\nmaterialised: table\n--- */\nSELECT 1"}, "a/x.sql: materialised: Extra inputs"),
        ({"a/x.sql": "/* ---\ntags: [a\n--- */\nSELECT 1"}, "a/x.sql: settings are not valid YAML"),
        ({"x.sql": "SELECT 1"}, "x.sql: no domain"),
        ({"a/Bad-Name.sql": "SELECT 1"}, "model name 'Bad-Name' is not a valid name"),
        ({"a/x.sql": "DELETE FROM raw.shop.orders"}, "a/x.sql: a model is one SELECT"),
        ({"a/x.sql": "SELECT 1; SELECT 2"}, "a/x.sql: a model is one SELECT"),
        ({"a/x.sql": "SELECT {{ ref('y') }}"}, "a/x.sql: unknown template text"),
        ({"a/x.sql": "SELECT 1", "01_x.sql": "/* ---\ndomain: a\n--- */\nSELECT 2"}, "both publish gold.a.x"),
    ],
)
def test_project_mistakes_are_one_line_usage_errors(lens, local_lake, tmp_path, files, words):
    lake = gp.bucket(local_lake)
    for name, text in files.items():
        path = tmp_path / "transforms" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    result = lens("transform", "run", "--bucket", lake.url)
    assert result.code == ExitCode.USAGE, result.stderr
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not lake.fs.exists(f"{lake.root}/gold/a")


def test_no_transforms_folder_is_named(lens, local_lake, tmp_path):
    lake = gp.bucket(local_lake)
    result = lens("transform", "list", "--bucket", lake.url, "--project", str(tmp_path / "elsewhere"))
    assert result.code == ExitCode.USAGE
    assert f"no transforms folder at {tmp_path / 'elsewhere'}" in result.stderr


def test_numbered_files_order_independent_models(lens, local_lake, tmp_path):
    lake = gp.bucket(local_lake)
    folder = tmp_path / "models"
    (folder / "ops").mkdir(parents=True)
    (folder / "ops" / "02_first.sql").write_text("SELECT 1 AS one")
    (folder / "ops" / "10_second.sql").write_text("SELECT 2 AS two")
    (folder / "03_third.sql").write_text("/* ---\ndomain: ops\n--- */\nSELECT * FROM gold.ops.second")
    listed = lens("transform", "list", "--project", str(folder), "--bucket", lake.url, "--json")
    assert listed.code == ExitCode.OK, listed.stderr
    assert [m["model"] for m in json.loads(listed.stdout)] == ["ops.first", "ops.second", "ops.third"]
    assert lens("transform", "run", "--project", str(folder), "--bucket", lake.url).code == ExitCode.OK
    assert rows(lens, lake, "SELECT * FROM gold.ops.third") == [{"two": "2"}]


def test_a_column_parquet_cannot_store_is_named(lens, local_lake, tmp_path):
    lake = gp.bucket(local_lake)
    folder = tmp_path / "transforms" / "ops"
    folder.mkdir(parents=True)
    (folder / "gaps.sql").write_text("SELECT 1 AS n, INTERVAL 3 DAY AS gap")
    result = lens("transform", "run", "--bucket", lake.url)
    assert result.code == ExitCode.DATA
    assert "model ops.gaps: column gap is an INTERVAL, which Parquet cannot store" in result.stderr
    assert not lake.fs.exists(f"{lake.root}/gold/ops/gaps")
    (folder / "gaps.sql").write_text("SELECT 1 AS n, epoch(INTERVAL 3 DAY) AS gap_seconds")
    assert lens("transform", "run", "--bucket", lake.url).code == ExitCode.OK
    assert rows(lens, lake, "SELECT * FROM gold.ops.gaps") == [{"n": "1", "gap_seconds": "259200.0"}]

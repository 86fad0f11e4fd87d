"""The curated layer through the CLI: declared steps, SQL over the whole raw table, incremental
transforms, dedupe across runs, rebuilds, errors, and SIGKILL during a transform's commit."""

from __future__ import annotations

import signal

import pytest

from conftest import bucket_fs, read_bucket_json, schema_validator, table_rows, write_project
from dataspoc_pipe.errors import ExitCode

HEADER = "id,customer,amount,status,ordered_at\n"


def orders_project(tmp_path, transform: dict, bucket=None, **pipeline):
    write_project(
        tmp_path,
        {
            "orders": {
                "source": {"kind": "csv", "path": "data/*.csv"},
                "target": {"namespace": "shop"},
                "transform": {"domain": "sales", **transform},
                **pipeline,
            }
        },
        bucket=bucket,
    )


def drop(tmp_path, name: str, rows: str) -> None:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / name).write_text(HEADER + rows)


def table_of(bucket_url, location):
    manifest = read_bucket_json(bucket_url, ".dataspoc/manifest.json")
    return next(t for t in manifest["tables"] if t["location"] == location)


STEPS = {
    "tables": {
        "orders": {
            "steps": [
                {"trim": ["customer"]},
                {"lower": ["customer"]},
                {"fill_null": {"amount": 0}},
                {"cast": {"amount": "DECIMAL(10, 2)"}},
                {"drop_null": ["customer"]},
                {"filter": "status <> 'test'"},
                {"rename": {"amount": "total"}},
                {"drop": ["status"]},
            ]
        }
    }
}


def test_declared_steps_write_the_curated_table(pipe, tmp_path, bucket_url):
    drop(
        tmp_path,
        "a.csv",
        "1,  Ann ,10.5,paid,2026-11-20T10:00:00Z\n2,BOB,,new,2026-11-21T11:00:00Z\n"
        "3,,7,paid,2026-11-21T12:00:00Z\n4,Dan,1,test,2026-11-22T09:00:00Z\n",
    )
    orders_project(tmp_path, STEPS, bucket=bucket_url, partition_by={"column": "ordered_at"})
    result = pipe("run", "orders", "--json")
    assert result.code == ExitCode.OK, result.stderr
    extract, transform = result.json()
    assert extract.get("step") in (None, "extract") and transform["step"] == "transform"
    assert transform["tables"][0]["location"] == "curated/sales/orders" and transform["rows_written"] == 2
    assert "transform 2 rows -> curated/sales/orders" in result.stderr

    rows = sorted(table_rows(bucket_url, "curated/sales/orders"), key=lambda r: r["id"])
    assert [(r["id"], r["customer"], str(r["total"])) for r in rows] == [(1, "ann", "10.50"), (2, "bob", "0.00")]
    assert "status" not in rows[0] and "amount" not in rows[0]
    table = table_of(bucket_url, "curated/sales/orders")
    assert table["layer"] == "curated" and table["derived_from"] == ["raw/shop/orders"]
    # each row keeps the partition of its raw row
    assert sorted(p["values"]["dt"] for p in table["partitions"]) == ["2026-11-20", "2026-11-21"]
    assert {c["name"]: c["type"] for c in table["columns"]}["total"] == "decimal128(10, 2)"
    manifest = read_bucket_json(bucket_url, ".dataspoc/manifest.json")
    assert list(schema_validator("manifest").iter_errors(manifest)) == []
    log = read_bucket_json(bucket_url, f".dataspoc/logs/orders/{transform['run_id']}.json")
    assert list(schema_validator("run-log").iter_errors(log)) == []
    state = read_bucket_json(bucket_url, ".dataspoc/state/orders/state.json")
    assert list(schema_validator("state").iter_errors(state)) == []
    mark = state["bookmarks"]["transforms"]["curated/sales/orders"]
    assert mark == {"through_run_id": extract["run_id"], "files": 3, "rows": 4}


def test_transforms_read_only_the_raw_rows_new_since_the_last_one(pipe, tmp_path, bucket_url):
    drop(tmp_path, "a.csv", "1,ann,10,paid,2026-11-20T10:00:00Z\n")
    orders_project(tmp_path, STEPS, bucket=bucket_url)
    assert pipe("run", "orders").code == ExitCode.OK
    drop(tmp_path, "b.csv", "2,bob,20,paid,2026-11-21T10:00:00Z\n")
    assert pipe("run", "orders").code == ExitCode.OK
    table = table_of(bucket_url, "curated/sales/orders")
    assert table["row_count"] == 2 and table["file_count"] == 2 and "replaced" not in table  # appended
    assert sorted(r["id"] for r in table_rows(bucket_url, "curated/sales/orders")) == [1, 2]

    again = pipe("transform", "orders")
    assert again.code == ExitCode.OK and "transform no new data" in again.stderr
    full = pipe("transform", "orders", "--full", "--json")
    assert full.code == ExitCode.OK, full.stderr
    assert full.json()[0]["tables"][0]["mode"] == "overwrite"
    table = table_of(bucket_url, "curated/sales/orders")
    assert table["row_count"] == 2 and len(table["replaced"]) == 2
    assert sorted(r["id"] for r in table_rows(bucket_url, "curated/sales/orders")) == [1, 2]


def test_a_sql_aggregate_equals_the_same_sql_run_by_duckdb_over_the_raw_files(pipe, tmp_path, bucket_url):
    import duckdb

    drop(tmp_path, "a.csv", "".join(f"{i},c{i % 3},{i * 1.5},paid,2026-11-2{i % 3}T10:00:00Z\n" for i in range(1, 40)))
    query = (
        "SELECT customer, count(*) AS orders, sum(amount) AS total, "
        "avg(amount) - avg(avg(amount)) OVER () AS above_average FROM {} GROUP BY customer"
    )
    orders_project(
        tmp_path, {"tables": {"by_customer": {"from": "orders", "sql": query.format("source")}}}, bucket=bucket_url
    )
    assert pipe("run", "orders").code == ExitCode.OK
    drop(tmp_path, "b.csv", "".join(f"{i},c{i % 4},{i},paid,2026-11-23T10:00:00Z\n" for i in range(40, 60)))
    result = pipe("run", "orders", "--json")
    assert result.code == ExitCode.OK, result.stderr
    assert result.json()[1]["tables"][0]["mode"] == "overwrite"

    raw = table_of(bucket_url, "raw/shop/orders")
    fs, root = bucket_fs(bucket_url)
    con = duckdb.connect()
    if "://" in bucket_url:
        con.register_filesystem(fs)
    prefix = "s3://" if bucket_url.startswith("s3://") else ""
    files = [f"{prefix}{root}/{f['path']}" for p in raw["partitions"] for f in p["files"]]
    con.execute(f"CREATE VIEW raw_orders AS SELECT * FROM read_parquet({files}, hive_partitioning=true)")
    expected = sorted(con.execute(query.format("raw_orders")).fetchall())
    got = sorted(
        (r["customer"], r["orders"], r["total"], r["above_average"])
        for r in table_rows(bucket_url, "curated/sales/by_customer")
    )
    assert len(got) == 4 and [g[:3] for g in got] == [e[:3] for e in expected]
    assert [g[3] == pytest.approx(e[3]) for g, e in zip(got, expected)] == [True] * 4
    assert table_of(bucket_url, "curated/sales/by_customer")["row_count"] == 4


def test_dedupe_keeps_the_latest_row_per_key_across_three_runs(pipe, tmp_path, bucket_url):
    orders_project(
        tmp_path,
        {"tables": {"orders": {"steps": [{"dedupe": {"key": ["id"], "order_by": "ordered_at"}}]}}},
        bucket=bucket_url,
    )
    drop(
        tmp_path,
        "1.csv",
        "1,ann,10,new,2026-11-20T10:00:00Z\n2,bob,20,new,2026-11-20T10:00:00Z\n1,ann,11,paid,2026-11-20T11:00:00Z\n",
    )
    assert pipe("run", "orders").code == ExitCode.OK
    drop(tmp_path, "2.csv", "2,bob,21,paid,2026-11-21T10:00:00Z\n3,cy,30,new,2026-11-21T10:00:00Z\n")
    assert pipe("run", "orders").code == ExitCode.OK
    # a late, older version of order 3 and a new version of order 1
    drop(tmp_path, "3.csv", "3,cy,29,draft,2026-11-19T10:00:00Z\n1,ann,12,refunded,2026-11-22T10:00:00Z\n")
    result = pipe("run", "orders", "--json")
    assert result.code == ExitCode.OK, result.stderr
    assert result.json()[1]["tables"][0]["mode"] == "merge"
    rows = sorted((r["id"], r["amount"], r["status"]) for r in table_rows(bucket_url, "curated/sales/orders"))
    assert rows == [(1, 12, "refunded"), (2, 21, "paid"), (3, 30, "new")]
    assert table_of(bucket_url, "curated/sales/orders")["row_count"] == 3


def test_a_raw_table_rewritten_since_the_last_transform_rebuilds_the_curated_one(pipe, tmp_path):
    drop(tmp_path, "a.csv", "1,ann,10,paid,2026-11-20T10:00:00Z\n2,bob,20,paid,2026-11-20T10:00:00Z\n")
    orders_project(tmp_path, {"tables": {"orders": {"steps": [{"lower": ["customer"]}]}}}, mode="overwrite")
    assert pipe("run", "orders").code == ExitCode.OK
    drop(
        tmp_path,
        "a.csv",
        "1,ann,10,paid,2026-11-20T10:00:00Z\n2,bob,20,paid,2026-11-20T10:00:00Z\n3,CY,5,new,2026-11-20T10:00:00Z\n",
    )
    result = pipe("run", "orders", "--full", "--json")
    assert result.code == ExitCode.OK, result.stderr
    assert result.json()[1]["tables"][0]["mode"] == "overwrite"
    rows = sorted((r["id"], r["customer"]) for r in table_rows(str(tmp_path / "bucket"), "curated/sales/orders"))
    assert rows == [(1, "ann"), (2, "bob"), (3, "cy")]  # replaced, not appended to


def test_a_curated_partition_column_sets_dt(pipe, tmp_path):
    drop(tmp_path, "a.csv", "1,ann,10,paid,2026-11-20T23:30:00-02:00\n2,bob,20,paid,\n")
    orders_project(tmp_path, {"tables": {"orders": {"steps": [], "partition_by": {"column": "ordered_at"}}}})
    assert pipe("run", "orders").code == ExitCode.OK
    table = table_of(str(tmp_path / "bucket"), "curated/sales/orders")
    assert sorted(p["values"]["dt"] for p in table["partitions"]) == ["2026-11-21", "__HIVE_DEFAULT_PARTITION__"]


def test_a_step_that_cannot_run_is_named_and_nothing_is_published(pipe, tmp_path):
    drop(tmp_path, "a.csv", "1,ann,10,paid,2026-11-20T10:00:00Z\n")
    orders_project(tmp_path, {"tables": {"orders": {"steps": [{"lower": ["customer"]}, {"filter": "amout > 0"}]}}})
    result = pipe("run", "orders")
    assert result.code == ExitCode.DATA
    line = result.stderr.strip().splitlines()[-1]
    assert "curated/sales/orders" in line and "step 2 (filter amout > 0)" in line and "amout" in line
    assert "Traceback" not in result.stderr
    manifest = read_bucket_json(str(tmp_path / "bucket"), ".dataspoc/manifest.json")
    assert [t["location"] for t in manifest["tables"]] == ["raw/shop/orders"]  # the extract stands
    logs = pipe("logs", "orders", "--json").json()
    assert logs[0]["status"] == "failed" and "step 2" in logs[0]["error"]

    bad_cast = pipe("transform", "orders")
    assert bad_cast.code == ExitCode.DATA


def test_a_failing_cast_names_the_table_and_value(pipe, tmp_path):
    drop(tmp_path, "a.csv", "1,ann,ten,paid,2026-11-20T10:00:00Z\n")
    orders_project(tmp_path, {"tables": {"orders": {"steps": [{"cast": {"amount": "DOUBLE"}}]}}})
    result = pipe("run", "orders")
    assert result.code == ExitCode.DATA
    assert "curated/sales/orders" in result.stderr and "'ten'" in result.stderr


@pytest.mark.parametrize(
    "tables, says",
    [
        ({"orders": {"steps": [{"trim": ["a"], "lower": ["b"]}]}}, "exactly one of"),
        ({"orders": {"steps": [{"trim": ["a"]}], "sql": "SELECT 1"}}, "steps or sql, not both"),
        ({"orders": {"steps": [{"cast": {"a": "DOUBLE; DROP TABLE x"}}]}}, "cast"),
        ({"orders": {"steps": [{"dedupe": {"key": ["id"]}}], "mode": "append"}}, "mode merge"),
        ({"Orders": {"steps": []}}, "lowercase"),
    ],
)
def test_a_wrong_transform_block_is_a_usage_error_naming_the_field(pipe, tmp_path, tables, says):
    drop(tmp_path, "a.csv", "1,ann,10,paid,2026-11-20T10:00:00Z\n")
    orders_project(tmp_path, {"tables": tables})
    result = pipe("run", "orders")
    assert result.code == ExitCode.USAGE
    assert "pipelines.orders.transform.tables" in result.stderr and says in result.stderr
    assert not (tmp_path / "bucket" / "raw").exists()


def test_transform_of_a_pipeline_without_one_is_a_usage_error(pipe, tmp_path):
    drop(tmp_path, "a.csv", "1,ann,10,paid,2026-11-20T10:00:00Z\n")
    write_project(
        tmp_path, {"orders": {"source": {"kind": "csv", "path": "data/*.csv"}, "target": {"namespace": "shop"}}}
    )
    result = pipe("transform", "orders")
    assert result.code == ExitCode.USAGE and "declares no transform" in result.stderr


POINTS = ["after-data", "after-log", "after-state"]


@pytest.mark.parametrize("kind", ["overwrite", "merge"])
@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("command", ["run", "transform"])
def test_a_killed_transform_leaves_the_old_curated_table_or_the_new_one(pipe, tmp_path, kind, point, command):
    if kind == "overwrite":
        spec = {"sql": "SELECT id, max(amount) AS amount FROM source GROUP BY id"}
    else:
        spec = {"steps": [{"dedupe": {"key": ["id"], "order_by": "ordered_at"}}]}
    orders_project(tmp_path, {"tables": {"orders": spec}})
    drop(tmp_path, "1.csv", "1,ann,10,new,2026-11-20T10:00:00Z\n2,bob,20,new,2026-11-20T10:00:00Z\n")
    assert pipe("run", "orders").code == ExitCode.OK
    bucket = str(tmp_path / "bucket")

    def visible():
        return sorted((r["id"], r["amount"]) for r in table_rows(bucket, "curated/sales/orders"))

    before = visible()
    drop(tmp_path, "2.csv", "2,bob,25,paid,2026-11-21T10:00:00Z\n3,cy,30,new,2026-11-21T10:00:00Z\n")
    if command == "transform":
        assert pipe("run", "orders", env={"DATASPOC_FAILPOINT": "transform:after-data"}).code == -signal.SIGKILL
        assert visible() == before
        killed = pipe("transform", "orders", env={"DATASPOC_FAILPOINT": point})
    else:
        killed = pipe("run", "orders", env={"DATASPOC_FAILPOINT": f"transform:{point}"})
    assert killed.code == -signal.SIGKILL
    assert visible() == before  # readers see the curated table as it was

    again = pipe("run", "orders")
    assert again.code == ExitCode.OK, again.stderr
    expected = [(1, 10), (2, 25), (3, 30)]
    assert visible() == expected
    assert pipe("transform", "orders").code == ExitCode.OK
    assert pipe("run", "orders").code == ExitCode.OK
    assert visible() == expected  # and it stays converged
    assert table_of(bucket, "curated/sales/orders")["row_count"] == 3


@pytest.mark.parametrize("mode", ["overwrite", "overwrite_partitions"])
def test_steps_in_an_overwrite_mode_keep_the_rows_of_earlier_runs(pipe, tmp_path, mode):
    orders_project(tmp_path, {"tables": {"orders": {"steps": [{"lower": ["customer"]}], "mode": mode}}})
    drop(tmp_path, "1.csv", "1,ANN,10,paid,2026-11-20T10:00:00Z\n2,BOB,20,paid,2026-11-20T10:00:00Z\n")
    assert pipe("run", "orders").code == ExitCode.OK
    drop(tmp_path, "2.csv", "3,CY,30,paid,2026-11-21T10:00:00Z\n")
    assert pipe("run", "orders").code == ExitCode.OK
    rows = sorted((r["id"], r["customer"]) for r in table_rows(str(tmp_path / "bucket"), "curated/sales/orders"))
    assert rows == [(1, "ann"), (2, "bob"), (3, "cy")]


def test_a_raw_run_without_a_column_still_transforms(pipe, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "1.jsonl").write_text('{"id": 1, "email": "A@X.IO"}\n')
    write_project(
        tmp_path,
        {
            "users": {
                "source": {"kind": "jsonl", "path": "data/*.jsonl"},
                "target": {"namespace": "app"},
                "transform": {"domain": "crm", "tables": {"users": {"steps": [{"lower": ["email"]}]}}},
            }
        },
    )
    assert pipe("run", "users").code == ExitCode.OK
    (tmp_path / "data" / "2.jsonl").write_text('{"id": 2}\n')  # this run's files lack email
    result = pipe("run", "users")
    assert result.code == ExitCode.OK, result.stderr
    rows = sorted((r["id"], r["email"]) for r in table_rows(str(tmp_path / "bucket"), "curated/crm/users"))
    assert rows == [(1, "a@x.io"), (2, None)]

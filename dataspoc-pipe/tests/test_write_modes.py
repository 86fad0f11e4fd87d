"""Write modes and vacuum through the CLI, on a local folder and on S3 (moto)."""

from __future__ import annotations

import json
import sqlite3

from conftest import bucket_fs, read_bucket_json, schema_validator, table_rows, write_project
from dataspoc_pipe.errors import ExitCode


def snapshot_pipeline(tmp_path, rows: list[tuple[int, str]], bucket=None):
    """A SQLite table read whole each run (no cursor), into raw/app/items in overwrite mode."""
    db = sqlite3.connect(tmp_path / "app.db")
    db.execute("DROP TABLE IF EXISTS items")
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    db.executemany("INSERT INTO items VALUES (?, ?)", rows)
    db.commit()
    db.close()
    write_project(
        tmp_path,
        {
            "items": {
                "source": {"kind": "sqlite", "path": "app.db", "tables": ["items"]},
                "target": {"namespace": "app"},
                "mode": "overwrite",
            }
        },
        bucket=bucket,
    )


def table_of(bucket_url):
    [table] = read_bucket_json(bucket_url, ".dataspoc/manifest.json")["tables"]
    return table


def test_overwrite_replaces_the_table_and_vacuum_deletes_the_old_files_later(pipe, tmp_path, bucket_url):
    snapshot_pipeline(tmp_path, [(1, "a"), (2, "b"), (3, "c")], bucket=bucket_url)
    assert pipe("run", "items").code == ExitCode.OK
    first = table_of(bucket_url)
    [old_file] = [f["path"] for p in first["partitions"] for f in p["files"]]

    snapshot_pipeline(tmp_path, [(2, "b2"), (4, "d")], bucket=bucket_url)
    result = pipe("run", "items", "--json")
    assert result.code == ExitCode.OK, result.stderr
    assert result.json()[0]["tables"][0]["mode"] == "overwrite"
    table = table_of(bucket_url)
    assert table["row_count"] == 2 and table["file_count"] == 1
    assert sorted((r["id"], r["name"]) for r in table_rows(bucket_url, "raw/app/items")) == [(2, "b2"), (4, "d")]
    [replaced] = table["replaced"]
    assert replaced["path"] == old_file and replaced["rows"] == 3 and replaced["replaced_by"] == table["last_run_id"]
    assert list(schema_validator("manifest").iter_errors(read_bucket_json(bucket_url, ".dataspoc/manifest.json"))) == []
    fs, root = bucket_fs(bucket_url)
    assert fs.exists(f"{root}/{old_file}")  # a reader of the previous manifest still finds it

    dry = pipe("vacuum", "--retain", "0", "--dry-run", "--json")
    assert dry.code == ExitCode.OK and [f["path"] for f in dry.json()["files"]] == [old_file]
    assert fs.exists(f"{root}/{old_file}") and table_of(bucket_url)["replaced"]
    kept = pipe("vacuum", "--json")  # 7 days by default: too young
    assert kept.json()["files"] == [] and kept.json()["kept"] == 1
    done = pipe("vacuum", "--retain", "0s")
    assert done.code == ExitCode.OK and "deleted 1 replaced file" in done.stderr
    assert not fs.exists(f"{root}/{old_file}") and "replaced" not in table_of(bucket_url)
    assert sorted(r["id"] for r in table_rows(bucket_url, "raw/app/items")) == [2, 4]


def test_an_overwrite_cut_short_after_the_state_is_finished_once(pipe, tmp_path):
    bucket = tmp_path / "bucket"
    snapshot_pipeline(tmp_path, [(1, "a"), (2, "b")])
    assert pipe("run", "items").code == ExitCode.OK
    snapshot_pipeline(tmp_path, [(3, "c")])
    saved = (bucket / ".dataspoc" / "manifest.json").read_text()
    assert pipe("run", "items").code == ExitCode.OK
    (bucket / ".dataspoc" / "manifest.json").write_text(saved)  # as if it died before the manifest

    assert pipe("run", "items").code == ExitCode.OK  # recovers the overwrite, then reads the snapshot again
    table = table_of(str(bucket))
    assert sorted(r["id"] for r in table_rows(str(bucket), "raw/app/items")) == [3]
    assert len(table["replaced"]) == 2  # the first run's file, then the recovered run's


def test_a_bad_retention_is_a_usage_error(pipe, tmp_path):
    (tmp_path / "bucket").mkdir()
    result = pipe("vacuum", "--retain", "a week", "--bucket", str(tmp_path / "bucket"))
    assert result.code == ExitCode.USAGE and "7d, 12h, 30m" in result.stderr
    assert json.loads(pipe("vacuum", "--json", "--bucket", str(tmp_path / "bucket")).stdout)["files"] == []


def events_pipeline(tmp_path, records, bucket=None, mode="append", file="events-1.jsonl"):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    for old in data.glob("*.jsonl"):
        old.unlink()
    (data / file).write_text("".join(json.dumps(r) + "\n" for r in records))
    write_project(
        tmp_path,
        {
            "events": {
                "source": {"kind": "jsonl", "path": "data/*.jsonl", "columns": {"at": "timestamp[us, tz=UTC]"}},
                "target": {"namespace": "web"},
                "mode": mode,
                "partition_by": {"column": "at"},
            }
        },
        bucket=bucket,
    )


def partitions_of(bucket_url):
    table = table_of(bucket_url)
    return {p["values"]["dt"]: p["rows"] for p in table["partitions"]}


def test_dt_from_a_record_column_and_overwrite_of_those_partitions_only(pipe, tmp_path, bucket_url):
    events_pipeline(
        tmp_path,
        [
            {"id": 1, "at": "2026-11-20T23:30:00-03:00"},  # 02:30 UTC on the 21st
            {"id": 2, "at": "2026-11-21T10:00:00Z"},
            {"id": 3, "at": "2026-11-22T10:00:00Z"},
            {"id": 4, "at": None},
        ],
        bucket=bucket_url,
        mode="overwrite_partitions",
    )
    result = pipe("run", "events", "--json")
    assert result.code == ExitCode.OK, result.stderr
    assert partitions_of(bucket_url) == {"2026-11-21": 2, "2026-11-22": 1, "__HIVE_DEFAULT_PARTITION__": 1}

    # a later export of the 22nd only: that partition is replaced, the others stay
    events_pipeline(
        tmp_path,
        [{"id": 30, "at": "2026-11-22T11:00:00Z"}, {"id": 31, "at": "2026-11-22T12:00:00Z"}],
        bucket=bucket_url,
        mode="overwrite_partitions",
        file="events-2.jsonl",
    )
    assert pipe("run", "events").code == ExitCode.OK
    assert partitions_of(bucket_url) == {"2026-11-21": 2, "2026-11-22": 2, "__HIVE_DEFAULT_PARTITION__": 1}
    assert sorted(r["id"] for r in table_rows(bucket_url, "raw/web/events")) == [1, 2, 4, 30, 31]
    [replaced] = table_of(bucket_url)["replaced"]
    assert replaced["partition"] == {"dt": "2026-11-22"} and replaced["rows"] == 1


def test_a_partition_column_that_is_not_a_date_is_named(pipe, tmp_path):
    write_project(
        tmp_path,
        {
            "events": {
                "source": {"kind": "jsonl", "path": "data/*.jsonl"},
                "target": {"namespace": "web"},
                "partition_by": {"column": "at"},
            }
        },
    )
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").write_text('{"id": 1, "at": "2026-11-21"}\n')
    result = pipe("run", "events")
    assert (
        result.code == ExitCode.DATA
        and "partition column 'at' is string" in result.stderr
        and "source.columns" in result.stderr
    )


def test_merge_keeps_the_latest_row_per_key_across_three_runs(pipe, tmp_path, bucket_url):
    db = sqlite3.connect(tmp_path / "app.db")
    db.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, plan TEXT, updated_at INTEGER)")
    db.executemany("INSERT INTO accounts VALUES (?, ?, ?)", [(1, "free", 1), (2, "free", 2), (3, "pro", 3)])
    db.commit()
    write_project(
        tmp_path,
        {
            "accounts": {
                "source": {"kind": "sqlite", "path": "app.db", "cursor": "updated_at"},
                "target": {"namespace": "app"},
                "mode": "merge",
            }
        },
        bucket=bucket_url,
    )

    def current():
        return sorted((r["id"], r["plan"]) for r in table_rows(bucket_url, "raw/app/accounts"))

    assert pipe("run", "accounts").code == ExitCode.OK
    db.execute("UPDATE accounts SET plan = 'pro', updated_at = 4 WHERE id = 2")
    db.execute("INSERT INTO accounts VALUES (4, 'free', 5)")
    db.commit()
    second = pipe("run", "accounts", "--json")
    assert second.code == ExitCode.OK, second.stderr
    assert second.json()[0]["tables"][0]["mode"] == "merge"
    assert current() == [(1, "free"), (2, "pro"), (3, "pro"), (4, "free")]
    db.execute("UPDATE accounts SET plan = 'team', updated_at = 6 WHERE id IN (2, 3)")
    db.commit()
    assert pipe("run", "accounts").code == ExitCode.OK
    assert current() == [(1, "free"), (2, "team"), (3, "team"), (4, "free")]
    table = table_of(bucket_url)
    assert table["row_count"] == 4 and table["primary_key"] == ["id"] and len(table["replaced"]) >= 2
    assert pipe("run", "accounts", "--json").json()[0]["status"] == "no_new_data"


def test_merge_on_a_declared_key_with_an_ordering_column(pipe, tmp_path):
    (tmp_path / "data").mkdir()
    rows = [
        {"sku": "a", "price": 1, "seen": 2},
        {"sku": "a", "price": 9, "seen": 1},
        {"sku": None, "price": 5, "seen": 1},
    ]
    (tmp_path / "data" / "p1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_project(
        tmp_path,
        {
            "prices": {
                "source": {"kind": "jsonl", "path": "data/*.jsonl"},
                "target": {"namespace": "shop"},
                "mode": "merge",
                "merge": {"key": ["sku"], "order_by": "seen"},
            }
        },
    )
    assert pipe("run", "prices").code == ExitCode.OK
    got = sorted(((r["sku"] or ""), r["price"]) for r in table_rows(str(tmp_path / "bucket"), "raw/shop/prices"))
    assert got == [("", 5), ("a", 1)]  # the greatest `seen` wins; a NULL key is kept as it is

    write_project(
        tmp_path,
        {
            "prices": {
                "source": {"kind": "jsonl", "path": "data/*.jsonl"},
                "target": {"namespace": "shop"},
                "mode": "merge",
            }
        },
    )
    (tmp_path / "data" / "p2.jsonl").write_text('{"sku": "b", "price": 2, "seen": 3}\n')
    no_key = pipe("run", "prices")
    assert no_key.code == ExitCode.USAGE and "merge needs a key" in no_key.stderr


def test_schema_evolution_between_runs(pipe, tmp_path):
    from conftest import one_csv_pipeline

    one_csv_pipeline(tmp_path, {"a.csv": "id,amount\n1,10\n"})
    assert pipe("run", "orders").code == ExitCode.OK
    (tmp_path / "data" / "b.csv").write_text("id,amount,note\n2,10.5,x\n")  # widened and a new column
    assert pipe("run", "orders").code == ExitCode.OK
    table = table_of(str(tmp_path / "bucket"))
    assert [v["change"] for v in table["schema_history"]] == ["created", "changed"]
    assert {c["name"]: c["type"] for c in table["columns"]}["amount"] == "double"
    rows = sorted(table_rows(str(tmp_path / "bucket"), "raw/shop/orders"), key=lambda r: r["id"])
    assert rows == [{"id": 1, "amount": 10.0, "note": None}, {"id": 2, "amount": 10.5, "note": "x"}]

    (tmp_path / "data" / "c.csv").write_text("id,amount,note\n3,unknown,y\n")  # a number becoming text
    refused = pipe("run", "orders")
    assert refused.code == ExitCode.DATA
    assert "column 'amount' was double and is now string" in refused.stderr and "source.columns" in refused.stderr

    (tmp_path / "data" / "c.csv").unlink()
    (tmp_path / "data" / "d.csv").write_text("id,note\n4,z\n")  # columns may go missing: NULL in this file
    assert pipe("run", "orders").code == ExitCode.OK

    import yaml

    project = tmp_path / "dataspoc-pipe.yaml"
    document = yaml.safe_load(project.read_text())
    document["pipelines"]["orders"]["on_schema_change"] = "fail"
    project.write_text(yaml.safe_dump(document))
    (tmp_path / "data" / "e.csv").write_text("id,amount,note\n5,6,w\n")  # int64 where double: refused too
    strict = pipe("run", "orders")
    assert strict.code == ExitCode.DATA and "column 'amount' was double and is now int64" in strict.stderr


def test_overwrite_refuses_a_cursor_and_merge_handles_nulls_and_widening(pipe, tmp_path):
    db = sqlite3.connect(tmp_path / "app.db")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    db.commit()
    write_project(
        tmp_path,
        {
            "t": {
                "source": {"kind": "sqlite", "path": "app.db", "cursor": "id"},
                "target": {"namespace": "app"},
                "mode": "overwrite_partitions",
            }
        },
    )
    refused = pipe("run", "t")
    assert refused.code == ExitCode.USAGE and "reads only new rows" in refused.stderr

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "p1.jsonl").write_text('{"sku": "a", "price": 1, "seen": 5}\n')
    (tmp_path / "data" / "p2.jsonl").write_text(
        '{"sku": "a", "price": 2.5, "seen": null}\n{"sku": "b", "price": 3.5, "seen": 1}\n'
    )
    write_project(
        tmp_path,
        {
            "prices": {
                "source": {"kind": "jsonl", "path": "data/*.jsonl"},
                "target": {"namespace": "shop"},
                "mode": "merge",
                "merge": {"key": ["sku"], "order_by": "seen"},
            }
        },
    )
    result = pipe("run", "prices")
    assert result.code == ExitCode.OK, result.stderr  # int then double prices: widened, not a crash
    got = sorted((r["sku"], r["price"]) for r in table_rows(str(tmp_path / "bucket"), "raw/shop/prices"))
    assert got == [("a", 1.0), ("b", 3.5)]  # a NULL `seen` never wins


def test_a_column_that_is_null_in_a_whole_run_is_no_type_change(pipe, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").write_text('{"id": 1, "coupon": "X"}\n')
    write_project(
        tmp_path,
        {
            "o": {
                "source": {"kind": "jsonl", "path": "data/*.jsonl"},
                "target": {"namespace": "shop"},
                "on_schema_change": "fail",
            }
        },
    )
    assert pipe("run", "o").code == ExitCode.OK
    (tmp_path / "data" / "b.jsonl").write_text('{"id": 2, "coupon": null}\n')
    assert pipe("run", "o").code == ExitCode.OK


def test_new_table_puts_an_incompatible_change_in_a_new_version_where_later_runs_go_on(pipe, tmp_path, bucket_url):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "1.csv").write_text("id,amount\n1,10\n2,20\n")
    write_project(
        tmp_path,
        {
            "orders": {
                "source": {"kind": "csv", "path": "data/*.csv"},
                "target": {"namespace": "shop"},
                "on_schema_change": "new_table",
            }
        },
        bucket=bucket_url,
    )
    assert pipe("run", "orders").code == ExitCode.OK
    (tmp_path / "data" / "2.csv").write_text("id,amount\n3,ten\n")  # amount becomes text
    second = pipe("run", "orders", "--json")
    assert second.code == ExitCode.OK, second.stderr
    assert second.json()[0]["tables"][0]["location"] == "raw/shop/orders_v2"
    (tmp_path / "data" / "3.csv").write_text("id,amount\n4,eleven\n")
    assert pipe("run", "orders").code == ExitCode.OK
    assert sorted(r["id"] for r in table_rows(bucket_url, "raw/shop/orders")) == [1, 2]  # as it was
    assert sorted((r["id"], r["amount"]) for r in table_rows(bucket_url, "raw/shop/orders_v2")) == [
        (3, "ten"),
        (4, "eleven"),
    ]
    state = read_bucket_json(bucket_url, ".dataspoc/state/orders/state.json")
    assert sorted(state["bookmarks"]["streams"]) == ["orders"]  # one stream, its bookmark moved on
    again = pipe("run", "orders")
    assert again.code == ExitCode.OK and "no new data" in again.stderr


def test_an_incompatible_change_stops_the_run_by_default(pipe, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "1.csv").write_text("id,amount\n1,10\n")
    write_project(
        tmp_path, {"orders": {"source": {"kind": "csv", "path": "data/*.csv"}, "target": {"namespace": "shop"}}}
    )
    assert pipe("run", "orders").code == ExitCode.OK
    (tmp_path / "data" / "2.csv").write_text("id,amount\n3,ten\n")
    result = pipe("run", "orders")
    assert result.code == ExitCode.DATA
    assert "raw/shop/orders: column 'amount' was int64 and is now string" in result.stderr


def test_a_column_declared_string_may_become_text(pipe, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "1.csv").write_text("id,code\n1,10\n")
    pipeline = {"source": {"kind": "csv", "path": "data/*.csv"}, "target": {"namespace": "shop"}}
    write_project(tmp_path, {"orders": pipeline})
    assert pipe("run", "orders").code == ExitCode.OK
    (tmp_path / "data" / "2.csv").write_text("id,code\n2,A7\n")
    pipeline["source"]["columns"] = {"code": "string"}
    write_project(tmp_path, {"orders": pipeline})
    result = pipe("run", "orders")
    assert result.code == ExitCode.OK, result.stderr
    [table] = read_bucket_json(str(tmp_path / "bucket"), ".dataspoc/manifest.json")["tables"]
    assert {c["name"]: c["type"] for c in table["columns"]}["code"] == "string"
    import duckdb

    files = [str(tmp_path / "bucket" / f["path"]) for p in table["partitions"] for f in p["files"]]
    assert sorted(duckdb.sql(f"SELECT code FROM read_parquet({files}, union_by_name=true)").fetchall()) == [
        ("10",),
        ("A7",),
    ]

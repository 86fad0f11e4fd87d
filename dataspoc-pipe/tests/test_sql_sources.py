"""PostgreSQL (a real server) and SQLite sources through the CLI."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

import pytest

from conftest import read_bucket_json, table_rows, write_project
from dataspoc_pipe.errors import ExitCode


def pipeline(tmp_path, source: dict, namespace="shop", **target):
    write_project(tmp_path, {"shop_db": {"source": source, "target": {"namespace": namespace, **target}}})


def run(pipe, *args, env=None):
    result = pipe("run", "shop_db", "--json", *args, env=env)
    assert result.code == ExitCode.OK, result.stderr
    return result.json()[0]


def rows(tmp_path, table):
    return sorted(table_rows(str(tmp_path / "bucket"), f"raw/shop/{table}"), key=lambda r: r["id"])


def test_postgres_types_are_exact(pipe, tmp_path, postgres_db):
    url, db = postgres_db
    db.execute(
        """CREATE TABLE "Orders" (id bigint PRIMARY KEY, amount numeric(12,2), ratio numeric, at timestamptz,
        local_at timestamp, day date, payload jsonb, tags text[], blob bytea, paid boolean, ref uuid,
        wait interval, score real)"""
    )
    db.execute(
        """INSERT INTO "Orders" VALUES (1, 12.50, 3.14159265358979323846, '2026-11-22 03:00:00+01',
        '2026-11-22 03:00:00', '2026-11-22', '{"a": [1, 2]}', '{x,y}', '\\x0102', true,
        'a18ccb83-a72f-47b9-ba12-47e8320b7e74', '1 day 2 hours', 1.5), (2, NULL, NULL, NULL, NULL, NULL, NULL,
        NULL, NULL, NULL, NULL, NULL, NULL)"""
    )
    pipeline(tmp_path, {"kind": "postgres", "url": url})
    assert run(pipe)["rows_written"] == 2
    first, second = rows(tmp_path, "orders")
    assert first["amount"] == Decimal("12.50") and first["ratio"] == "3.14159265358979323846"
    assert first["at"].isoformat() == "2026-11-22T02:00:00+00:00"
    assert first["local_at"].isoformat() == "2026-11-22T03:00:00"
    assert json.loads(first["payload"]) == {"a": [1, 2]} and first["tags"] == ["x", "y"]
    assert first["blob"] == b"\x01\x02" and first["paid"] is True
    assert first["ref"] == "a18ccb83-a72f-47b9-ba12-47e8320b7e74" and first["wait"] == "1 day 02:00:00"
    assert second == {k: (2 if k == "id" else None) for k in first}
    [table] = read_bucket_json(str(tmp_path / "bucket"), ".dataspoc/manifest.json")["tables"]
    assert table["location"] == "raw/shop/orders" and table["primary_key"] == ["id"]
    types = {c["name"]: c["type"] for c in table["columns"]}
    assert types["amount"] == "decimal128(12, 2)" and types["at"] == "timestamp[us, tz=UTC]"
    assert types["tags"] == "list<item: string>"


def test_postgres_incremental_by_cursor_many_tables(pipe, tmp_path, postgres_db):
    url, db = postgres_db
    db.execute("CREATE TABLE customers (id int PRIMARY KEY, name text, updated_at timestamptz)")
    db.execute("CREATE TABLE orders (id int PRIMARY KEY, customer_id int, updated_at timestamptz)")
    db.execute("CREATE TABLE audit (id int)")  # not selected
    db.execute("INSERT INTO customers VALUES (1, 'ann', '2026-11-20 10:00Z'), (2, 'bob', '2026-11-21 10:00Z')")
    db.execute(
        "INSERT INTO orders SELECT g, g % 2 + 1, '2026-11-20 00:00Z'::timestamptz + g * interval '1 minute' FROM generate_series(1, 1000) g"
    )
    pipeline(tmp_path, {"kind": "postgres", "url": url, "tables": ["customers", "orders"], "cursor": "updated_at"})

    plan = pipe("run", "shop_db", "--dry-run", "--json").json()[0]
    assert [s["table"] for s in plan["streams"]] == ["raw/shop/customers", "raw/shop/orders"]
    first = run(pipe)
    assert first["rows_written"] == 1002 and len(first["tables"]) == 2
    assert run(pipe)["status"] == "no_new_data"

    db.execute("INSERT INTO customers VALUES (3, 'cid', '2026-11-22 10:00Z')")
    db.execute("UPDATE customers SET name = 'ann b', updated_at = '2026-11-23 10:00Z' WHERE id = 1")
    again = run(pipe)
    assert again["rows_written"] == 2 and [t["location"] for t in again["tables"]] == ["raw/shop/customers"]
    assert [r["name"] for r in rows(tmp_path, "customers")] == ["ann", "ann b", "bob", "cid"]
    state = pipe("state", "show", "shop_db").json()["streams"]
    assert state["customers"]["cursor"] == {"column": "updated_at", "value": "2026-11-23T10:00:00+00:00"}
    assert state["orders"]["cursor"]["value"] == "2026-11-20T16:40:00+00:00"

    assert pipe("state", "set", "shop_db", "--stream", "orders", "--cursor", "2026-11-20T16:30:00+00:00").code == 0
    assert run(pipe)["rows_written"] == 10
    assert run(pipe, "--full")["rows_written"] == 3 + 1000


def test_postgres_query_and_password_from_the_environment(pipe, tmp_path, postgres_db):
    url, db = postgres_db
    secret = "pw-Quiet-77"
    db.execute(f"CREATE ROLE app LOGIN PASSWORD '{secret}'")
    db.execute("CREATE TABLE sales (id int, amount int)")
    db.execute("INSERT INTO sales VALUES (1, 10), (2, 20), (3, 30)")
    db.execute("GRANT SELECT ON sales TO app")
    app_url = url.replace("postgres@", "app:${APP_PASSWORD}@")
    pipeline(
        tmp_path,
        {"kind": "postgres", "url": app_url, "query": "SELECT id, amount * 2 AS doubled FROM sales WHERE id > 1"},
        table="big_sales",
    )

    wrong = pipe("run", "shop_db", env={"APP_PASSWORD": "nope-wrong"})
    assert wrong.code == ExitCode.USAGE and "cannot log in" in wrong.stderr and "nope-wrong" not in wrong.stderr
    assert run(pipe, env={"APP_PASSWORD": secret})["rows_written"] == 2
    assert [r["doubled"] for r in rows(tmp_path, "big_sales")] == [40, 60]
    bucket_text = "".join(p.read_text() for p in (tmp_path / "bucket" / ".dataspoc").rglob("*.json"))
    assert secret not in bucket_text and secret not in (tmp_path / "dataspoc-pipe.yaml").read_text()


def test_a_table_the_user_may_not_read(pipe, tmp_path, postgres_db):
    url, db = postgres_db
    db.execute("CREATE ROLE reader LOGIN PASSWORD 'r'")
    db.execute("CREATE TABLE open_t (id int)")
    db.execute("CREATE TABLE secret_t (id int)")
    db.execute("INSERT INTO open_t VALUES (1)")
    db.execute("GRANT SELECT ON open_t TO reader")
    pipeline(tmp_path, {"kind": "postgres", "url": url.replace("postgres@", "reader:r@")})  # every table
    result = pipe("run", "shop_db")
    assert result.code == ExitCode.DATA
    assert "secret_t" in result.stderr and "permission denied" in result.stderr
    assert not list((tmp_path / "bucket").rglob("*.parquet"))  # open_t was read, but nothing is published


def test_postgres_unreachable_and_unknown_table(pipe, tmp_path, closed_port, postgres_db):
    pipeline(tmp_path, {"kind": "postgres", "url": f"postgresql://postgres@127.0.0.1:{closed_port}/x"})
    down = pipe("run", "shop_db")
    assert down.code == ExitCode.STORAGE and "cannot connect" in down.stderr
    url, _ = postgres_db
    pipeline(tmp_path, {"kind": "postgres", "url": url, "tables": ["ghost"]})
    missing = pipe("run", "shop_db")
    assert missing.code == ExitCode.DATA and "no table ghost" in missing.stderr


def test_sqlite_tables_cursor_and_mixed_types(pipe, tmp_path):
    db = sqlite3.connect(tmp_path / "shop.db")
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL, code)")
    db.executemany("INSERT INTO items VALUES (?, ?, ?, ?)", [(i, f"n{i}", i * 1.5, i) for i in range(1, 2001)])
    db.execute("UPDATE items SET code = 'A-7' WHERE id = 1500")  # text where integers were
    db.commit()
    pipeline(tmp_path, {"kind": "sqlite", "path": "shop.db", "cursor": "id"})
    mixed = pipe("run", "shop_db")
    assert mixed.code == ExitCode.DATA and "items" in mixed.stderr and "source.columns" in mixed.stderr

    pipeline(tmp_path, {"kind": "sqlite", "path": "shop.db", "cursor": "id", "columns": {"items.code": "string"}})
    assert run(pipe)["rows_written"] == 2000
    [table] = read_bucket_json(str(tmp_path / "bucket"), ".dataspoc/manifest.json")["tables"]
    assert table["primary_key"] == ["id"]
    assert rows(tmp_path, "items")[1499]["code"] == "A-7"
    db.execute("INSERT INTO items VALUES (2001, 'late', 1.0, '9')")
    db.commit()
    assert run(pipe)["rows_written"] == 1
    assert run(pipe)["status"] == "no_new_data"


@pytest.mark.parametrize("bad", [{"tables": ["a"], "query": "SELECT 1"}, {"cursor": {"a": "id"}, "query": "SELECT 1"}])
def test_sql_config_is_checked(pipe, tmp_path, bad):
    pipeline(tmp_path, {"kind": "sqlite", "path": "shop.db", **bad})
    result = pipe("run", "shop_db")
    assert result.code == ExitCode.USAGE


def test_backfill_reads_a_range_and_leaves_the_bookmark(pipe, tmp_path, postgres_db):
    url, db = postgres_db
    db.execute("CREATE TABLE orders (id int PRIMARY KEY, updated_at timestamptz)")
    db.execute(
        "INSERT INTO orders SELECT g, '2026-11-01 00:00Z'::timestamptz + g * interval '1 day' FROM generate_series(1, 20) g"
    )
    pipeline(tmp_path, {"kind": "postgres", "url": url, "cursor": "updated_at"})
    assert run(pipe)["rows_written"] == 20
    before = pipe("state", "show", "shop_db").json()

    result = pipe("backfill", "shop_db", "--from", "2026-11-05T00:00:00Z", "--to", "2026-11-07T00:00:00Z", "--json")
    assert result.code == ExitCode.OK, result.stderr
    assert result.json()[0]["rows_written"] == 3
    assert pipe("state", "show", "shop_db").json() == before
    assert run(pipe)["status"] == "no_new_data"
    assert len(rows(tmp_path, "orders")) == 23

    no_stream = pipe("backfill", "shop_db", "--from", "1", "--to", "2", "--stream", "nope")
    assert no_stream.code == ExitCode.USAGE and "nope" in no_stream.stderr


def test_postgres_reads_one_read_only_snapshot_and_orders_numeric_cursors_as_numbers(pipe, tmp_path, postgres_db):
    url, db = postgres_db
    query = "SELECT 1 AS id, current_setting('transaction_isolation') AS iso, current_setting('transaction_read_only') AS ro"
    pipeline(tmp_path, {"kind": "postgres", "url": url, "query": query}, table="settings")
    assert run(pipe)["rows_written"] == 1
    [row] = table_rows(str(tmp_path / "bucket"), "raw/shop/settings")
    assert (row["iso"], row["ro"]) == ("repeatable read", "on")

    db.execute("CREATE TABLE ledger (id numeric, note text)")  # unconstrained numeric: read as text
    db.execute("INSERT INTO ledger SELECT g, 'n' || g FROM generate_series(1, 100) g")
    pipeline(tmp_path, {"kind": "postgres", "url": url, "tables": ["ledger"], "cursor": "id"})
    assert run(pipe)["rows_written"] == 100
    assert pipe("state", "show", "shop_db").json()["streams"]["ledger"]["cursor"]["value"] == "100"
    assert run(pipe)["status"] == "no_new_data"


def test_a_run_of_several_tables_says_one_line_per_table(pipe, tmp_path):
    db = sqlite3.connect(tmp_path / "shop.db")
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
    db.executemany("INSERT INTO items VALUES (?, ?)", [(1, "a"), (2, "b")])
    db.execute("INSERT INTO users VALUES (1, 'x@y.z')")
    db.commit()
    pipeline(tmp_path, {"kind": "sqlite", "path": "shop.db"})
    result = pipe("run", "shop_db")
    assert result.code == ExitCode.OK, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("shop_db: 3 rows -> 2 tables (2 files, ")
    assert lines[1].startswith("  raw/shop/items: 2 rows (1 file, ") and lines[2].startswith("  raw/shop/users: 1 rows")

"""Singer taps through the CLI: a fixture tap for every protocol case, then real taps from PyPI."""

from __future__ import annotations

import json

import pytest

from conftest import bucket_untouched, read_bucket_json, table_rows, tap_from_pypi, write_project
from dataspoc_pipe.errors import ExitCode

SECRET = "tap-Token-31337"


def pipeline(tmp_path, source: dict, name="crm", bucket=None):
    write_project(tmp_path, {name: {"source": {"kind": "singer", **source}, "target": {"namespace": "crm"}}}, bucket)


def run(pipe, *args, env=None, name="crm"):
    result = pipe("run", name, "--json", *args, env=env)
    assert result.code == ExitCode.OK, result.stderr
    return result.json()[0]


def test_streams_types_state_and_a_secret_config(pipe, tmp_path, fixture_tap, bucket_url):
    pipeline(tmp_path, {"tap": str(fixture_tap), "config": {"token": "${CRM_TOKEN}"}}, bucket=bucket_url)
    env = {"CRM_TOKEN": SECRET, "FIXTURE_EXPECT_TOKEN": SECRET}
    first = run(pipe, env=env)
    assert first["rows_written"] == 5 + 2
    orders = sorted(table_rows(bucket_url, "raw/crm/public_orders"), key=lambda r: r["id"])
    assert orders[0] == {"id": 1, "at": orders[0]["at"], "amount": 1.5, "note": "n1"}  # "note" is not in the schema
    assert orders[0]["at"].isoformat() == "2026-11-22T02:00:00.250000+00:00"
    manifest = read_bucket_json(bucket_url, ".dataspoc/manifest.json")
    tables = {t["location"]: t for t in manifest["tables"]}
    assert set(tables) == {"raw/crm/customers", "raw/crm/public_orders"}
    assert tables["raw/crm/public_orders"]["primary_key"] == ["id"]
    assert {c["name"]: c["type"] for c in tables["raw/crm/public_orders"]["columns"]}["at"] == "timestamp[us, tz=UTC]"

    # the tap's STATE is passed back: the next run starts after order 5
    second = run(pipe, env=env)
    assert sorted(r["id"] for r in table_rows(bucket_url, "raw/crm/public_orders")) == list(range(1, 11))
    assert second["rows_written"] == 5 + 3
    assert pipe("state", "show", "crm").json()["tap_state"] == {"bookmarks": {"public-orders": 10}}

    wrong = pipe("run", "crm", env={"CRM_TOKEN": "other-token", "FIXTURE_EXPECT_TOKEN": SECRET})
    assert wrong.code == ExitCode.DATA and "bad token" in wrong.stderr
    assert "other-token" not in wrong.stderr
    if not bucket_url.startswith("s3://"):
        text = "".join(p.read_text() for p in (tmp_path / "bucket" / ".dataspoc").rglob("*.json"))
        assert SECRET not in text


def test_stream_selection_goes_through_the_catalog(pipe, tmp_path, fixture_tap):
    pipeline(tmp_path, {"tap": str(fixture_tap), "streams": ["public-orders"]})
    plan = pipe("run", "crm", "--dry-run", "--json").json()[0]
    assert [s["table"] for s in plan["streams"]] == ["raw/crm/public_orders"]
    assert run(pipe)["rows_written"] == 5
    tables = [t["location"] for t in read_bucket_json(str(tmp_path / "bucket"), ".dataspoc/manifest.json")["tables"]]
    assert tables == ["raw/crm/public_orders"]

    pipeline(tmp_path, {"tap": str(fixture_tap), "streams": ["invoices"]})
    unknown = pipe("run", "crm")
    assert unknown.code == ExitCode.USAGE and "no stream 'invoices'" in unknown.stderr and "customers" in unknown.stderr


def test_a_tap_that_logs_megabytes_does_not_hang(pipe, tmp_path, fixture_tap):
    pipeline(tmp_path, {"tap": str(fixture_tap), "discover": False})
    result = pipe("run", "crm", "--json", env={"FIXTURE_STDERR_MB": "8", "FIXTURE_ORDERS": "20000"}, timeout=120)
    assert result.code == ExitCode.OK, result.stderr[-500:]
    assert result.json()[0]["rows_written"] == 20000 + 10000


@pytest.mark.parametrize(
    ("mode", "code", "fragments"),
    [
        ("die", ExitCode.DATA, ["exited with 3", "nothing was published", "database went away"]),
        ("record-first", ExitCode.DATA, ["output line 1", "stream 'customers' before its SCHEMA"]),
        ("cut", ExitCode.DATA, ["cut short"]),
        ("garbage", ExitCode.DATA, ["not a Singer message", "Connecting to the database", "stderr"]),
    ],
)
def test_a_failing_tap_publishes_nothing_and_keeps_the_state(pipe, tmp_path, fixture_tap, mode, code, fragments):
    pipeline(tmp_path, {"tap": str(fixture_tap), "discover": False})
    assert run(pipe)["rows_written"] == 7
    state_before = (tmp_path / "bucket" / ".dataspoc" / "state" / "crm" / "state.json").read_text()
    files_before = sorted(p.name for p in (tmp_path / "bucket").rglob("*.parquet"))

    result = pipe("run", "crm", env={"FIXTURE_MODE": mode})
    assert result.code == code, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "bucket" / ".dataspoc" / "state" / "crm" / "state.json").read_text() == state_before
    assert sorted(p.name for p in (tmp_path / "bucket").rglob("*.parquet")) == files_before


def test_a_missing_tap_is_a_usage_error(pipe, tmp_path):
    pipeline(tmp_path, {"tap": "tap-that-is-not-installed"})
    result = pipe("run", "crm")
    assert result.code == ExitCode.USAGE and "not on PATH" in result.stderr and bucket_untouched(tmp_path)


def test_tap_jsonl_from_pypi(pipe, tmp_path):
    tap = tap_from_pypi("tap-jsonl", "tap-jsonl")
    data = tmp_path / "events.jsonl"
    data.write_text(
        "".join(json.dumps({"id": i, "at": f"2026-11-22T03:00:0{i}Z", "tags": ["a"]}) + "\n" for i in range(5))
    )
    pipeline(tmp_path, {"tap": str(tap), "config": {"path": str(data), "stream_name": "events"}})
    assert run(pipe)["rows_written"] == 5
    rows = sorted(table_rows(str(tmp_path / "bucket"), "raw/crm/events"), key=lambda r: r["id"])
    assert rows[4]["at"].isoformat() == "2026-11-22T03:00:04+00:00" and rows[0]["tags"] == ["a"]
    assert pipe("state", "show", "crm").json()["tap_state"]["bookmarks"]["events"]


def test_pipelinewise_tap_postgres_from_pypi(pipe, tmp_path, postgres_db):
    tap = tap_from_pypi("pipelinewise-tap-postgres", "tap-postgres")
    url, db = postgres_db
    db.execute("CREATE TABLE orders (id int PRIMARY KEY, amount numeric(10,2), updated_at timestamptz)")
    db.execute(
        "INSERT INTO orders SELECT g, g * 1.25, '2026-11-20 00:00Z'::timestamptz + g * interval '1 hour' FROM generate_series(1, 50) g"
    )
    host_port, dbname = url.split("@", 1)[1].split("/")
    host, port = host_port.split(":")
    config = {
        "host": host,
        "port": int(port),
        "user": "postgres",
        "password": "",
        "dbname": dbname,
        "filter_schemas": "public",
    }
    pipeline(
        tmp_path,
        {
            "tap": str(tap),
            "config": config,
            "streams": ["public-orders"],
            "replication": {"public-orders": {"method": "INCREMENTAL", "key": "updated_at"}},
        },
    )
    assert run(pipe)["rows_written"] == 50
    db.execute("INSERT INTO orders VALUES (51, 1.00, '2026-12-01 00:00Z')")
    again = run(pipe)
    assert again["rows_written"] >= 1  # the tap re-reads the bookmark's own row (>=), then the new one
    ids = [r["id"] for r in table_rows(str(tmp_path / "bucket"), "raw/crm/public_orders")]
    assert set(ids) == set(range(1, 52))
    [table] = read_bucket_json(str(tmp_path / "bucket"), ".dataspoc/manifest.json")["tables"]
    assert table["primary_key"] == ["id"]


def test_backfill_sets_the_start_date_and_keeps_the_tap_state(pipe, tmp_path, fixture_tap):
    pipeline(tmp_path, {"tap": str(fixture_tap), "discover": False, "config": {"token": "x"}})
    assert run(pipe)["rows_written"] == 7
    before = pipe("state", "show", "crm").json()
    result = pipe("backfill", "crm", "--from", "2026-01-01", "--to", "2026-02-01", "--json")
    assert result.code == ExitCode.OK, result.stderr
    assert pipe("state", "show", "crm").json() == before
    orders = table_rows(str(tmp_path / "bucket"), "raw/crm/public_orders")
    backfilled = sorted(r["id"] for r in orders if r["note"] == "2026-01-01")
    assert backfilled == [1, 2, 3, 4, 5]  # from the start date, not from the saved state
    assert run(pipe)["rows_written"] == 5 + 3  # the live run goes on after order 5


def test_keys_in_any_order_and_a_last_line_without_newline(pipe, tmp_path, fixture_tap):
    pipeline(tmp_path, {"tap": str(fixture_tap), "discover": False})
    result = pipe("run", "crm", "--json", env={"FIXTURE_MODE": "sorted-keys"})
    assert result.code == ExitCode.OK, result.stderr
    orders = table_rows(str(tmp_path / "bucket"), "raw/crm/public_orders")
    assert [r for r in orders if r["id"] == 99] == [
        {"id": 99, "at": None, "amount": None, "note": None, "stream": "customers", "type": "STATE"}
    ]
    assert all(r["id"] != 99 for r in table_rows(str(tmp_path / "bucket"), "raw/crm/customers"))

    again = pipe("run", "crm", "--json", env={"FIXTURE_MODE": "no-final-newline"})
    assert again.code == ExitCode.OK, again.stderr
    assert pipe("state", "show", "crm").json()["tap_state"] == {"bookmarks": {"public-orders": 10}}


def test_a_tap_that_hangs_is_stopped_after_its_timeout(pipe, tmp_path, fixture_tap):
    pipeline(tmp_path, {"tap": str(fixture_tap), "discover": False, "timeout": 2})
    result = pipe("run", "crm", env={"FIXTURE_MODE": "hang"}, timeout=60)
    assert result.code == ExitCode.STORAGE and "longer than source.timeout (2 s)" in result.stderr
    assert bucket_untouched(tmp_path)

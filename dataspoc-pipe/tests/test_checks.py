"""Quality checks through the CLI: every kind, severities, the score, on_check_failure fail and
quarantine (local and S3), and `check` on what is published."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from conftest import bucket_fs, read_bucket_json, schema_validator, table_rows, write_project
from dataspoc_pipe.errors import ExitCode

HEADER = "id,email,status,amount,customer_id,ordered_at\n"
NOW = datetime.now(timezone.utc)


def stamp(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


ROWS = (
    f"1,a@x.io,paid,10,100,{stamp(50)}\n"
    f"2,b@x.io,new,20,101,{stamp(40)}\n"
    f"2,not-an-email,paid,-5,999,{stamp(30)}\n"
    f",c@x.io,lost,700,,{stamp(30)}\n"
)


def project(tmp_path, checks: list, bucket=None, policy: str | None = None, customers: bool = True):
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "orders.csv").write_text(HEADER + ROWS)
    (tmp_path / "crm").mkdir(exist_ok=True)
    (tmp_path / "crm" / "customers.csv").write_text("id,name\n100,ann\n101,bob\n")
    pipelines = {
        "orders": {
            "source": {"kind": "csv", "path": "data/*.csv"},
            "target": {"namespace": "shop"},
            "checks": {"orders": checks},
            **({"on_check_failure": policy} if policy else {}),
        }
    }
    if customers:
        pipelines["customers"] = {"source": {"kind": "csv", "path": "crm/*.csv"}, "target": {"namespace": "shop"}}
    write_project(tmp_path, pipelines, bucket=bucket)


EVERY_KIND = [
    {"check": "not_null", "columns": ["id"], "severity": "warn"},
    {"check": "unique", "columns": ["id"], "severity": "warn"},
    {"check": "unique", "columns": ["id", "status"], "severity": "warn"},
    {"check": "accepted_values", "column": "status", "values": ["paid", "new"], "severity": "warn"},
    {"check": "range", "column": "amount", "min": 0, "max": 500, "severity": "warn"},
    {"check": "regex", "column": "email", "pattern": "[^@]+@[^@]+", "severity": "warn"},
    {"check": "relationships", "column": "customer_id", "to": "raw/shop/customers", "field": "id", "severity": "warn"},
    {"check": "row_count", "min": 1, "max": 3, "severity": "warn"},
    {"check": "freshness", "column": "ordered_at", "max_age": "24h", "severity": "warn"},
    {"check": "freshness", "column": "ordered_at", "max_age": "2d", "name": "fresh_enough", "severity": "warn"},
    {"check": "sql", "name": "big_orders", "sql": "SELECT * FROM {table} WHERE amount > 100", "severity": "warn"},
]


def test_every_check_kind_counts_what_it_should(pipe, tmp_path, bucket_url):
    project(tmp_path, EVERY_KIND, bucket=bucket_url)
    assert pipe("run", "customers").code == ExitCode.OK
    result = pipe("run", "orders", "--json")
    assert result.code == ExitCode.OK, result.stderr  # warnings only
    [log] = result.json()
    found = {r["name"]: (r["status"], r.get("failing_rows"), r.get("observed")) for r in log["checks"]}
    assert found["not_null(id)"] == ("fail", 1, None)
    assert found["unique(id)"] == ("fail", 2, None)  # both rows with id 2; the NULL id is not compared
    assert found["unique(id, status)"] == ("pass", 0, None)
    assert found["accepted_values(status)"] == ("fail", 1, None)
    assert found["range(amount)"] == ("fail", 2, None)
    assert found["regex(email)"] == ("fail", 1, None)
    assert found["relationships(customer_id -> raw/shop/customers.id)"] == ("fail", 1, None)
    assert found["row_count"] == ("fail", None, 4.0)
    status, _, age = found["freshness(ordered_at)"]
    assert status == "fail" and 30 * 3600 - 120 < age < 30 * 3600 + 600
    assert found["fresh_enough"][0] == "pass"
    assert found["big_orders"] == ("fail", 1, None)
    logged = read_bucket_json(bucket_url, f".dataspoc/logs/orders/{log['run_id']}.json")
    assert list(schema_validator("run-log").iter_errors(logged)) == []
    # warnings are said, and the table is published whole
    assert "warn raw/shop/orders unique(id): 2 of 4 rows fail" in result.stderr
    assert len(table_rows(bucket_url, "raw/shop/orders")) == 4


def read_log(tmp_path, run_id):
    return read_bucket_json(str(tmp_path / "bucket"), f".dataspoc/logs/orders/{run_id}.json")


def test_the_score_follows_the_documented_formula(pipe, tmp_path):
    checks = [
        {"check": "not_null", "columns": ["id"]},  # error: weight 3
        {"check": "accepted_values", "column": "status", "values": ["paid", "new"], "severity": "warn"},  # 1
        {"check": "row_count", "max": 2, "severity": "warn"},  # 1
        {"check": "row_count", "min": 1, "name": "not_empty"},  # 3
    ]
    project(tmp_path, checks, policy="quarantine", customers=False)
    result = pipe("run", "orders")
    assert result.code == ExitCode.DATA  # an error check failed: its row was quarantined
    quality = read_bucket_json(str(tmp_path / "bucket"), ".dataspoc/manifest.json")["tables"][0]["quality"]
    # the run checked 4 rows: not_null and accepted_values pass 3 of 4 (the same row), row_count fails
    assert quality["score"] == round(100 * (3 * 0.75 + 1 * 0.75 + 1 * 0 + 3 * 1) / 8, 1) == 75.0
    assert (quality["checks"], quality["failed"], quality["errors"], quality["warnings"]) == (4, 3, 1, 2)

    check = pipe("check", "orders", "--json")
    assert check.code == ExitCode.OK, check.stderr  # on the 3 published rows only a warning fails
    quality = read_bucket_json(str(tmp_path / "bucket"), ".dataspoc/manifest.json")["tables"][0]["quality"]
    assert quality["score"] == round(100 * (3 * 1 + 1 * 1 + 1 * 0 + 3 * 1) / 8, 1) == 87.5
    assert (quality["checks"], quality["failed"], quality["errors"], quality["warnings"]) == (4, 1, 0, 1)
    assert quality["run_id"] == check.json()["run_id"]


def test_a_failed_error_check_publishes_nothing_by_default(pipe, tmp_path):
    project(tmp_path, [{"check": "not_null", "columns": ["id"]}], customers=False)
    result = pipe("run", "orders")
    assert result.code == ExitCode.DATA
    line = result.stderr.strip().splitlines()[-1]
    assert "raw/shop/orders: check not_null(id) failed: 1 of 4 rows fail" in line and "nothing was published" in line
    bucket = tmp_path / "bucket"
    assert not (bucket / ".dataspoc" / "manifest.json").exists() and not (bucket / "raw").exists()
    assert not (bucket / ".dataspoc" / "state" / "orders" / "state.json").exists()
    [log] = pipe("logs", "orders", "--json").json()
    assert log["status"] == "failed"
    [logged] = (bucket / ".dataspoc" / "logs" / "orders").glob("*.json")
    document = read_log(tmp_path, logged.stem)
    assert document["error"]["kind"] == "ChecksFailed" and document["checks"][0]["failing_rows"] == 1
    # fixed at the source, the next run publishes everything
    (tmp_path / "data" / "orders.csv").write_text(HEADER + ROWS.replace("\n,c@x.io", "\n4,c@x.io"))
    assert pipe("run", "orders").code == ExitCode.OK
    assert len(table_rows(str(bucket), "raw/shop/orders")) == 4


def test_quarantine_keeps_failing_rows_out_of_the_table(pipe, tmp_path, bucket_url):
    checks = [
        {"check": "not_null", "columns": ["id"]},
        {"check": "range", "column": "amount", "min": 0},
        {"check": "accepted_values", "column": "status", "values": ["paid", "new"], "severity": "warn"},
    ]
    project(tmp_path, checks, bucket=bucket_url, policy="quarantine", customers=False)
    result = pipe("run", "orders", "--json")
    assert result.code == ExitCode.DATA
    assert "the 2 rows that failed are in quarantine/" in result.stderr
    [log] = result.json()
    assert log["status"] == "success" and log["rows_written"] == 2
    published = sorted(r["id"] for r in table_rows(bucket_url, "raw/shop/orders"))
    assert published == [1, 2]
    results = {r["name"]: r for r in log["checks"]}
    assert results["not_null(id)"]["quarantined_rows"] == 1 and results["range(amount)"]["quarantined_rows"] == 1
    assert "quarantined_rows" not in results["accepted_values(status)"]  # warnings keep their rows

    [entry] = log["quarantine"]
    assert entry["location"] == "raw/shop/orders" and entry["rows"] == 2
    assert entry["path"].startswith("quarantine/raw/shop/orders/dt=")
    import pyarrow.parquet as pq

    fs, root = bucket_fs(bucket_url)
    bad = pq.read_table(fs.open(f"{root}/{entry['path']}", "rb")).to_pylist()
    assert sorted((r["id"], r["_dataspoc_failed_checks"]) for r in bad if r["id"] is not None) == [(2, "range(amount)")]
    assert [r["_dataspoc_failed_checks"] for r in bad if r["id"] is None] == ["not_null(id)"]
    manifest = read_bucket_json(bucket_url, ".dataspoc/manifest.json")
    assert all(not t["location"].startswith("quarantine") for t in manifest["tables"])
    assert list(schema_validator("run-log").iter_errors(log)) == []

    # the state moved on: the quarantined rows are not read again
    again = pipe("run", "orders")
    assert again.code == ExitCode.OK and "no new data" in again.stderr


def test_row_count_change_compares_with_the_previous_run(pipe, tmp_path):
    project(tmp_path, [{"check": "row_count_change", "max_percent": 50}], customers=False)
    assert pipe("run", "orders").code == ExitCode.OK
    (tmp_path / "data" / "more.csv").write_text(HEADER + "9,z@x.io,paid,1,100,2026-11-20T00:00:00Z\n")
    result = pipe("run", "orders")
    assert result.code == ExitCode.DATA
    assert "this run wrote 1 rows, the previous one 4: 75.0% change" in result.stderr


def test_curated_checks_run_on_the_curated_table(pipe, tmp_path):
    project(tmp_path, [], policy="quarantine", customers=False)
    import yaml

    path = tmp_path / "dataspoc-pipe.yaml"
    document = yaml.safe_load(path.read_text())
    document["pipelines"]["orders"]["transform"] = {
        "domain": "sales",
        "tables": {
            "orders": {
                "steps": [{"drop_null": ["id"]}],
                "checks": [{"check": "unique", "columns": ["id"]}, {"check": "row_count", "min": 1}],
            }
        },
    }
    path.write_text(yaml.safe_dump(document))
    result = pipe("run", "orders", "--json")
    assert result.code == ExitCode.DATA, result.stderr
    extract, transform = result.json()
    assert extract.get("checks") is None
    assert {r["name"]: r["status"] for r in transform["checks"]} == {"unique(id)": "fail", "row_count": "pass"}
    assert sorted(r["id"] for r in table_rows(str(tmp_path / "bucket"), "curated/sales/orders")) == [1]
    assert transform["quarantine"][0]["path"].startswith("quarantine/curated/sales/orders/")


def test_check_runs_on_what_is_published_and_exits_1_on_an_error(pipe, tmp_path, bucket_url):
    project(
        tmp_path,
        [{"check": "accepted_values", "column": "status", "values": ["paid", "new"], "severity": "warn"}],
        bucket=bucket_url,
        customers=False,
    )
    assert pipe("run", "orders").code == ExitCode.OK
    listed = pipe("check", "orders")
    assert listed.code == ExitCode.OK
    assert "FAIL  warn   raw/shop/orders  accepted_values(status)  1/4 rows" in listed.stdout

    import yaml

    path = tmp_path / "dataspoc-pipe.yaml"
    document = yaml.safe_load(path.read_text())
    document["pipelines"]["orders"]["checks"]["orders"].append({"check": "not_null", "columns": ["id"]})
    path.write_text(yaml.safe_dump(document))
    failed = pipe("check", "orders", "--json")
    assert failed.code == ExitCode.DATA
    assert "check not_null(id) failed: 1 of 4 rows fail" in failed.stderr
    log = failed.json()
    assert log["step"] == "check" and log["tables"] == [] and len(log["checks"]) == 2
    assert len(table_rows(bucket_url, "raw/shop/orders")) == 4  # nothing moved
    # a check run is not a run cut short: the next run still finds nothing new
    assert "no new data" in pipe("run", "orders", "--quiet").stderr + pipe("run", "orders").stderr


@pytest.mark.parametrize(
    "check, says",
    [
        ({"check": "not_nul", "columns": ["id"]}, "check"),
        ({"check": "range", "column": "amount"}, "give min, max or both"),
        ({"check": "regex", "column": "email", "pattern": "(["}, "not a regular expression"),
        ({"check": "freshness", "column": "ordered_at", "max_age": "soon"}, "is not a duration"),
        ({"check": "sql", "sql": "SELECT 1"}, "name"),
        ({"check": "not_null", "columns": ["id"], "severity": "fatal"}, "severity"),
    ],
)
def test_a_wrong_check_is_a_usage_error(pipe, tmp_path, check, says):
    project(tmp_path, [check], customers=False)
    result = pipe("run", "orders")
    assert result.code == ExitCode.USAGE
    assert "pipelines.orders.checks.orders" in result.stderr and says in result.stderr


def test_a_check_on_a_missing_column_is_named(pipe, tmp_path):
    project(tmp_path, [{"check": "not_null", "columns": ["idd"]}], customers=False)
    result = pipe("run", "orders")
    assert result.code == ExitCode.DATA
    assert "check not_null(idd) cannot run" in result.stderr and "idd" in result.stderr
    assert "Traceback" not in result.stderr


def test_relationships_see_the_tables_of_the_same_run(pipe, tmp_path):
    import sqlite3

    db = sqlite3.connect(tmp_path / "app.db")
    db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER)")
    db.executemany("INSERT INTO customers VALUES (?, ?)", [(1, "a"), (2, "b")])
    db.executemany("INSERT INTO orders VALUES (?, ?)", [(10, 1), (11, 2)])
    db.commit()
    check = {"check": "relationships", "column": "customer_id", "to": "raw/app/customers", "field": "id"}
    write_project(
        tmp_path,
        {
            "app": {
                "source": {"kind": "sqlite", "path": "app.db", "cursor": "id"},
                "target": {"namespace": "app"},
                "checks": {"orders": [check]},
            }
        },
    )
    first = pipe("run", "app")
    assert first.code == ExitCode.OK, first.stderr  # customers arrive in the same run
    db.execute("INSERT INTO customers VALUES (3, 'c')")
    db.execute("INSERT INTO orders VALUES (12, 3)")
    db.commit()
    second = pipe("run", "app", "--json")
    assert second.code == ExitCode.OK, second.stderr
    [result] = second.json()[0]["checks"]
    assert result["status"] == "pass" and result["checked_rows"] == 3


def test_checks_follow_a_new_table_version_and_can_use_dt(pipe, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "1.csv").write_text("id,amount\n1,10\n")
    checks = [
        {"check": "not_null", "columns": ["id"]},
        {"check": "freshness", "column": "dt", "max_age": "2d"},
    ]
    write_project(
        tmp_path,
        {
            "orders": {
                "source": {"kind": "csv", "path": "data/*.csv"},
                "target": {"namespace": "shop"},
                "on_schema_change": "new_table",
                "checks": {"orders": checks},
            }
        },
    )
    assert pipe("run", "orders").code == ExitCode.OK
    (tmp_path / "data" / "2.csv").write_text("id,amount\n,ten\n")  # a new version, and a NULL id
    result = pipe("run", "orders")
    assert result.code == ExitCode.DATA
    assert "raw/shop/orders_v2: check not_null(id) failed" in result.stderr
    (tmp_path / "data" / "2.csv").unlink()
    (tmp_path / "data" / "3.csv").write_text("id,amount\n3,eleven\n")
    assert pipe("run", "orders").code == ExitCode.OK
    checked = pipe("check", "orders", "--json")
    assert checked.code == ExitCode.OK, checked.stderr
    assert {r["location"] for r in checked.json()["checks"]} == {"raw/shop/orders_v2"}


def test_row_count_change_counts_runs_not_files_after_compaction(pipe, tmp_path):
    project(tmp_path, [{"check": "row_count_change", "max_percent": 50}], customers=False)
    (tmp_path / "data" / "orders.csv").write_text(HEADER + ROWS.replace("\n,c@x.io", "\n5,c@x.io"))
    assert pipe("run", "orders").code == ExitCode.OK
    for n in range(2):
        more = "".join(f"{10 * n + i},z@x.io,paid,1,100,2026-11-20T00:00:00Z\n" for i in range(4))
        (tmp_path / "data" / f"more{n}.csv").write_text(HEADER + more)
        assert pipe("run", "orders").code == ExitCode.OK
    assert pipe("compact", "raw/shop/orders").code == ExitCode.OK
    (tmp_path / "data" / "last.csv").write_text(
        HEADER + "".join(f"{90 + i},z@x.io,paid,1,100,2026-11-20T00:00:00Z\n" for i in range(4))
    )
    result = pipe("run", "orders")
    assert result.code == ExitCode.OK, result.stderr  # 4 rows against the previous run's 4


def test_a_curated_table_emptied_by_a_transform_is_checked(pipe, tmp_path):
    project(tmp_path, [], customers=False)
    import yaml

    path = tmp_path / "dataspoc-pipe.yaml"
    document = yaml.safe_load(path.read_text())
    document["pipelines"]["orders"]["transform"] = {
        "domain": "sales",
        "tables": {
            "big": {
                "from": "orders",
                "sql": "SELECT * FROM source WHERE amount > 1000",
                "checks": [{"check": "row_count", "min": 1}],
            }
        },
    }
    path.write_text(yaml.safe_dump(document))
    result = pipe("run", "orders")
    assert result.code == ExitCode.DATA and "curated/sales/big: check row_count failed: 0 rows" in result.stderr


def test_sql_checks_take_a_trailing_semicolon_and_comment_and_range_takes_dates(pipe, tmp_path):
    checks = [
        {
            "check": "sql",
            "name": "neg",
            "sql": "SELECT * FROM {table} WHERE amount < 0; -- negative",
            "severity": "warn",
        },
        {"check": "range", "column": "ordered_at", "min": "2020-01-01", "severity": "warn"},
    ]
    project(tmp_path, checks, customers=False)
    text = (tmp_path / "dataspoc-pipe.yaml").read_text()
    assert "min: '2020-01-01'" in text
    (tmp_path / "dataspoc-pipe.yaml").write_text(text.replace("min: '2020-01-01'", "min: 2020-01-01"))  # a YAML date
    result = pipe("run", "orders", "--json")
    assert result.code == ExitCode.OK, result.stderr
    found = {r["name"]: (r["status"], r["failing_rows"]) for r in result.json()[0]["checks"]}
    assert found == {"neg": ("fail", 1), "range(ordered_at)": ("pass", 0)}


def test_a_listed_file_that_is_gone_is_a_storage_error(pipe, tmp_path):
    project(tmp_path, [{"check": "not_null", "columns": ["id"], "severity": "warn"}], customers=False)
    assert pipe("run", "orders").code == ExitCode.OK
    [gone] = (tmp_path / "bucket" / "raw").rglob("*.parquet")
    gone.unlink()
    result = pipe("check", "orders")
    assert (
        result.code == ExitCode.STORAGE and "Traceback" not in result.stderr and "internal error" not in result.stderr
    )


def test_score_matches_the_contract_cases():
    """contract/conformance/score.json: the score formula of contract/QUALITY.md, which Lens's
    `test` computes with its own code against the same cases."""
    import json
    from pathlib import Path

    from dataspoc_pipe.checks import score
    from dataspoc_pipe.contract.models import CheckResult

    cases = json.loads((Path(__file__).resolve().parents[2] / "contract" / "conformance" / "score.json").read_text())
    for case in cases["cases"]:
        results = [
            CheckResult(location="raw/shop/orders", check="not_null", name=f"c{i}", **outcome)
            for i, outcome in enumerate(case["checks"])
        ]
        assert score(results) == case["score"], case["id"]

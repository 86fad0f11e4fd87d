"""init -> add -> run -> rerun through the installed CLI, on a local folder and on S3 (moto)."""

from __future__ import annotations

import csv
import os
import time

import pyarrow.parquet as pq

from conftest import bucket_fs, read_bucket_json, schema_validator
from dataspoc_pipe.errors import ExitCode

HEADER = ["order_id", "customer_id", "amount", "status"]


def write_csv(path, rows, header=HEADER):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def orders(start, count):
    return [[i, i % 7, round(i * 1.25, 2), "paid" if i % 3 else "open"] for i in range(start, start + count)]


def read_table(bucket_url, manifest_table):
    fs, root = bucket_fs(bucket_url)
    paths = [f["path"] for p in manifest_table["partitions"] for f in p["files"]]
    tables = [pq.read_table(fs.open(f"{root}/{path}", "rb")) for path in paths]
    import pyarrow as pa

    return pa.concat_tables(tables) if tables else None


def setup_project(pipe, bucket_url, tmp_path):
    write_csv(tmp_path / "data" / "orders-1.csv", orders(0, 120))
    assert pipe("init", "--bucket", bucket_url).code == ExitCode.OK
    result = pipe("add", "orders", "--path", "data/orders-*.csv", "--source", "shop")
    assert result.code == ExitCode.OK, result.stderr


def test_run_writes_data_state_log_and_manifest(pipe, bucket_url, tmp_path):
    setup_project(pipe, bucket_url, tmp_path)

    result = pipe("run", "orders", "--json")
    assert result.code == ExitCode.OK, result.stderr
    [log] = result.json()
    assert log["status"] == "success" and log["rows_written"] == 120
    assert "120 rows -> raw/shop/orders" in result.stderr

    manifest = read_bucket_json(bucket_url, ".dataspoc/manifest.json")
    assert list(schema_validator("manifest").iter_errors(manifest)) == []
    [table] = manifest["tables"]
    assert (table["layer"], table["namespace"], table["name"]) == ("raw", "shop", "orders")
    assert table["row_count"] == 120 and table["file_count"] == 1
    assert [c["name"] for c in table["columns"]] == HEADER + ["dt"]
    [partition] = table["partitions"]
    assert partition["values"]["dt"] == log["started_at"][:10]
    assert partition["files"][0]["path"].startswith(f"raw/shop/orders/dt={log['started_at'][:10]}/part-{log['run_id']}")

    data = read_table(bucket_url, table)
    assert data.column("order_id").to_pylist() == list(range(120))
    assert data.column("amount").to_pylist()[4] == 5.0
    fs, root = bucket_fs(bucket_url)
    with fs.open(f"{root}/{partition['files'][0]['path']}", "rb") as handle:
        assert pq.ParquetFile(handle).metadata.row_group(0).column(0).compression == "ZSTD"

    state = read_bucket_json(bucket_url, ".dataspoc/state/orders/state.json")
    assert list(schema_validator("state").iter_errors(state)) == []
    assert state["last_run_id"] == log["run_id"]
    run_log = read_bucket_json(bucket_url, f".dataspoc/logs/orders/{log['run_id']}.json")
    assert list(schema_validator("run-log").iter_errors(run_log)) == []


def test_rerun_is_idempotent_and_new_files_are_appended(pipe, bucket_url, tmp_path):
    setup_project(pipe, bucket_url, tmp_path)
    assert pipe("run", "orders").code == ExitCode.OK

    again = pipe("run", "orders", "--json")
    assert again.code == ExitCode.OK
    assert again.json()[0]["status"] == "no_new_data"
    assert read_bucket_json(bucket_url, ".dataspoc/manifest.json")["tables"][0]["row_count"] == 120

    write_csv(tmp_path / "data" / "orders-2.csv", orders(120, 30))
    third = pipe("run", "orders", "--json")
    assert third.json()[0]["rows_written"] == 30
    table = read_bucket_json(bucket_url, ".dataspoc/manifest.json")["tables"][0]
    assert table["row_count"] == 150 and table["file_count"] == 2
    assert sorted(read_table(bucket_url, table).column("order_id").to_pylist()) == list(range(150))


def table_ids(bucket):
    table = read_bucket_json(bucket, ".dataspoc/manifest.json")["tables"][0]
    return sorted(read_table(bucket, table).column("order_id").to_pylist())


def test_a_file_that_grew_gives_only_its_new_rows(pipe, tmp_path):
    bucket = str(tmp_path / "bucket")
    setup_project(pipe, bucket, tmp_path)
    assert pipe("run", "orders").code == ExitCode.OK
    with open(tmp_path / "data" / "orders-1.csv", "a", newline="") as handle:
        csv.writer(handle).writerows(orders(120, 5))
    result = pipe("run", "orders", "--json")
    assert result.code == ExitCode.OK, result.stderr
    assert result.json()[0]["rows_written"] == 5
    assert table_ids(bucket) == list(range(125))


def test_a_touched_file_is_not_read_again(pipe, tmp_path):
    setup_project(pipe, str(tmp_path / "bucket"), tmp_path)
    assert pipe("run", "orders").code == ExitCode.OK
    later = time.time() + 60
    os.utime(tmp_path / "data" / "orders-1.csv", (later, later))
    assert pipe("run", "orders", "--json").json()[0]["status"] == "no_new_data"


def test_a_rewritten_file_stops_the_run_unless_asked(pipe, tmp_path):
    bucket = str(tmp_path / "bucket")
    setup_project(pipe, bucket, tmp_path)
    assert pipe("run", "orders").code == ExitCode.OK
    write_csv(tmp_path / "data" / "orders-1.csv", orders(500, 120))
    write_csv(tmp_path / "data" / "orders-2.csv", orders(1000, 3))

    refused = pipe("run", "orders")
    assert refused.code == ExitCode.DATA
    assert "orders-1.csv" in refused.stderr and "--reread-changed" in refused.stderr
    assert table_ids(bucket) == list(range(120))

    accepted = pipe("run", "orders", "--reread-changed", "--json")
    assert accepted.code == ExitCode.OK, accepted.stderr
    assert accepted.json()[0]["rows_written"] == 123
    assert table_ids(bucket) == list(range(120)) + list(range(500, 620)) + [1000, 1001, 1002]


def test_moving_the_project_folder_reads_nothing_again(pipe, tmp_path):
    bucket = str(tmp_path / "bucket")
    project = tmp_path / "project"
    project.mkdir()
    write_csv(project / "data" / "orders-1.csv", orders(0, 10))
    assert pipe("init", "--project", str(project / "dataspoc-pipe.yaml"), "--bucket", bucket).code == ExitCode.OK
    pipe(
        "add",
        "orders",
        "--path",
        "data/orders-*.csv",
        "--source",
        "shop",
        "--project",
        str(project / "dataspoc-pipe.yaml"),
    )
    assert pipe("run", "orders", "--project", str(project / "dataspoc-pipe.yaml")).code == ExitCode.OK
    moved = tmp_path / "moved"
    project.rename(moved)
    result = pipe("run", "orders", "--project", str(moved / "dataspoc-pipe.yaml"), "--json")
    assert result.code == ExitCode.OK, result.stderr
    assert result.json()[0]["status"] == "no_new_data"


def test_status_and_logs(pipe, tmp_path):
    bucket = str(tmp_path / "bucket")
    setup_project(pipe, bucket, tmp_path)
    first = pipe("run", "orders", "--json").json()[0]
    pipe("run", "orders")

    status = pipe("status", "--json")
    assert status.code == ExitCode.OK
    [row] = status.json()
    assert row["table"] == "raw/shop/orders" and row["table_rows"] == 120
    assert row["last_run"]["status"] == "no_new_data"

    logs = pipe("logs", "orders", "--json").json()
    assert [r["status"] for r in logs] == ["no_new_data", "success"]
    one = pipe("logs", "orders", "--run", first["run_id"])
    assert one.json()["rows_written"] == 120

    human = pipe("status")  # what was asked for goes to stdout, so `| grep` finds it
    assert "raw/shop/orders" in human.stdout and human.stderr == ""
    runs = pipe("logs", "orders")
    assert first["run_id"] in runs.stdout  # whole, even in 80 columns: `logs --run` needs it


def test_manifest_command_prints_the_catalog_on_stdout(pipe, tmp_path):
    bucket = str(tmp_path / "bucket")
    setup_project(pipe, bucket, tmp_path)
    pipe("run", "orders")
    result = pipe("manifest")
    assert result.code == ExitCode.OK
    assert result.json()["tables"][0]["location"] == "raw/shop/orders"


def test_init_is_safe_to_repeat(pipe, tmp_path):
    assert pipe("init").code == ExitCode.OK
    before = (tmp_path / "dataspoc-pipe.yaml").read_text()
    again = pipe("init", "--bucket", "s3://elsewhere")
    assert again.code == ExitCode.OK and "exists already" in again.stderr
    assert (tmp_path / "dataspoc-pipe.yaml").read_text() == before


def test_bucket_from_environment(pipe, tmp_path):
    setup_project(pipe, str(tmp_path / "bucket"), tmp_path)
    other = tmp_path / "other-bucket"
    missing = pipe("run", "orders", env={"DATASPOC_BUCKET": str(other)})
    assert missing.code == ExitCode.USAGE and "other-bucket does not exist" in missing.stderr
    other.mkdir()
    result = pipe("run", "orders", env={"DATASPOC_BUCKET": str(other)})
    assert result.code == ExitCode.OK
    assert (other / ".dataspoc" / "manifest.json").exists()
    assert not (tmp_path / "bucket" / ".dataspoc" / "manifest.json").exists()


def test_type_drift_between_files_is_widened_or_refused(pipe, tmp_path):
    setup_project(pipe, str(tmp_path / "bucket"), tmp_path)
    write_csv(tmp_path / "data" / "orders-2.csv", [[1000, 1, "not a number", "paid"]])
    result = pipe("run", "orders")
    assert result.code == ExitCode.DATA
    assert "orders-2.csv" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "bucket" / "raw").exists() or not any((tmp_path / "bucket" / "raw").rglob("*.parquet"))


def test_output_into_a_closed_pipe_is_not_an_error(pipe, tmp_path):
    import subprocess

    from conftest import PIPE

    setup_project(pipe, str(tmp_path / "bucket"), tmp_path)
    assert pipe("run", "orders").code == ExitCode.OK
    producer = subprocess.Popen([str(PIPE), "manifest"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    producer.stdout.close()  # the reader is gone before anything is written, like `| head` that finished
    stderr = producer.stderr.read().decode()
    assert producer.wait(timeout=60) == ExitCode.OK, stderr
    assert stderr == ""

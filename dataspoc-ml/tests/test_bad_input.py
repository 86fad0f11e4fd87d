"""Bad input and bad buckets: reads that fail part-way, corrupt or missing files, missing buckets,
retyped features, training edge cases, zero-row predictions, unsafe manifest paths, broken
models, lock races, URL credentials and closed pipes. Real Parquet files and the installed CLI."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lake
from conftest import EXE
from dataspoc_ml import catalog, datasets
from dataspoc_ml.bucket import Bucket
from dataspoc_ml.contract.models import Feature
from dataspoc_ml.errors import ContractError, DataError, ExitCode, MissingBackend, StorageError
from test_errors import fake_model, one_line_error

CHURN = ["train", "churn", "--table", "raw.crm.customers", "--target", "churned", "--exclude", "lifetime_value"]
CUSTOMER_FILE = f"raw/crm/customers/dt=2026-11-21/part-{lake.RUN_ID}-00000.parquet"


@pytest.fixture
def lake_url(local_bucket) -> str:
    lake.build(local_bucket)
    return local_bucket


def error_line(result) -> str:
    """The one error line, after any narration or warnings on stderr."""
    lines = result.stderr.strip().splitlines()
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert lines[-1].startswith("error: ") and not any(x.startswith("error: ") for x in lines[:-1])
    return lines[-1]


def manifest_path(url: str) -> Path:
    return Path(url) / ".dataspoc" / "manifest.json"


def add_table(url: str, name: str, data: pa.Table, namespace: str = "crm") -> str:
    """Publish `data` as raw.<namespace>.<name> (one dt partition) in the bucket's manifest."""
    rel = f"raw/{namespace}/{name}/dt=2026-11-22/part-{lake.RUN_ID}-00000.parquet"
    target = Path(url) / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    blob = lake.parquet_bytes(data)
    target.write_bytes(blob)
    entry = lake.table_entry("raw", namespace, name, [({"dt": "2026-11-22"}, rel, data, len(blob))], data.schema)
    manifest = json.loads(manifest_path(url).read_text())
    manifest["tables"].append(entry)
    manifest_path(url).write_text(json.dumps(manifest))
    return f"raw.{namespace}.{name}"


# 1. a transient error part-way through a file fails the read, naming the file -----------------
def test_transient_error_mid_read_raises_storage_error(lake_url, monkeypatch):
    bucket = Bucket(lake_url)
    table = catalog.resolve(catalog.load(bucket), "raw.crm.customers", bucket)
    for _, rel in datasets.files_of(table):  # many row groups, so a file is read in several steps
        path = bucket.full(rel)
        pq.write_table(pq.read_table(path), path, row_group_size=20)
    monkeypatch.setattr(datasets, "BATCH_ROWS", 20)
    schema = datasets.schema_of(bucket, table)
    assert sum(b.num_rows for b in datasets.iter_batches(bucket, table, schema=schema)) == 400

    real_open = bucket.fs.open
    state = {"failed": False}

    class Flaky:
        """A file whose second read (the first after the footer) resets the connection, once."""

        def __init__(self, handle):
            self.handle, self.reads, self.closed = handle, 0, False

        def read(self, n=-1):
            self.reads += 1
            if self.reads == 2 and not state["failed"]:
                state["failed"] = True
                raise ConnectionError("connection reset by peer")
            return self.handle.read(n)

        def seek(self, *args):
            return self.handle.seek(*args)

        def tell(self):
            return self.handle.tell()

        def readable(self):
            return True

        def seekable(self):
            return True

        def close(self):
            self.handle.close()

    monkeypatch.setattr(bucket.fs, "open", lambda path, mode="rb": Flaky(real_open(path, mode)))
    with pytest.raises(StorageError, match=r"dt=2026-11-21/part-.*failed part-way.*connection reset") as info:
        sum(b.num_rows for b in datasets.iter_batches(bucket, table, schema=schema))
    assert state["failed"] and info.value.exit_code == ExitCode.STORAGE


# 2. a corrupt listed file is bad data (exit 1), a vanished one says the manifest is stale --------
def test_corrupt_listed_file_is_a_data_error(ml, lake_url):
    (Path(lake_url) / CUSTOMER_FILE).write_bytes(b"this is not parquet, not at all, no magic bytes here")
    result = ml(*CHURN, "--bucket", lake_url)
    assert result.code == ExitCode.DATA, result.stderr
    line = one_line_error(result)
    assert CUSTOMER_FILE in line and "not a readable Parquet file" in line


def test_missing_listed_file_is_a_data_error(ml, lake_url):
    (Path(lake_url) / CUSTOMER_FILE).unlink()
    result = ml(*CHURN, "--bucket", lake_url)
    assert result.code == ExitCode.DATA, result.stderr
    line = one_line_error(result)
    assert CUSTOMER_FILE in line and "listed in the manifest but gone" in line


# 3. a bucket that does not exist is a configuration error, not an empty bucket -------------------
@pytest.mark.s3
def test_missing_s3_bucket_exits_2(ml, moto_endpoint):
    url = "s3://no-such-bucket-7f3a"
    for args in (["models"], ["predict", "churn"], CHURN):
        result = ml(*args, "--bucket", url, timeout=60)
        assert result.code == ExitCode.USAGE, (args, result.stderr)
        line = one_line_error(result)
        assert "no-such-bucket-7f3a" in line and "does not exist" in line


# 4. predict refuses a feature whose kind changed; casts fail as data errors -----------------------
def test_predict_refuses_a_retyped_feature(ml, lake_url):
    assert ml(*CHURN, "--bucket", lake_url).code == ExitCode.OK
    for rel in (CUSTOMER_FILE, CUSTOMER_FILE.replace("2026-11-21", "2026-11-22")):
        path = Path(lake_url) / rel
        data = pq.read_table(path)
        index = data.schema.get_field_index("age")
        pq.write_table(data.set_column(index, "age", data.column("age").cast(pa.string())), path)
    manifest = json.loads(manifest_path(lake_url).read_text())
    for column in manifest["tables"][0]["columns"]:
        if column["name"] == "age":
            column["type"] = "string"
    manifest_path(lake_url).write_text(json.dumps(manifest))
    result = ml("predict", "churn", "--bucket", lake_url)
    assert result.code == ExitCode.USAGE, result.stderr
    line = one_line_error(result)
    assert "'age'" in line and "raw.crm.customers" in line and "int64" in line and "string" in line
    assert not lake.exists(lake_url, "ml/predictions/churn")


def test_to_frame_cast_failure_names_column_and_table():
    data = pa.table({"age": pa.array(["12", "old"], pa.string())})
    with pytest.raises(DataError, match=r"column 'age' \(string\) of table raw.crm.people .*numeric"):
        datasets.to_frame(data, [Feature(name="age", type="string", kind="numeric")], "raw.crm.people")


# 5. training edge cases ---------------------------------------------------------------------------
def test_all_null_feature_is_dropped_with_a_warning(ml, lake_url):
    data = lake.customers(200).append_column("blank", pa.nulls(200, pa.float64()))
    ref = add_table(lake_url, "blanky", data)
    result = ml("train", "blanky", "--table", ref, "--target", "churned", "--json", "--bucket", lake_url)
    assert result.code == ExitCode.OK, result.stderr
    assert "warning: column 'blank' of table raw.crm.blanky is not used" in result.stderr
    assert "Warning" not in result.stderr  # nothing from scikit-learn
    features = lake.read_json(lake_url, "ml/models/blanky/features.json")
    assert "blank" not in [f["name"] for f in features["features"]]


def test_only_null_features_is_a_data_error(ml, lake_url):
    data = pa.table(
        {
            "a": pa.nulls(50, pa.float64()),
            "b": pa.nulls(50, pa.string()),
            "target": pa.array([i % 2 == 0 for i in range(50)]),
        }
    )
    ref = add_table(lake_url, "hollow", data)
    result = ml("train", "hollow", "--table", ref, "--target", "target", "--bucket", lake_url)
    assert result.code == ExitCode.DATA, result.stderr
    lines = result.stderr.strip().splitlines()
    # narration of the steps ([elapsed] ...) and warnings, then the one error line
    assert all(x.startswith(("warning: ", "[")) for x in lines[:-1]) and "Traceback" not in result.stderr
    assert lines[-1].startswith("error: ") and "raw.crm.hollow" in lines[-1] and "empty" in lines[-1]


def test_sklearn_warnings_are_silenced(ml, lake_url):
    # one positive row, which lands in the training split: f1 on the holdout is ill-defined and
    # scikit-learn warns "F-score is ill-defined" unless the warning is silenced
    rows = 200
    data = pa.table(
        {
            "noise": pa.array([float((i * 7919) % 101) for i in range(rows)]),
            "rare": pa.array([i == 50 for i in range(rows)]),
        }
    )
    ref = add_table(lake_url, "rare", data)
    result = ml("train", "rare", "--table", ref, "--target", "rare", "--bucket", lake_url)
    assert result.code == ExitCode.OK, result.stderr
    # only our own verdict may warn: a holdout without a positive row cannot tell it from the baseline
    warned = [line for line in result.stderr.splitlines() if "warn" in line.lower()]
    assert "Warning" not in result.stderr
    assert all(line.startswith("warning: model 'rare' does not beat the baseline") for line in warned), warned


def test_classification_needs_a_discrete_target(ml, lake_url):
    result = ml(
        "train", "ltv", "--table", "raw.crm.customers", "--target", "lifetime_value", "--task", "classification",
        "--bucket", lake_url,
    )  # fmt: skip
    assert result.code == ExitCode.USAGE, result.stderr
    line = one_line_error(result)
    assert "'lifetime_value'" in line and "double" in line and "classification" in line


def test_nan_target_rows_are_dropped(ml, lake_url):
    data = lake.customers(200)
    index = data.schema.get_field_index("lifetime_value")
    values = data.column("lifetime_value").to_pylist()
    values = [float("nan") if i % 10 == 0 else v for i, v in enumerate(values)]
    ref = add_table(lake_url, "nanny", data.set_column(index, "lifetime_value", pa.array(values, pa.float64())))
    result = ml("train", "ltv", "--table", ref, "--target", "lifetime_value", "--json", "--bucket", lake_url)
    assert result.code == ExitCode.OK, result.stderr
    assert "dropped 20 rows with no value in target 'lifetime_value'" in result.stderr
    holdout = result.json()["holdout"]
    assert holdout["train_rows"] + holdout["test_rows"] == 180


@pytest.mark.parametrize("size, wanted", [("0.01", "raise --test-size"), ("0.999", "lower --test-size")])
def test_test_size_must_leave_rows_on_both_sides(ml, lake_url, size, wanted):
    result = ml(*CHURN, "--test-size", size, "--bucket", lake_url)
    assert result.code == ExitCode.DATA, result.stderr
    line = error_line(result)
    assert "--test-size" in line and "raw.crm.customers" in line and wanted in line


@pytest.mark.parametrize("seed", ["-1", str(2**32)])
def test_seed_is_bounded(ml, lake_url, seed):
    result = ml(*CHURN, "--seed", seed, "--bucket", lake_url)
    assert result.code == ExitCode.USAGE and "--seed" in result.stderr and "Traceback" not in result.stderr


# 6 and 7. zero-row input keeps the output schema; partition columns are typed --------------------
def test_zero_row_predictions_keep_the_schema(ml, lake_url):
    assert ml(*CHURN, "--bucket", lake_url).code == ExitCode.OK
    add_table(lake_url, "nobody", lake.customers(0))
    result = ml("predict", "churn", "--table", "raw.crm.nobody", "--json", "--bucket", lake_url)
    assert result.code == ExitCode.OK, result.stderr
    out = lake.read_parquet(lake_url, result.json()["path"])
    assert out.num_rows == 0
    assert out.schema.field("prediction").type == pa.bool_()
    assert out.schema.field("probability").type == pa.float64()


def test_partition_columns_take_the_manifest_type(lake_url):
    manifest = json.loads(manifest_path(lake_url).read_text())
    manifest["tables"][0]["columns"].append({"name": "dt", "type": "date32[day]", "nullable": False})
    manifest_path(lake_url).write_text(json.dumps(manifest))
    bucket = Bucket(lake_url)
    table = catalog.resolve(catalog.load(bucket), "raw.crm.customers", bucket)
    data = datasets.read_table(bucket, table)
    assert data.schema.field("dt").type == pa.date32()
    assert {str(v) for v in data.column("dt").to_pylist()} == {"2026-11-21", "2026-11-22"}


# 8. manifest file paths stay inside their table -----------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "C:\\lake\\raw\\crm\\customers\\x.parquet",
        "raw/crm/customers/../../../secrets.parquet",
        "raw/crm/prospects/dt=2026-11-22/part-x.parquet",
        "s3://other/raw/crm/customers/x.parquet",
    ],
)
def test_manifest_paths_outside_the_table_are_refused(lake_url, path):
    manifest = json.loads(manifest_path(lake_url).read_text())
    manifest["tables"][0]["partitions"][0]["files"][0]["path"] = path
    manifest_path(lake_url).write_text(json.dumps(manifest))
    with pytest.raises(ContractError, match="refusing") as info:
        catalog.load(Bucket(lake_url))
    assert path in str(info.value)
    assert not catalog.is_safe_path("raw/crm/customers", path)
    assert catalog.is_safe_path("raw/crm/customers", CUSTOMER_FILE)


def test_predict_never_deletes_outside_its_location(ml, lake_url):
    assert ml(*CHURN, "--bucket", lake_url).code == ExitCode.OK
    victim = Path(lake_url) / "raw" / "crm" / "precious.parquet"
    victim.write_bytes(b"keep me")
    manifest = json.loads(manifest_path(lake_url).read_text())
    entry = lake.table_entry("ml", "predictions", "churn", [], pa.schema([("x", pa.int64())]))
    entry["partitions"] = [
        {"values": {}, "files": [{"path": "ml/predictions/churn/../../../raw/crm/precious.parquet", "rows": 1,
                                  "bytes": 7, "run_id": lake.RUN_ID}], "rows": 1, "bytes": 7}
    ]  # fmt: skip
    manifest["tables"].append(entry)
    manifest_path(lake_url).write_text(json.dumps(manifest))
    result = ml("predict", "churn", "--bucket", lake_url)
    assert result.code == ExitCode.DATA and "precious.parquet" in one_line_error(result)
    assert victim.read_bytes() == b"keep me"


# 9. a broken model is skipped by `models`, with a warning naming it ---------------------------------
def test_models_skips_a_broken_model(ml, local_bucket):
    fake_model(local_bucket, "good")
    fake_model(local_bucket, "bad")
    (Path(local_bucket) / "ml" / "models" / "bad" / "features.json").write_text("{not json")
    result = ml("models", "--json", "--bucket", local_bucket)
    assert result.code == ExitCode.OK, result.stderr
    assert [row["model"] for row in result.json()] == ["good"]
    assert result.stderr.startswith("warning: skipping model 'bad'") and "features.json" in result.stderr


# 10. the local lock survives a release between open and stat; URL credentials are never echoed -----
def test_a_lock_released_while_waiting_is_taken(tmp_path, monkeypatch):
    import socket
    import time as time_module
    from datetime import datetime, timezone

    bucket = Bucket(str(tmp_path / "b"))
    lock = Path(bucket.full(".dataspoc/manifest.lock"))
    lock.parent.mkdir(parents=True)
    holder = {
        "owner": "other",
        "host": socket.gethostname(),
        "pid": os.getppid(),
        "at": datetime.now(timezone.utc).isoformat(),
    }
    lock.write_text(json.dumps(holder))  # held by a live process of this host, and fresh
    real_sleep = time_module.sleep
    waits = []

    def release_while_waiting(seconds):
        waits.append(seconds)
        lock.unlink(missing_ok=True)  # the holder finishes while we wait
        real_sleep(0)

    monkeypatch.setattr(time_module, "sleep", release_while_waiting)
    with bucket.lock(".dataspoc/manifest.lock", owner="test", timeout=5):
        assert waits and json.loads(lock.read_text())["owner"] == "test"
    assert not lock.exists()


def test_a_lock_left_by_an_ended_process_is_broken_at_once(tmp_path):
    import socket
    from datetime import datetime, timezone

    bucket = Bucket(str(tmp_path / "b"))
    lock = Path(bucket.full(".dataspoc/manifest.lock"))
    lock.parent.mkdir(parents=True)
    pid = subprocess.Popen(["true"])
    pid.wait()
    holder = {
        "owner": "crashed",
        "host": socket.gethostname(),
        "pid": pid.pid,
        "at": datetime.now(timezone.utc).isoformat(),
    }
    lock.write_text(json.dumps(holder))
    with bucket.lock(".dataspoc/manifest.lock", owner="test", timeout=0):
        assert json.loads(lock.read_text())["owner"] == "test"


def test_unknown_scheme_does_not_echo_credentials(ml):
    with pytest.raises(MissingBackend) as info:
        Bucket("ftp://alice:hunter2@files.example.com/lake")
    assert "hunter2" not in str(info.value) and "alice" not in str(info.value)
    assert "ftp://files.example.com/lake" in str(info.value)
    result = ml("models", "--bucket", "ftp://alice:hunter2@files.example.com/lake")
    assert result.code == ExitCode.USAGE and "hunter2" not in result.stderr + result.stdout


# 11. a closed stdout pipe ends quietly with exit 0 ----------------------------------------------------
@pytest.mark.parametrize("args", [["models", "--json"], ["--version"]])
def test_broken_pipe_is_quiet(local_bucket, args):
    for name in ("one", "two", "three"):
        fake_model(local_bucket, name)
    process = subprocess.Popen(
        [str(EXE), *args, "--bucket", local_bucket] if args[0] == "models" else [str(EXE), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )
    process.stdout.close()  # the reader is gone before anything is written
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == ExitCode.OK, stderr
    assert stderr == ""

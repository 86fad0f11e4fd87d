"""`dataspoc-lens ml` runs a real dataspoc-ml executable: here, small scripts standing in for it."""

import json
import sys

import pytest

from dataspoc_lens.errors import ExitCode
from lake import shop

FAKE_ML = """\
#!{python}
# Stands in for dataspoc-ml: publishes predictions the contract's way, or fails like it would.
import json, sys
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

args = sys.argv[1:]
Path({calls!r}).write_text(json.dumps(args))
if args[0] not in ("train", "predict"):
    print("ran " + " ".join(args), file=sys.stderr)
    sys.exit(0)
command, model = args[0], args[1]
bucket = Path(args[args.index("--bucket") + 1])
table = args[args.index("--table") + 1]
if model == "nope":
    print(f"error: no model nope in {{bucket}}/ml/models; train it first", file=sys.stderr)
    sys.exit(2)
if command == "train":
    print(f"trained {{model}} on {{table}}", file=sys.stderr)
    sys.exit(0)
args = [part for arg in args for part in (arg.split("=", 1) if arg.startswith("--output-table=") else [arg])]
name = args[args.index("--output-table") + 1] if "--output-table" in args else model
manifest_path = bucket / ".dataspoc" / "manifest.json"
manifest = json.loads(manifest_path.read_text())
runs = sum(1 for t in manifest["tables"] if t["layer"] == "ml")  # each predict run: a new run id and new rows
run_id = f"20261122T03100{{runs}}.000Z-0f0e0d"
rel = f"ml/predictions/{{name}}/part-{{run_id}}-00000.parquet"
(bucket / rel).parent.mkdir(parents=True, exist_ok=True)
rows = pa.table({{"customer_id": pa.array([100 + runs, 101 + runs], pa.int64()), "prediction": [True, False]}})
pq.write_table(rows, bucket / rel)
size = (bucket / rel).stat().st_size
columns = [{{"name": "customer_id", "type": "int64", "nullable": True}}, {{"name": "prediction", "type": "bool", "nullable": True}}]
at = datetime.now(timezone.utc).isoformat()
manifest["tables"] = [t for t in manifest["tables"] if t["location"] != f"ml/predictions/{{name}}"]
manifest["tables"].append({{
    "layer": "ml", "namespace": "predictions", "name": name, "location": f"ml/predictions/{{name}}",
    "format": "parquet", "partition_by": [],
    "partitions": [{{"values": {{}}, "files": [{{"path": rel, "rows": 2, "bytes": size, "run_id": run_id}}], "rows": 2, "bytes": size}}],
    "columns": columns, "row_count": 2, "file_count": 1, "bytes": size, "last_run_id": run_id, "last_run_at": at,
    "writer": "dataspoc-ml/0.1.0",
    "schema_history": [{{"version": 1, "run_id": run_id, "at": at, "change": "created", "columns": columns}}],
}})
manifest_path.write_text(json.dumps(manifest))
print(f"wrote 2 predictions to ml.predictions.{{name}}", file=sys.stderr)
"""


@pytest.fixture
def fake_ml(tmp_path):
    script = tmp_path / "fake-dataspoc-ml"
    calls = tmp_path / "ml-calls.json"
    script.write_text(FAKE_ML.format(python=sys.executable, calls=str(calls)))
    script.chmod(0o755)
    return script, calls


def test_predict_then_query_the_predictions(lens, local_lake, fake_ml):
    script, calls = fake_ml
    shop(local_lake)
    env = {"DATASPOC_ML_BIN": str(script)}
    result = lens("ml", "predict", "churn", "--table", "raw.crm.customers", "--bucket", local_lake.url, env=env)
    assert result.code == ExitCode.OK, result.stderr
    assert json.loads(calls.read_text()) == [
        "predict",
        "churn",
        "--table",
        "raw.crm.customers",
        "--bucket",
        local_lake.url,
    ]
    assert "wrote 2 predictions" in result.stderr  # dataspoc-ml's own stderr, passed through
    assert "ml.predictions.churn" in result.stderr and result.stdout == ""

    query = lens(
        "query",
        "SELECT customer_id, prediction FROM ml.predictions.churn ORDER BY 1",
        "--bucket",
        local_lake.url,
        "--format",
        "json",
    )
    assert query.code == ExitCode.OK, query.stderr
    assert json.loads(query.stdout) == [
        {"customer_id": 100, "prediction": True},
        {"customer_id": 101, "prediction": False},
    ]


def test_ml_failure_keeps_its_exit_code_and_message(lens, local_lake, fake_ml):
    script, _ = fake_ml
    env = {"DATASPOC_ML_BIN": str(script), "DATASPOC_BUCKET": local_lake.url}
    result = lens("ml", "predict", "nope", "--table", "raw.crm.customers", env=env)
    assert result.code == ExitCode.USAGE
    assert result.stderr.strip() == f"error: no model nope in {local_lake.url}/ml/models; train it first"


def test_train_forwards_its_arguments(lens, local_lake, fake_ml):
    script, calls = fake_ml
    result = lens(
        "ml",
        "train",
        "churn",
        "--table",
        "customers",
        "--target",
        "churned",
        "--bucket",
        local_lake.url,
        env={"DATASPOC_ML_BIN": str(script)},
    )
    assert result.code == ExitCode.OK, result.stderr
    assert json.loads(calls.read_text()) == [
        "train",
        "churn",
        "--table",
        "customers",
        "--target",
        "churned",
        "--bucket",
        local_lake.url,
    ]
    assert "trained churn on customers" in result.stderr


@pytest.mark.parametrize(
    ("argv", "forwarded"),
    [
        (
            ["train", "churn", "--table", "customers", "--target", "churned", "--estimator", "rf", "--cv", "5"],
            ["train", "churn", "--table", "customers", "--target", "churned", "--estimator", "rf", "--cv", "5"],
        ),
        (
            ["train", "segments", "--table", "customers", "--task", "clustering", "--k", "4"],
            ["train", "segments", "--table", "customers", "--task", "clustering", "--k", "4"],
        ),
        (
            ["predict", "churn", "--table", "customers", "--version", "2"],
            ["predict", "churn", "--table", "customers", "--version", "2"],
        ),
        (
            ["evaluate", "churn", "--table", "customers", "--json"],
            ["evaluate", "churn", "--table", "customers", "--json"],
        ),
        (["models", "--json"], ["models", "--json"]),
        (["show", "churn", "--version", "1"], ["show", "churn", "--version", "1"]),
    ],
)
def test_options_lens_does_not_know_are_passed_on(lens, local_lake, fake_ml, argv, forwarded):
    script, calls = fake_ml
    shop(local_lake)
    result = lens("ml", *argv, "--bucket", local_lake.url, env={"DATASPOC_ML_BIN": str(script)})
    assert result.code == ExitCode.OK, result.stderr
    assert json.loads(calls.read_text()) == [*forwarded, "--bucket", local_lake.url]


def test_predict_refreshes_a_cached_copy_of_its_predictions(lens, local_lake, fake_ml):
    script, _ = fake_ml
    shop(local_lake)
    env = {"DATASPOC_ML_BIN": str(script), "DATASPOC_BUCKET": local_lake.url}
    assert lens("ml", "predict", "churn", "--table", "customers", env=env).code == ExitCode.OK
    assert lens("cache", "ml.predictions.churn", env=env).code == ExitCode.OK
    again = lens("ml", "predict", "churn", "--table", "customers", "--output-table", "churn", env=env)
    assert again.code == ExitCode.OK, again.stderr
    assert "SELECT * FROM ml.predictions.churn LIMIT 10" in again.stderr
    [cached] = json.loads(lens("cache", "list", "--json", env=env).stdout)
    assert cached["table"] == "ml.predictions.churn" and cached["state"] == "fresh"
    offline = lens("query", "SELECT customer_id FROM ml.predictions.churn ORDER BY 1", "--offline", "--format", "json",
                   env=env)  # fmt: skip
    assert offline.code == ExitCode.OK, offline.stderr
    assert [r["customer_id"] for r in json.loads(offline.stdout)] == [101, 102]  # the second run's rows

    other = lens("ml", "predict", "churn", "--table", "customers", "--output-table=churn_today", env=env)
    assert other.code == ExitCode.OK, other.stderr
    assert "SELECT * FROM ml.predictions.churn_today LIMIT 10" in other.stderr

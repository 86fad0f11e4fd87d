"""CSV -> dataspoc-pipe -> dataspoc-lens -> dataspoc-ml -> dataspoc-lens, through the installed
CLIs as subprocesses, on every backend: a local folder, S3 (moto's server), Azure Blob (Azurite)
and GCS (fake-gcs-server), each emulator started by the conftest on 127.0.0.1."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections import Counter

import pytest

from conftest import REPO, read_json, validator


def sample(tmp_path):
    subprocess.run(
        [sys.executable, str(REPO / "examples" / "generate_sample.py"), str(tmp_path / "data"),
         "--customers", "400", "--orders", "1200", "--seed", "7"],
        check=True, capture_output=True,
    )
    with open(tmp_path / "data" / "customers.csv") as handle:
        customers = {row["customer_id"]: row for row in csv.DictReader(handle)}
    with open(tmp_path / "data" / "orders.csv") as handle:
        orders = list(csv.DictReader(handle))
    return customers, orders


@pytest.mark.slow
def test_csv_to_prediction(cli, tmp_path, bucket_url):
    customers, orders = sample(tmp_path)

    assert cli("dataspoc-pipe", "init", "--bucket", bucket_url).code == 0
    assert cli("dataspoc-pipe", "add", "customers", "--path", "data/customers.csv", "--source", "crm").code == 0
    assert cli("dataspoc-pipe", "add", "orders", "--path", "data/orders.csv", "--source", "shop").code == 0
    run = cli("dataspoc-pipe", "run", "--all", "--json")
    assert run.code == 0, run.stderr
    assert sorted(log["rows_written"] for log in run.json()) == [400, 1200]

    lens = ("dataspoc-lens",)
    with_bucket = ("--bucket", bucket_url)
    catalog = cli(*lens, "catalog", *with_bucket, "--json")
    assert catalog.code == 0, catalog.stderr
    assert "raw.crm.customers" in catalog.stdout and "raw.shop.orders" in catalog.stdout

    query = cli(
        *lens, "query", *with_bucket, "--format", "csv",
        "SELECT c.country, count(*) AS n FROM raw.shop.orders o "
        "JOIN raw.crm.customers c USING (customer_id) GROUP BY 1 ORDER BY 1",
    )
    assert query.code == 0, query.stderr
    got = {row["country"]: int(row["n"]) for row in csv.DictReader(io.StringIO(query.stdout))}
    assert got == dict(Counter(customers[o["customer_id"]]["country"] for o in orders))

    train = cli("dataspoc-ml", "train", "churn", "--table", "raw.crm.customers", "--target", "churned",
                "--exclude", "customer_id,signup_date", *with_bucket)
    assert train.code == 0, train.stderr
    metrics = read_json(bucket_url, "ml/models/churn/metrics.json")
    assert list(validator("metrics").iter_errors(metrics)) == []
    assert list(validator("features").iter_errors(read_json(bucket_url, "ml/models/churn/features.json"))) == []

    predict = cli(*lens, "ml", "predict", "churn", "--table", "raw.crm.customers", *with_bucket)
    assert predict.code == 0, predict.stderr

    counted = cli(*lens, "query", *with_bucket, "--format", "json",
                  "SELECT count(*) AS n, count(DISTINCT customer_id) AS ids FROM ml.predictions.churn")
    assert counted.code == 0, counted.stderr
    assert counted.json() == [{"n": 400, "ids": 400}]
    # lineage from the source's raw run to the prediction, in the catalog and on every row
    described = cli(*lens, "schema", "ml.predictions.churn", *with_bucket, "--json")
    assert described.code == 0, described.stderr
    lineage = described.json()["prediction"]
    raw_run = next(t for t in read_json(bucket_url, ".dataspoc/manifest.json")["tables"] if t["name"] == "customers")
    assert lineage["model"] == "churn" and lineage["version"] == 1
    assert lineage["input"] == {"location": "raw/crm/customers", "last_run_id": raw_run["last_run_id"]}
    stamped = cli(*lens, "query", *with_bucket, "--format", "json",
                  "SELECT DISTINCT model_version, run_id FROM ml.predictions.churn")
    assert stamped.code == 0, stamped.stderr
    [row] = stamped.json()
    assert row["model_version"] == 1 and row["run_id"] == described.json()["last_run_id"]

    # Lens writes too: a gold table over the predictions and the orders, partitioned by plan
    (tmp_path / "transforms" / "sales").mkdir(parents=True)
    (tmp_path / "transforms" / "sales" / "at_risk.sql").write_text(
        "/* ---\npartition_by: [plan]\ntests:\n  - {check: unique, columns: [customer_id]}\n--- */\n"
        "SELECT p.customer_id, p.plan, p.probability, coalesce(sum(o.amount), 0) AS spent\n"
        "FROM ml.predictions.churn p LEFT JOIN raw.shop.orders o USING (customer_id) GROUP BY ALL\n"
    )
    transform = cli(*lens, "transform", "run", *with_bucket)
    assert transform.code == 0, transform.stderr
    gold = cli(*lens, "query", *with_bucket, "--format", "json",
               "SELECT count(*) AS n, count(DISTINCT plan) = (SELECT count(DISTINCT plan) FROM raw.crm.customers) AS plans "
               "FROM gold.sales.at_risk")
    assert gold.code == 0, gold.stderr
    assert gold.json() == [{"n": 400, "plans": True}]

    manifest = read_json(bucket_url, ".dataspoc/manifest.json")
    assert list(validator("manifest").iter_errors(manifest)) == []
    assert sorted(t["location"] for t in manifest["tables"]) == [
        "gold/sales/at_risk", "ml/predictions/churn", "raw/crm/customers", "raw/shop/orders"
    ]


def test_bad_input_gets_one_line_errors_from_every_tool(cli, tmp_path):
    sample(tmp_path)
    bucket = str(tmp_path / "bucket")
    cli("dataspoc-pipe", "init", "--bucket", bucket)
    cli("dataspoc-pipe", "add", "customers", "--path", "data/customers.csv", "--source", "crm")
    assert cli("dataspoc-pipe", "run", "customers").code == 0

    cases = [
        (("dataspoc-pipe", "add", "x", "--path", "data/missing.csv", "--source", "crm"), 0),
        (("dataspoc-pipe", "run", "x"), 1),
        (("dataspoc-lens", "query", "--bucket", bucket, "SELECT * FROM raw.crm.nope"), 2),
        (("dataspoc-ml", "train", "m", "--table", "raw.crm.nope", "--target", "churned", "--bucket", bucket), 2),
        (("dataspoc-ml", "train", "m", "--table", "raw.crm.customers", "--target", "nope", "--bucket", bucket), 2),
        (("dataspoc-lens", "ml", "predict", "ghost", "--table", "raw.crm.customers", "--bucket", bucket), 2),
    ]
    for argv, code in cases:
        result = cli(*argv)
        assert result.code == code, (argv, result.code, result.stderr)
        assert "Traceback" not in result.stderr, argv
        if code:
            assert result.stderr.strip().splitlines()[-1].startswith("error:"), (argv, result.stderr)


@pytest.mark.slow
def test_demo_runs(tmp_path):
    proc = subprocess.run(
        ["bash", str(REPO / "examples" / "demo.sh")],
        env={**__import__("os").environ, "DEMO_DIR": str(tmp_path / "demo")},
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "predicted_to_churn" in proc.stdout
    assert "revenue_at_risk" in proc.stdout
    assert "gold.sales.customer_value score 100" in proc.stdout
    assert "2 models: 2 unchanged" in proc.stderr
    assert "no new data" in proc.stderr

"""The crash harness: `pipe run`, `lens transform run`, `ml train` and `ml predict` SIGKILLed at
moments spread over their own running time, on a local folder and on S3 (moto). After every
kill readers see exactly the old or the new published state (row counts, not just "no error");
a rerun completes; at the end nothing is lost and nothing counted twice.

Each operation is first timed once, undisturbed; its kills then land at fixed fractions of that
time, so the trials hit early reading, writing and committing alike, whatever the machine's speed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO

FRACTIONS = (0.35, 0.55, 0.75, 0.95)
ORDERS_HEADER = "order_id,customer_id,ordered_at,amount,status\n"


def run(argv: list[str], cwd, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=300)


def killed_at(argv: list[str], cwd, delay: float) -> int:
    process = subprocess.Popen(argv, cwd=cwd, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    return process.wait()


def timed(argv: list[str], cwd) -> float:
    started = time.monotonic()
    done = run(argv, cwd)
    assert done.returncode == 0, done.stderr
    return time.monotonic() - started


def count(cwd, bucket: str, sql: str) -> int:
    done = run(["dataspoc-lens", "query", sql, "--bucket", bucket, "--format", "csv"], cwd)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[1])


def add_orders(cwd, n: int, first: int) -> None:
    rows = "".join(f"{first + i},{1 + i % 50},2026-11-2{i % 5}T10:00:00,{i % 97 + 0.5},paid\n" for i in range(n))
    (cwd / "data" / f"orders-{first}.csv").write_text(ORDERS_HEADER + rows)


@pytest.mark.slow
@pytest.mark.parametrize("where", ["local", "s3"])
def test_kills_spread_over_each_operation_leave_old_or_new(tmp_path, request, where):
    bucket = str(tmp_path / "bucket") if where == "local" else request.getfixturevalue("s3_bucket_url")
    subprocess.run(
        [sys.executable, str(REPO / "examples" / "generate_sample.py"), str(tmp_path / "data"),
         "--customers", "400", "--orders", "3000"],
        check=True, capture_output=True,
    )
    (tmp_path / "data" / "orders.csv").rename(tmp_path / "data" / "orders-0.csv")
    for argv in (
        ["dataspoc-pipe", "init", "--bucket", bucket],
        ["dataspoc-pipe", "add", "customers", "--path", "data/customers.csv", "--source", "crm"],
        ["dataspoc-pipe", "add", "orders", "--path", "data/orders-*.csv", "--source", "shop"],
        ["dataspoc-pipe", "run", "--all"],
    ):
        assert run(argv, tmp_path).returncode == 0, argv
    models = tmp_path / "transforms" / "sales"
    models.mkdir(parents=True)
    (models / "revenue.sql").write_text("SELECT status, count(*) AS orders, sum(amount) AS revenue FROM raw.shop.orders GROUP BY status")
    trials = 0
    expected = 3000
    next_id = 10_000_000

    # pipe run: new orders arrive; readers see the table before or after them, never part
    pipe = ["dataspoc-pipe", "run", "orders"]
    add_orders(tmp_path, 2000, next_id)
    duration = timed(pipe, tmp_path)
    next_id, expected = next_id + 2000, expected + 2000
    for fraction in FRACTIONS:
        add_orders(tmp_path, 2000, next_id)
        killed_at(pipe, tmp_path, fraction * duration)
        seen = count(tmp_path, bucket, "SELECT count(*) FROM raw.shop.orders")
        assert seen in (expected, expected + 2000), (fraction, seen)
        assert run(pipe, tmp_path).returncode == 0
        next_id, expected = next_id + 2000, expected + 2000
        assert count(tmp_path, bucket, "SELECT count(*) FROM raw.shop.orders") == expected
        trials += 1

    # lens transform run: the gold table sums the orders as they were, or as they are
    transform = ["dataspoc-lens", "transform", "run", "--full", "--bucket", bucket]
    duration = timed(transform, tmp_path)
    for fraction in FRACTIONS:
        before = count(tmp_path, bucket, "SELECT sum(orders) FROM gold.sales.revenue")
        add_orders(tmp_path, 500, next_id)
        assert run(pipe, tmp_path).returncode == 0
        next_id, expected = next_id + 500, expected + 500
        killed_at(transform, tmp_path, fraction * duration)
        seen = count(tmp_path, bucket, "SELECT sum(orders) FROM gold.sales.revenue")
        assert seen in (before, expected), (fraction, seen, before, expected)
        assert run(transform, tmp_path).returncode == 0
        assert count(tmp_path, bucket, "SELECT sum(orders) FROM gold.sales.revenue") == expected
        trials += 1

    # ml train: the promoted version stays loadable whatever the moment
    train = ["dataspoc-ml", "train", "churn", "--table", "raw.crm.customers", "--target", "churned", "--bucket", bucket]
    predict = ["dataspoc-ml", "predict", "churn", "--bucket", bucket]
    duration = timed(train, tmp_path)
    assert run(predict, tmp_path).returncode == 0
    for fraction in FRACTIONS:
        killed_at(train, tmp_path, fraction * duration)
        done = run(predict, tmp_path)
        assert done.returncode == 0, (fraction, done.stderr)
        assert count(tmp_path, bucket, "SELECT count(*) FROM ml.predictions.churn") == 400
        trials += 1
    assert run(train, tmp_path).returncode == 0

    # ml predict: the predictions are the old ones or the new ones, whole
    duration = timed(predict, tmp_path)
    for fraction in FRACTIONS:
        killed_at(predict, tmp_path, fraction * duration)
        assert count(tmp_path, bucket, "SELECT count(*) FROM ml.predictions.churn") == 400, fraction
        trials += 1
    assert run(predict, tmp_path).returncode == 0
    assert count(tmp_path, bucket, "SELECT count(*) FROM ml.predictions.churn") == 400
    assert trials == 4 * len(FRACTIONS)

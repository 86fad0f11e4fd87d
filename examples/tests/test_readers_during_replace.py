"""Readers while writers replace tables: a Lens query and an ML predict, run again and again while
Pipe overwrites a raw table, Lens rebuilds a gold table over it and ML replaces its predictions,
see one whole version of each table every time (never a mix of two runs) and never a missing
file: each tool keeps the files it replaces until `vacuum`. On a local folder and on S3 (moto).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading

import pytest

ROWS = 300
ROUNDS = 3
CONSISTENT = (
    "SELECT (SELECT max(version) FROM raw.shop.orders) AS version,"
    " (SELECT count(*) FROM raw.shop.orders) AS raw_rows,"
    " (SELECT count(DISTINCT version) FROM raw.shop.orders) AS raw_versions,"
    " (SELECT count(*) FROM gold.sales.by_version) AS gold_groups,"
    " (SELECT max(n) FROM gold.sales.by_version) AS gold_rows,"
    " (SELECT count(*) FROM ml.predictions.spend) AS predicted,"
    " (SELECT count(DISTINCT run_id) FROM ml.predictions.spend) AS predict_runs"
)


def run(argv: list[str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=os.environ.copy(), capture_output=True, text=True, timeout=300)


def write_orders(cwd, version: int) -> None:
    rows = "".join(f"{i},{version},{(i * 7 + version) % 97 + 0.5},{str(i % 3 == 0).lower()}\n" for i in range(ROWS))
    (cwd / "data" / f"orders-{version}.csv").write_text("id,version,amount,big\n" + rows)  # a day's full export


@pytest.mark.slow
@pytest.mark.parametrize("where", ["local", "s3"])
def test_queries_and_predictions_meet_whole_tables_while_they_are_replaced(tmp_path, request, where):
    bucket = str(tmp_path / "bucket") if where == "local" else request.getfixturevalue("s3_bucket_url")
    (tmp_path / "data").mkdir()
    write_orders(tmp_path, 1)
    assert run(["dataspoc-pipe", "init", "--bucket", bucket], tmp_path).returncode == 0
    assert run(["dataspoc-pipe", "add", "orders", "--path", "data/orders-*.csv", "--source", "shop"], tmp_path).returncode == 0
    project = tmp_path / "dataspoc-pipe.yaml"
    project.write_text(project.read_text().replace("mode: append", "mode: overwrite"))
    models = tmp_path / "transforms" / "sales"
    models.mkdir(parents=True)
    (models / "by_version.sql").write_text("SELECT version, count(*) AS n FROM raw.shop.orders GROUP BY version")
    lens = ["--bucket", bucket]
    for argv in (
        ["dataspoc-pipe", "run", "orders"],
        ["dataspoc-lens", "transform", "run", *lens],
        ["dataspoc-ml", "train", "spend", "--table", "raw.shop.orders", "--target", "big", "--exclude", "id,version", *lens],
        ["dataspoc-ml", "predict", "spend", "--table", "raw.shop.orders", "--key", "id", *lens],
    ):
        done = run(argv, tmp_path)
        assert done.returncode == 0, (argv, done.stderr)

    failures: list[str] = []

    def replace_everything() -> None:
        for version in range(2, 2 + ROUNDS):
            write_orders(tmp_path, version)
            for argv in (
                ["dataspoc-pipe", "run", "orders"],
                ["dataspoc-lens", "transform", "run", *lens],
                ["dataspoc-ml", "predict", "spend", "--table", "raw.shop.orders", "--key", "id", *lens],
            ):
                done = run(argv, tmp_path)
                if done.returncode != 0:
                    failures.append(f"{argv[:3]}: {done.stderr}")

    writer = threading.Thread(target=replace_everything)
    writer.start()
    versions: set[int] = set()
    writing = True
    while writing:
        writing = writer.is_alive()  # one more round of reads once the writers are done
        query = run(["dataspoc-lens", "query", CONSISTENT, *lens, "--format", "json"], tmp_path)
        assert query.returncode == 0, query.stderr  # never a missing file
        [seen] = json.loads(query.stdout)
        versions.add(seen.pop("version"))
        # one whole version of each table: all rows of a single run
        assert seen == {"raw_rows": ROWS, "raw_versions": 1, "gold_groups": 1, "gold_rows": ROWS,
                        "predicted": ROWS, "predict_runs": 1}, seen  # fmt: skip
        scored = run(["dataspoc-ml", "predict", "spend", "--table", "raw.shop.orders", "--key", "id,version",
                      "--output-table", "spend_reader", *lens, "--json"], tmp_path)  # fmt: skip
        assert scored.returncode == 0, scored.stderr
        assert json.loads(scored.stdout)["rows"] == ROWS
    writer.join()
    assert not failures, failures
    assert len(versions) >= 2, versions  # the reads did meet the tables mid-replacement

    final = run(["dataspoc-lens", "query", "SELECT DISTINCT version FROM raw.shop.orders", *lens, "--format", "csv"],
                tmp_path)  # fmt: skip
    assert final.stdout.split() == ["version", str(1 + ROUNDS)]  # the writers did replace the tables
    manifest = json.loads(run(["dataspoc-lens", "catalog", *lens, "--json"], tmp_path).stdout)
    assert {t["name"] for t in manifest} >= {"raw.shop.orders", "gold.sales.by_version", "ml.predictions.spend"}

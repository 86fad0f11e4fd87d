"""Queries are read-only by construction (DuckDB's locked configuration, not text matching):
a list of escape attempts through the installed CLI, on a local bucket and on S3 (moto)."""

from __future__ import annotations

import pytest

from dataspoc_lens.errors import ExitCode
from lake import Lake, shop


@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path) -> Lake:
    if request.param == "local":
        return shop(Lake.local(tmp_path / "bucket"))
    return shop(Lake.s3(request.getfixturevalue("s3_bucket")))


def bucket_files(lake: Lake) -> set[str]:
    return {p for p in lake.fs.find(lake.root)}


def attempts(lake: Lake, tmp_path) -> list[str]:
    inside = f"{lake.url}/raw/shop/orders/dt=2026-11-21/evil.parquet"
    secret = tmp_path / "home" / ".ssh" / "id_rsa"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text("PRIVATE KEY\n")
    return [
        f"COPY (SELECT 1 AS a) TO '{inside}'",
        f"COPY raw.shop.orders TO '{tmp_path}/stolen.csv'",
        f"EXPORT DATABASE '{tmp_path}/dump'",
        f"ATTACH '{tmp_path}/other.duckdb' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SELECT * FROM read_text('/etc/passwd')",
        f"SELECT * FROM read_csv('{secret}')",
        "SELECT * FROM read_csv('~/.ssh/id_rsa')",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "RESET allowed_directories",
        f"SELECT 1 AS one; COPY (SELECT 1 AS a) TO '{tmp_path}/second.csv'",
        "CREATE VIEW peek AS SELECT * FROM read_text('/etc/hostname'); SELECT * FROM peek",
        f"SELECT * FROM glob('{tmp_path}/*')",
    ]


def test_every_escape_attempt_is_refused_and_nothing_changes(lens, lake, tmp_path):
    before = bucket_files(lake)
    for sql in attempts(lake, tmp_path):
        result = lens("query", sql, "--bucket", lake.url, "--format", "csv")
        assert result.code in (ExitCode.USAGE, ExitCode.DATA), (sql, result)
        assert result.stdout == "", (sql, result.stdout)  # a refused statement stops all of them
        assert "Traceback" not in result.stderr and result.stderr.startswith("error: "), (sql, result.stderr)
        assert "PRIVATE KEY" not in result.stderr + result.stdout and "root:" not in result.stdout
    assert bucket_files(lake) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in tmp_path.iterdir() if p.name in ("home", "bucket", "duckdb-extensions")
    )
    ok = lens("query", "SELECT count(*) AS n FROM raw.shop.orders", "--bucket", lake.url, "--format", "csv")
    assert ok.code == ExitCode.OK and ok.stdout == "n\n5\n"


def test_a_file_in_the_bucket_the_manifest_does_not_list_cannot_be_read(lens, local_lake, tmp_path):
    lake = shop(local_lake)
    import pyarrow as pa

    lake.parquet("raw/shop/orders/dt=2026-11-23/part-orphan.parquet", pa.table({"order_id": [99], "amount": [1.0]}))
    result = lens(
        "query",
        f"SELECT * FROM read_parquet('{lake.url}/raw/shop/orders/dt=2026-11-23/part-orphan.parquet')",
        "--bucket",
        lake.url,
    )
    assert result.code == ExitCode.USAGE and "read the bucket's tables only" in result.stderr


def test_write_lets_copy_write_outside_the_bucket_only(lens, lake, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    before = bucket_files(lake)
    copied = lens(
        "query",
        f"COPY (SELECT order_id FROM raw.shop.orders ORDER BY 1) TO '{out}/ids.csv'",
        "--bucket",
        lake.url,
        "--write-dir",
        str(out),
    )
    assert copied.code == ExitCode.OK, copied.stderr
    assert (out / "ids.csv").read_text().splitlines()[:2] == ["order_id", "1"]
    into_bucket = lens(
        "query",
        f"COPY (SELECT 1 AS a) TO '{lake.url}/raw/shop/orders/evil.csv'",
        "--bucket",
        lake.url,
        "--write-dir",
        str(out),
    )
    assert into_bucket.code == ExitCode.USAGE and into_bucket.stderr.startswith("error: ")
    assert bucket_files(lake) == before
    if "://" not in lake.url:  # the bucket is under the current folder: plain --write is refused
        cwd = lens("query", "SELECT 1", "--bucket", lake.url, "--write")
        assert cwd.code == ExitCode.USAGE and "holds the bucket" in cwd.stderr
        inside = lens("query", "SELECT 1", "--bucket", lake.url, "--write-dir", f"{lake.url}/raw")
        assert inside.code == ExitCode.USAGE and "inside the bucket" in inside.stderr


def test_a_result_file_never_lands_in_a_local_bucket(lens, local_lake, tmp_path):
    """--output (and the shell's .export, through the same code) naming a file in the bucket is
    refused, the manifest included; the bucket stays as it was."""
    lake = shop(local_lake)
    before = {p: lake.fs.cat_file(p) for p in bucket_files(lake)}
    for target in (f"{lake.url}/.dataspoc/manifest.json", f"{lake.url}/raw/shop/orders/evil.csv"):
        result = lens("query", "SELECT 1 AS a", "--bucket", lake.url, "--output", target, "--format", "json")
        assert result.code == ExitCode.USAGE and "is inside the bucket" in result.stderr, result
    assert {p: lake.fs.cat_file(p) for p in bucket_files(lake)} == before
    ok = lens("query", "SELECT 1 AS a", "--bucket", lake.url, "--output", str(tmp_path / "a.csv"))
    assert ok.code == ExitCode.OK and (tmp_path / "a.csv").read_text() == "a\n1\n"


def test_a_locked_setting_is_a_read_only_refusal(lens, local_lake):
    shop(local_lake)
    result = lens("query", "SET threads = 1", "--bucket", local_lake.url)
    assert result.code == ExitCode.USAGE
    assert result.stderr.strip() == (
        "error: setting threads cannot be changed: dataspoc-lens locks DuckDB's settings so that queries stay read-only"
    )

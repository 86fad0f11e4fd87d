"""`catalog --layer` and `schema TABLE` through the installed CLI, on a bucket Pipe wrote
(curated layer, checks, an evolved schema) and on S3."""

from __future__ import annotations

import json

import pytest

from dataspoc_lens.errors import ExitCode
from lake import Lake, shop


@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path) -> Lake:
    if request.param == "local":
        return shop(Lake.local(tmp_path / "bucket"))
    return shop(Lake.s3(request.getfixturevalue("s3_bucket")))


def test_catalog_by_layer(lens, lake):
    result = lens("catalog", "--bucket", lake.url, "--layer", "raw", "--json")
    assert result.code == ExitCode.OK, result.stderr
    assert sorted(r["name"] for r in json.loads(result.stdout)) == ["raw.crm.customers", "raw.shop.orders"]
    bad = lens("catalog", "--bucket", lake.url, "--layer", "silver")
    assert bad.code == ExitCode.USAGE and "raw, curated, gold, ml" in bad.stderr
    empty = lens("catalog", "--bucket", lake.url, "--layer", "ml", "--json")
    assert empty.code == ExitCode.OK and json.loads(empty.stdout) == [] and "no tables in the ml layer" in empty.stderr


def test_schema_describes_a_table(lens, lake):
    result = lens("schema", "raw.shop.orders", "--bucket", lake.url, "--json")
    assert result.code == ExitCode.OK, result.stderr
    described = json.loads(result.stdout)
    assert described["name"] == "raw.shop.orders" and described["rows"] == 5 and described["files"] == 2
    assert [(c["name"], c["partition"]) for c in described["columns"]][-1] == ("dt", True)
    assert described["quality"] is None and len(described["schema_history"]) >= 1
    human = lens("schema", "customers", "--bucket", lake.url)  # a unique bare name
    assert human.code == ExitCode.OK and "raw.crm.customers" in human.stdout and "country" in human.stdout
    unknown = lens("schema", "raw.shop.nope", "--bucket", lake.url)
    assert unknown.code == ExitCode.USAGE and "unknown table" in unknown.stderr


def test_schema_shows_quality_and_lineage_pipe_recorded(lens, local_lake):
    lake = shop(local_lake)
    entry = next(t for t in lake.tables if t["location"] == "raw/shop/orders")
    entry["quality"] = {
        "score": 87.5,
        "run_id": entry["last_run_id"],
        "checked_at": "2026-11-24T03:00:00Z",
        "checks": 4,
        "failed": 1,
        "errors": 0,
        "warnings": 1,
    }
    entry["primary_key"] = ["order_id"]
    lake.manifest()
    result = lens("schema", "raw.shop.orders", "--bucket", lake.url)
    assert result.code == ExitCode.OK, result.stderr
    assert "quality 87.5/100 (1 of 4 checks failed" in result.stdout and "primary key: order_id" in result.stdout
    listed = json.loads(lens("catalog", "--bucket", lake.url, "--json").stdout)
    assert next(r for r in listed if r["name"] == "raw.shop.orders")["score"] == 87.5

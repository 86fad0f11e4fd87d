"""`dataspoc-lens test`: declared checks on gold tables pass and fail as designed, show failing
rows, exit 1 on an error, and write results and the contract's score to the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import gold_project as gp
from dataspoc_lens.errors import ExitCode
from dataspoc_lens.gold.checks import Result, score
from lake import schema

CONTRACT = Path(__file__).resolve().parents[2] / "contract"


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def lake(request):
    return gp.bucket(request.getfixturevalue(f"{request.param}_lake"))


def test_checks_pass_then_fail_as_designed(lens, lake, tmp_path):
    folder = gp.project(tmp_path)
    assert lens("transform", "run", "--bucket", lake.url).code == ExitCode.OK

    result = lens("test", "--bucket", lake.url)
    # customer 103 has no churn prediction: a warning, so the run still passes;
    # error unique 3 x 1, error relationships 3 x 1, warn not_null 1 x 0.75: 100 x 6.75 / 7
    assert result.code == ExitCode.OK, result.stderr
    lines = result.stdout.splitlines()
    assert "gold.sales.customer_value score 96.4" in lines
    assert "  FAIL  warn   not_null(churn)                                                 1/4 rows" in lines
    assert any("customer_id=103" in line and "country=DE" in line for line in lines)
    assert "gold.sales.daily_revenue score 100" in lines
    quality = gp.entry(lake, "gold/sales/customer_value")["quality"]
    assert quality["score"] == 96.4 and quality["checks"] == 3 and quality["failed"] == 1
    assert quality["warnings"] == 1 and quality["errors"] == 0
    assert [r["status"] for r in quality["results"]] == ["pass", "pass", "fail"]
    jsonschema.Draft202012Validator(schema("manifest")).validate(gp.manifest(lake))

    # an error check that fails: exit 1, its rows shown, the score written
    (folder / "sales" / "daily_revenue.sql").write_text(
        gp.DAILY_REVENUE.replace("    min: 0\n", "    max: 35\n  - check: row_count\n    min: 5\n    severity: warn\n")
    )
    failed = lens("test", "--select", "daily_revenue", "--bucket", lake.url, "--json")
    assert failed.code == ExitCode.DATA
    report = json.loads(failed.stdout)
    assert [r["table"] for r in report] == ["gold.sales.daily_revenue"]
    by_name = {r["name"]: r for r in report[0]["results"]}
    assert by_name["range(revenue)"]["failing_rows"] == 1
    assert by_name["range(revenue)"]["sample"] == [{"dt": "2026-11-21", "orders": 2, "revenue": 40.0}]
    assert by_name["row_count"]["status"] == "fail" and "2 rows; expected at least 5" in by_name["row_count"]["message"]
    # error not_null 3 x 1, error range 3 x 0.5, warn row_count 1 x 0: 100 x 4.5 / 7
    assert report[0]["score"] == 64.3
    assert gp.entry(lake, "gold/sales/daily_revenue")["quality"]["score"] == 64.3
    assert failed.stderr.strip() == "error: check sales.daily_revenue: range(revenue) failed; see the rows above"


def test_every_check_kind_on_a_gold_table(lens, local_lake, tmp_path):
    lake = gp.bucket(local_lake)
    gp.project(tmp_path)
    (tmp_path / "transforms" / "sales" / "customer_value.yml").write_text(
        """tests:
  - {check: accepted_values, column: country, values: [BR, PT, US]}
  - {check: range, column: spent, min: 0, max: 100}
  - {check: relationships, column: customer_id, to: raw.crm.nope, field: customer_id, severity: warn}
"""
    )
    assert lens("transform", "run", "--bucket", lake.url).code == ExitCode.OK
    unknown = lens("test", "--bucket", lake.url)
    assert unknown.code == ExitCode.USAGE
    assert "sales/customer_value.sql: check relationships(customer_id -> raw.crm.nope.customer_id)" in unknown.stderr

    (tmp_path / "transforms" / "sales" / "customer_value.yml").write_text(
        """tests:
  - {check: accepted_values, column: country, values: [BR, PT, US]}
  - {check: range, column: spent, min: 0, max: 100}
  - {check: relationships, column: customer_id, to: ml.predictions.churn, field: customer_id, severity: warn}
  - {check: freshness, column: seen, max_age: 7d}
  - {check: sql, name: big_spenders, sql: "SELECT * FROM {table} WHERE spent > 25", severity: warn}
  - {check: row_count, min: 1, max: 10}
"""
    )
    (tmp_path / "transforms" / "sales" / "customer_value.sql").write_text(
        gp.CUSTOMER_VALUE.replace(
            "coalesce(sum(o.amount), 0) AS spent", "coalesce(sum(o.amount), 0) AS spent, now() AS seen"
        )
    )
    assert lens("transform", "run", "--bucket", lake.url).code == ExitCode.OK
    result = lens("test", "--bucket", lake.url, "--json", "--select", "customer_value")
    assert result.code == ExitCode.DATA, result.stderr
    outcome = {r["name"]: r for r in json.loads(result.stdout)[0]["results"]}
    assert outcome["accepted_values(country)"]["failing_rows"] == 1
    assert outcome["accepted_values(country)"]["sample"][0]["country"] == "DE"
    assert outcome["range(spent)"]["status"] == "pass"
    assert outcome["relationships(customer_id -> ml.predictions.churn.customer_id)"]["failing_rows"] == 1
    assert outcome["freshness(seen)"]["status"] == "pass"
    assert outcome["big_spenders"]["failing_rows"] == 2
    assert outcome["row_count"]["status"] == "pass"


def test_a_model_never_built_and_bad_declarations_are_named(lens, local_lake, tmp_path):
    lake = gp.bucket(local_lake)
    gp.project(tmp_path)
    never = lens("test", "--bucket", lake.url)
    assert never.code == ExitCode.DATA
    assert "has never been built: run `dataspoc-lens transform run` first" in never.stderr
    (tmp_path / "transforms" / "sales" / "customer_value.yml").write_text(
        "tests:\n  - {check: not_nul, columns: [a]}\n"
    )
    bad = lens("test", "--bucket", lake.url)
    assert bad.code == ExitCode.USAGE
    assert "sales/customer_value.yml" in bad.stderr or "sales/customer_value.sql" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_the_score_is_the_contracts():
    """contract/conformance/score.json: the cases Pipe's score is held to as well."""
    cases = json.loads((CONTRACT / "conformance" / "score.json").read_text())["cases"]
    for case in cases:
        results = [
            Result(f"c{i}", "not_null", c["severity"], c["status"], c["checked_rows"] or 0, c["failing_rows"])
            for i, c in enumerate(case["checks"])
        ]
        assert score(results) == case["score"], case["id"]

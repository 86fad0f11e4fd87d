"""Every user mistake ends in one line on stderr and the right exit code, never a traceback."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import lake
from dataspoc_ml.errors import ExitCode, UsageError
from dataspoc_ml.train import check_model_name


@pytest.fixture
def lake_url(local_bucket) -> str:
    lake.build(local_bucket)
    return local_bucket


def one_line_error(result) -> str:
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.stderr
    return lines[0]


def fake_model(url: str, name: str = "churn") -> None:
    """features.json and metrics.json of a finished model (no pickle is needed to fail a check)."""
    base = Path(url) / "ml" / "models" / name
    base.mkdir(parents=True)
    valid = lake.VENDORED.parents[4] / "contract" / "examples" / "valid"
    for kind in ("features", "metrics"):
        document = json.loads((valid / f"{kind}.churn.json").read_text())
        document["model"] = name
        (base / f"{kind}.json").write_text(json.dumps(document))


def test_unknown_table(ml, lake_url):
    result = ml("train", "churn", "--table", "raw.crm.nope", "--target", "churned", "--bucket", lake_url)
    assert result.code == ExitCode.USAGE
    line = one_line_error(result)
    assert "raw.crm.nope" in line and "raw.crm.customers" in line and "gold.sales.customers" in line


def test_ambiguous_table(ml, lake_url):
    result = ml("train", "churn", "--table", "customers", "--target", "churned", "--bucket", lake_url)
    assert result.code == ExitCode.USAGE
    line = one_line_error(result)
    assert "ambiguous" in line and "gold.sales.customers" in line and "raw.crm.customers" in line


def test_unknown_target_column(ml, lake_url):
    result = ml("train", "churn", "--table", "crm.customers", "--target", "churn", "--bucket", lake_url)
    assert result.code == ExitCode.USAGE
    line = one_line_error(result)
    assert "raw.crm.customers" in line and "'churn'" in line and "churned" in line and "total_spent" in line


def test_unknown_exclude_column(ml, lake_url):
    result = ml(
        "train", "churn", "--table", "crm.customers", "--target", "churned", "--exclude", "nope", "--bucket", lake_url
    )
    assert result.code == ExitCode.USAGE
    assert "nope" in one_line_error(result)


def test_bad_model_name(ml, local_bucket):
    result = ml("train", "Churn-v2", "--table", "raw.crm.customers", "--target", "churned", "--bucket", local_bucket)
    assert result.code == ExitCode.USAGE
    assert "'Churn-v2'" in one_line_error(result)


@pytest.mark.parametrize("name", ["Churn", "churn-v2", "9lives", "a" * 64, "café", "", "churn.v2"])
def test_model_name_rule(name):
    with pytest.raises(UsageError, match="bad model name"):
        check_model_name(name)
    check_model_name("churn_v2")
    check_model_name("a" * 63)


def test_bad_task_and_test_size(ml, lake_url):
    result = ml(
        "train", "churn", "--table", "crm.customers", "--target", "churned", "--task", "ranking", "--bucket", lake_url
    )
    assert result.code == ExitCode.USAGE and "ranking" in one_line_error(result)
    result = ml(
        "train", "churn", "--table", "crm.customers", "--target", "churned", "--test-size", "1.5", "--bucket", lake_url
    )
    assert result.code == ExitCode.USAGE and "--test-size" in one_line_error(result)


def test_unknown_model(ml, lake_url):
    result = ml("predict", "churn", "--table", "raw.crm.customers", "--bucket", lake_url)
    assert result.code == ExitCode.USAGE
    assert "'churn'" in one_line_error(result)
    fake_model(lake_url, "other")
    result = ml("predict", "churn", "--bucket", lake_url)
    assert result.code == ExitCode.USAGE
    assert "models: other" in one_line_error(result)


def test_missing_feature_column(ml, lake_url):
    fake_model(lake_url)
    result = ml("predict", "churn", "--table", "raw.crm.prospects", "--bucket", lake_url)
    assert result.code == ExitCode.USAGE
    line = one_line_error(result)
    assert "raw.crm.prospects" in line
    assert line.split("model 'churn': ")[1].split(";")[0] == "total_spent"  # names only the missing ones


def test_too_few_rows(ml, lake_url):
    result = ml("train", "tiny", "--table", "raw.crm.tiny", "--target", "churned", "--bucket", lake_url)
    assert result.code == ExitCode.DATA, result.stderr
    assert "at least 10" in result.stderr and "Traceback" not in result.stderr


def test_single_class(ml, lake_url):
    result = ml("train", "loyal", "--table", "raw.crm.loyal", "--target", "churned", "--bucket", lake_url)
    assert result.code == ExitCode.DATA, result.stderr
    # found once the table is read: the reading step's narration comes first
    *narration, line = result.stderr.strip().splitlines()
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert all(n.lstrip().startswith("[") for n in narration)
    assert line.startswith("error: ") and "single class" in line


def test_unknown_major_contract_version(ml, lake_url):
    path = Path(lake_url) / ".dataspoc" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["contract_version"] = "2.0"
    path.write_text(json.dumps(manifest))
    result = ml("train", "churn", "--table", "raw.crm.customers", "--target", "churned", "--bucket", lake_url)
    assert result.code == ExitCode.DATA
    line = one_line_error(result)
    assert "manifest.json" in line and "2.0" in line and "1.x" in line and "upgrade dataspoc-ml" in line


def test_no_manifest(ml, local_bucket):
    result = ml("train", "churn", "--table", "raw.crm.customers", "--target", "churned", "--bucket", local_bucket)
    assert result.code == ExitCode.USAGE
    assert "no tables" in one_line_error(result)


def test_debug_shows_the_traceback(ml, lake_url):
    result = ml("train", "churn", "--table", "raw.crm.nope", "--target", "churned", "--bucket", lake_url, "--debug")
    assert result.code == ExitCode.USAGE
    assert "Traceback" in result.stderr and "error: no table 'raw.crm.nope'" in result.stderr
    result = ml(
        "train",
        "churn",
        "--table",
        "raw.crm.nope",
        "--target",
        "churned",
        env={"DATASPOC_BUCKET": lake_url, "DATASPOC_DEBUG": "1"},
    )
    assert "Traceback" in result.stderr


def test_bad_flag_is_a_usage_error(ml):
    result = ml("train", "churn", "--nope")
    assert result.code == ExitCode.USAGE and "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.s3
def test_unreachable_bucket(ml, moto_endpoint):
    started = time.monotonic()
    result = ml("models", "--bucket", "s3://lake-offline", env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, timeout=60)
    elapsed = time.monotonic() - started
    assert result.code == ExitCode.STORAGE, result.stderr
    assert "lake-offline" in one_line_error(result)
    result = ml(
        "train",
        "churn",
        "--table",
        "raw.crm.customers",
        "--target",
        "churned",
        "--bucket",
        "s3://lake-offline",
        env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
        timeout=60,
    )
    assert result.code == ExitCode.STORAGE, result.stderr
    assert "cannot reach" in one_line_error(result)
    assert elapsed < 20

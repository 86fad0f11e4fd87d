"""Credentials never end up in what the tools write or print, even when a run fails."""

from __future__ import annotations

import subprocess
import sys

import fsspec
from conftest import REPO

SECRET = "Sup3rSecretKeyThatMustNeverLeak0123456789"


def test_no_tool_writes_or_prints_the_secret_key(cli, tmp_path, s3_bucket_url, monkeypatch):
    bucket_url = s3_bucket_url
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    scratch = tmp_path / "tmp"  # every temp file the tools make, scanned at the end
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setenv("DATASPOC_LENS_HOME", str(tmp_path / "lens-home"))
    models = tmp_path / "transforms" / "crm"
    models.mkdir(parents=True)
    (models / "plans.sql").write_text(
        "/* ---\ntests:\n  - {check: not_null, columns: [plan]}\n--- */\n"
        "SELECT plan, count(*) AS customers FROM raw.crm.customers GROUP BY plan\n"
    )
    subprocess.run(
        [sys.executable, str(REPO / "examples" / "generate_sample.py"), str(tmp_path / "data"),
         "--customers", "200", "--orders", "300"],
        check=True, capture_output=True,
    )
    (tmp_path / "data" / "broken.csv").write_text("a,b\n1,2,3\n")
    results = [
        cli("dataspoc-pipe", "init", "--bucket", bucket_url),
        cli("dataspoc-pipe", "add", "customers", "--path", "data/customers.csv", "--source", "crm"),
        cli("dataspoc-pipe", "add", "broken", "--path", "data/broken.csv", "--source", "crm"),
        cli("dataspoc-pipe", "--debug", "run", "--all"),
        cli("dataspoc-ml", "--debug", "train", "churn", "--table", "raw.crm.customers", "--target", "churned",
            "--bucket", bucket_url),
        cli("dataspoc-lens", "--debug", "ml", "predict", "churn", "--table", "raw.crm.customers", "--bucket", bucket_url),
        cli("dataspoc-lens", "--debug", "query", "SELECT * FROM nope", "--bucket", bucket_url),
        cli("dataspoc-lens", "transform", "run", "--bucket", bucket_url),
        cli("dataspoc-lens", "test", "--bucket", bucket_url, "--json"),
        cli("dataspoc-lens", "inspect", "raw.crm.customers", "--bucket", bucket_url, "--html", "report.html"),
        cli("dataspoc-lens", "cache", "raw.crm.customers", "--bucket", bucket_url),
        cli("dataspoc-ml", "card", "churn", "--bucket", bucket_url),
        cli("dataspoc-ml", "show", "churn", "--bucket", bucket_url, "--json"),
    ]
    assert results[3].code == 1 and results[4].code == 0 and results[5].code == 0
    assert all(r.code == 0 for r in results[7:]), [(r.code, r.stderr) for r in results[7:]]
    for result in results:
        assert SECRET not in result.stdout + result.stderr

    fs, root = fsspec.core.url_to_fs(bucket_url)
    written = fs.find(root)
    assert any(path.endswith(".parquet") for path in written) and any("/logs/" in path for path in written)
    for path in written:
        assert SECRET.encode() not in fs.cat_file(path), path
    assert any("/gold/" in path for path in written) and any("/ml/models/churn/v1/" in path for path in written)
    local = [p for p in tmp_path.rglob("*") if p.is_file() and "data" not in p.relative_to(tmp_path).parts[:1]]
    assert (tmp_path / "report.html").exists()
    for path in local:  # the project, the HTML page, the Lens cache and settings, every temp file
        assert SECRET.encode() not in path.read_bytes(), path

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
    ]
    assert results[3].code == 1 and results[4].code == 0 and results[5].code == 0
    for result in results:
        assert SECRET not in result.stdout + result.stderr

    fs, root = fsspec.core.url_to_fs(bucket_url)
    written = fs.find(root)
    assert any(path.endswith(".parquet") for path in written) and any("/logs/" in path for path in written)
    for path in written:
        assert SECRET.encode() not in fs.cat_file(path), path
    assert SECRET not in (tmp_path / "dataspoc-pipe.yaml").read_text()

"""Named buckets: `buckets add|list|remove` and `--bucket NAME` on every command."""

from __future__ import annotations

import json

from dataspoc_lens.errors import ExitCode
from lake import Lake, shop


def test_saved_buckets_answer_to_their_names(lens, tmp_path, s3_bucket):
    local = shop(Lake.local(tmp_path / "bucket"))
    remote = shop(Lake.s3(s3_bucket))
    assert lens("buckets", "add", "here", local.url).code == ExitCode.OK
    assert lens("buckets", "add", "cloud", remote.url).code == ExitCode.OK
    listed = json.loads(lens("buckets", "list", "--json").stdout)
    assert listed == [{"name": "cloud", "uri": remote.url}, {"name": "here", "uri": local.url}]
    for name in ("here", "cloud"):
        result = lens("query", "SELECT count(*) AS n FROM raw.shop.orders", "--bucket", name, "--format", "csv")
        assert result.code == ExitCode.OK, result.stderr
        assert result.stdout == "n\n5\n"
    assert "raw.shop.orders" in lens("catalog", "--bucket", "cloud").stdout
    config = (tmp_path / "home" / ".dataspoc-lens" / "config.yaml").read_text()
    assert "testing" not in config  # the AWS keys of the environment are never saved

    again = lens("buckets", "add", "here", str(tmp_path / "elsewhere"))
    assert again.code == ExitCode.USAGE and "--replace" in again.stderr
    removed = lens("buckets", "remove", "here")
    assert removed.code == ExitCode.OK
    assert [b["name"] for b in json.loads(lens("buckets", "list", "--json").stdout)] == ["cloud"]
    gone = lens("buckets", "remove", "here")
    assert gone.code == ExitCode.USAGE and "no saved bucket 'here'" in gone.stderr


def test_a_bucket_uri_with_credentials_is_refused(lens, tmp_path):
    result = lens("buckets", "add", "leaky", "s3://AKIAXX:s3cr3t@acme-lake")
    assert result.code == ExitCode.USAGE and "may not hold credentials" in result.stderr
    assert "s3cr3t" not in result.stderr
    assert not (tmp_path / "home" / ".dataspoc-lens" / "config.yaml").exists()
    bad = lens("buckets", "add", "Bad-Name", str(tmp_path))
    assert bad.code == ExitCode.USAGE and "lowercase" in bad.stderr


def test_lens_home_comes_from_the_environment(lens, tmp_path):
    elsewhere = tmp_path / "settings"
    assert lens("buckets", "add", "x", str(tmp_path), env={"DATASPOC_LENS_HOME": str(elsewhere)}).code == ExitCode.OK
    assert (elsewhere / "config.yaml").exists()

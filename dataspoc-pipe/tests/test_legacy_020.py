"""Pipeline files written for the public dataspoc-pipe 0.2.0 load as they are."""

from __future__ import annotations

from conftest import read_bucket_json, table_rows
from dataspoc_pipe.errors import ExitCode

LEGACY = """source:
  tap: {tap}
  config:
    token: ${{CRM_TOKEN}}
  streams:
    - public-orders
destination:
  bucket: file://{bucket}
  path: raw
  compression: zstd
incremental:
  enabled: true
schedule:
  cron: "0 * * * *"
"""


def test_a_020_pipeline_file_runs_as_it_is(pipe, tmp_path, fixture_tap):
    folder = tmp_path / "home" / ".dataspoc-pipe" / "pipelines"
    folder.mkdir(parents=True)
    (tmp_path / "lake").mkdir()
    (folder / "crm.yaml").write_text(LEGACY.format(tap=fixture_tap, bucket=tmp_path / "lake"))
    env = {"DATASPOC_PIPE_PROJECT": str(folder), "CRM_TOKEN": "t0k3n-abc", "FIXTURE_EXPECT_TOKEN": "t0k3n-abc"}

    status = pipe("status", "--json", env=env)
    assert status.code == ExitCode.OK, status.stderr
    assert status.json()[0]["pipeline"] == "crm"
    result = pipe("run", "crm", "--json", env=env)
    assert result.code == ExitCode.OK, result.stderr
    assert result.json()[0]["rows_written"] == 5  # streams: [public-orders] is honoured (0.2.0 ignored it)
    [table] = read_bucket_json(str(tmp_path / "lake"), ".dataspoc/manifest.json")["tables"]
    assert table["location"] == "raw/fixture/public_orders"  # <path>/<tap without 'tap-'>/<stream>, as 0.2.0
    assert len(table_rows(str(tmp_path / "lake"), table["location"])) == 5
    again = pipe("run", "crm", "--json", env=env)  # incremental.enabled: the tap's state is passed back
    assert again.json()[0]["rows_written"] == 5
    assert sorted(r["id"] for r in table_rows(str(tmp_path / "lake"), table["location"])) == list(range(1, 11))

    added = pipe("add", "x", "--kind", "csv", "--path", "a.csv", "--namespace", "n", env=env)
    assert added.code == ExitCode.USAGE and "0.2.0" in added.stderr
    assert "t0k3n-abc" not in (folder / "crm.yaml").read_text()


def test_a_020_file_with_another_layout_is_refused(pipe, tmp_path, fixture_tap):
    path = tmp_path / "p.yaml"
    path.write_text(LEGACY.format(tap=fixture_tap, bucket=tmp_path).replace("path: raw", "path: landing"))
    result = pipe("run", "p", "--project", str(path))
    assert result.code == ExitCode.USAGE and "destination.path" in result.stderr

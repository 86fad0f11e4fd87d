"""Many writers on one bucket: pipelines running at once all end up in the manifest, with every
row, on a local folder and on S3 (the manifest lock is S3's conditional PUT there); and readers
never meet a half-published table."""

from __future__ import annotations

import os
import subprocess

from conftest import PIPE, read_bucket_json, table_rows, write_project
from dataspoc_pipe.errors import ExitCode

PIPELINES = 8


def test_eight_pipelines_at_once_all_land_in_the_manifest(tmp_path, bucket_url):
    pipelines = {}
    for n in range(PIPELINES):
        folder = tmp_path / "data" / f"p{n}"
        folder.mkdir(parents=True)
        (folder / "rows.csv").write_text("id,value\n" + "".join(f"{i},{n * 1000 + i}\n" for i in range(50 + n)))
        pipelines[f"p{n}"] = {"source": {"kind": "csv", "path": f"data/p{n}/*.csv"}, "target": {"namespace": "shop"}}
    write_project(tmp_path, pipelines, bucket=bucket_url)

    runs = [
        subprocess.Popen(
            [str(PIPE), "run", name, "--quiet"],
            cwd=tmp_path,
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in pipelines
    ]
    outcomes = [(run.wait(timeout=300), run.stderr.read() if run.stderr else "") for run in runs]
    assert all(code == ExitCode.OK for code, _ in outcomes), outcomes

    manifest = read_bucket_json(bucket_url, ".dataspoc/manifest.json")
    assert sorted(t["location"] for t in manifest["tables"]) == sorted(f"raw/shop/p{n}" for n in range(PIPELINES))
    for n in range(PIPELINES):
        rows = table_rows(bucket_url, f"raw/shop/p{n}")
        assert sorted(r["value"] for r in rows) == [n * 1000 + i for i in range(50 + n)]
    # and every one of them is done: a rerun of all finds nothing new
    again = subprocess.run([str(PIPE), "run", "--all", "--json"], cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == ExitCode.OK, again.stderr
    assert '"no_new_data"' in again.stdout and '"success"' not in again.stdout

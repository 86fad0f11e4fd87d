"""Concurrent writers lose nothing, on every backend: the manifest lock is each store's atomic
create (an exclusive create on a disk, S3 If-None-Match, GCS ifGenerationMatch=0, Azure
If-None-Match), so a read-modify-write under it sees the previous writer's result.

Each writer is a process of its own, as in production (cron jobs of the three tools sharing a
bucket), started together on the emulators the conftest runs."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import yaml

from conftest import BACKENDS, REPO, read_json

# Each tool holds its own copy of bucket.py (make contract-sync): the writers mix them, as the
# three tools do on one bucket.
COUNTER = """
import json, sys, time
from dataspoc_{tool}.bucket import Bucket

bucket, start_at, times = Bucket(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
time.sleep(max(0.0, start_at - time.time()))
for _ in range(times):
    with bucket.lock(".dataspoc/manifest.lock", owner="test", timeout=120):
        document = bucket.read_json("counter.json")
        document["n"] += 1
        document["by"].append({tool!r})
        bucket.write_json("counter.json", document)
"""
WRITERS = ("pipe", "lens", "ml", "pipe")
TIMES = 5


def bucket_for(backend, tmp_path, request) -> str:
    if backend == "local":
        (tmp_path / "bucket").mkdir()
        return str(tmp_path / "bucket")
    return request.getfixturevalue({"s3": "s3_bucket_url", "azure": "az_bucket_url", "gcs": "gcs_bucket_url"}[backend])


def started_together(commands: list[list[str]], cwd) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen(c, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
    results = []
    for proc, command in zip(procs, commands):
        out, err = proc.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(command, proc.returncode, out, err))
    return results


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_lock_holders_in_four_processes_lose_no_update(backend, tmp_path, request):
    """Four processes (Pipe's, Lens's and ML's copies of the bucket module) each add one to a
    JSON counter five times under the manifest lock: the counter ends at 20."""
    url = bucket_for(backend, tmp_path, request)
    python = {tool: str(REPO / f"dataspoc-{tool}" / ".venv" / "bin" / "python") for tool in set(WRITERS)}
    subprocess.run(
        [python["pipe"], "-c", "import json, sys\nfrom dataspoc_pipe.bucket import Bucket\n"
         "Bucket(sys.argv[1]).write_json('counter.json', {'n': 0, 'by': []})", url],
        check=True, cwd=tmp_path,
    )
    start_at = time.time() + 3  # after every interpreter has imported its backend
    results = started_together(
        [[python[tool], "-c", COUNTER.format(tool=tool), url, str(start_at), str(TIMES)] for tool in WRITERS], tmp_path
    )
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]
    counter = read_json(url, "counter.json")
    assert counter["n"] == len(WRITERS) * TIMES
    assert sorted(counter["by"]) == sorted(tool for tool in WRITERS for _ in range(TIMES))


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_four_pipelines_run_at_once_each_publish_their_table(backend, cli, tmp_path, request):
    """Four `dataspoc-pipe run`s of different pipelines against one bucket, started together:
    each rewrites the manifest under the lock, and every table is in it at the end."""
    url = bucket_for(backend, tmp_path, request)
    names = ["north", "south", "east", "west"]
    (tmp_path / "data").mkdir()
    pipelines = {}
    for i, name in enumerate(names):
        (tmp_path / "data" / f"{name}.csv").write_text("id,amount\n" + "".join(f"{n},{n * i}\n" for n in range(1, 6 + i)))
        pipelines[name] = {"source": {"kind": "csv", "path": f"data/{name}.csv"}, "target": {"namespace": "sales"}}
    document = {"version": 1, "bucket": url, "pipelines": pipelines}
    (tmp_path / "dataspoc-pipe.yaml").write_text(yaml.safe_dump(document))

    results = started_together([["dataspoc-pipe", "run", name, "--json"] for name in names], tmp_path)
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]
        [log] = json.loads(result.stdout)
        assert log["status"] == "success"

    manifest = read_json(url, ".dataspoc/manifest.json")
    rows = {t["location"]: sum(p["rows"] for p in t["partitions"]) for t in manifest["tables"]}
    assert rows == {f"raw/sales/{name}": 5 + i for i, name in enumerate(names)}
    count = cli("dataspoc-lens", "query", "--bucket", url, "--format", "json",
                "SELECT (SELECT count(*) FROM raw.sales.north) + (SELECT count(*) FROM raw.sales.west) AS n")
    assert count.code == 0, count.stderr
    assert count.json() == [{"n": 5 + 8}]

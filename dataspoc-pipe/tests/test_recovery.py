"""A crash between publishing steps never loses committed rows nor counts them twice."""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq

from dataspoc_pipe.errors import ExitCode
from test_run_flow import orders, setup_project, write_csv


def manifest_rows(bucket):
    document = json.loads((bucket / ".dataspoc" / "manifest.json").read_text())
    [table] = document["tables"]
    files = [bucket / f["path"] for p in table["partitions"] for f in p["files"]]
    return table["row_count"], sum(pq.read_metadata(f).num_rows for f in files)


def test_crash_after_state_before_manifest_is_repaired_on_next_run(pipe, tmp_path):
    bucket = tmp_path / "bucket"
    setup_project(pipe, str(bucket), tmp_path)
    assert pipe("run", "orders").code == ExitCode.OK
    write_csv(tmp_path / "data" / "orders-2.csv", orders(120, 30))
    saved = (bucket / ".dataspoc" / "manifest.json").read_text()
    assert pipe("run", "orders").code == ExitCode.OK
    # As if the process died after the state and run log were written but before the manifest.
    (bucket / ".dataspoc" / "manifest.json").write_text(saved)
    assert manifest_rows(bucket) == (120, 120)

    result = pipe("run", "orders", "--json")
    assert result.code == ExitCode.OK and result.json()[0]["status"] == "no_new_data"
    assert manifest_rows(bucket) == (150, 150)


def test_crash_before_state_leaves_orphans_that_no_reader_counts(pipe, tmp_path):
    bucket = tmp_path / "bucket"
    setup_project(pipe, str(bucket), tmp_path)
    assert pipe("run", "orders").code == ExitCode.OK
    dotdir = bucket / ".dataspoc"
    saved = {p: p.read_text() for p in dotdir.rglob("*.json")}
    write_csv(tmp_path / "data" / "orders-2.csv", orders(120, 30))
    assert pipe("run", "orders").code == ExitCode.OK
    # As if the process died after the data files were published but before the state.
    shutil.rmtree(dotdir)
    for path, text in saved.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    assert pipe("run", "orders").code == ExitCode.OK
    assert len(list((bucket / "raw").rglob("*.parquet"))) == 3  # one orphan stays on disk
    assert manifest_rows(bucket) == (150, 150)


def test_a_manifest_lock_timeout_after_the_state_is_finished_by_the_next_run(pipe, tmp_path, monkeypatch):
    """The commit fails after the state (the manifest lock is held): nothing is lost, and the
    message does not claim the run did nothing."""
    import socket
    import subprocess

    bucket = tmp_path / "bucket"
    setup_project(pipe, str(bucket), tmp_path)
    assert pipe("run", "orders").code == ExitCode.OK
    write_csv(tmp_path / "data" / "orders-2.csv", orders(120, 30))
    holder = subprocess.Popen(["sleep", "60"])
    lock = bucket / ".dataspoc" / "manifest.lock"
    try:
        stamp = "2099-01-01T00:00:00+00:00"
        lock.write_text(json.dumps({"owner": "x", "host": socket.gethostname(), "pid": holder.pid, "at": stamp}))
        result = pipe("run", "orders", env={"DATASPOC_LOCK_TIMEOUT": "1"})
    finally:
        holder.kill()
        holder.wait()
        lock.unlink(missing_ok=True)
    assert result.code == ExitCode.STORAGE, result.stderr
    assert "running already" not in result.stderr and "next run adds it to the manifest" in result.stderr
    assert manifest_rows(bucket) == (120, 120)
    assert pipe("run", "orders").code == ExitCode.OK
    assert manifest_rows(bucket) == (150, 150)

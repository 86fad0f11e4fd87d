"""SIGKILL at every step of the commit of an overwrite and a merge: readers see the old table or
the new one, never a mix, and the next run converges."""

from __future__ import annotations

import signal
import sqlite3

import pytest

from conftest import table_rows, write_project
from dataspoc_pipe.errors import ExitCode

POINTS = ["after-data", "after-log", "after-state"]


def accounts(tmp_path, rows, mode):
    db = sqlite3.connect(tmp_path / "app.db")
    db.execute("CREATE TABLE IF NOT EXISTS accounts (id INTEGER PRIMARY KEY, plan TEXT, updated_at INTEGER)")
    db.executemany("INSERT OR REPLACE INTO accounts VALUES (?, ?, ?)", rows)
    db.commit()
    db.close()
    source = {"kind": "sqlite", "path": "app.db"}
    if mode == "merge":
        source["cursor"] = "updated_at"
    write_project(tmp_path, {"accounts": {"source": source, "target": {"namespace": "app"}, "mode": mode}})


def visible(tmp_path):
    return sorted((r["id"], r["plan"]) for r in table_rows(str(tmp_path / "bucket"), "raw/app/accounts"))


@pytest.mark.parametrize("mode", ["overwrite", "merge"])
@pytest.mark.parametrize("point", POINTS)
def test_a_killed_commit_leaves_the_old_table_or_the_new_one(pipe, tmp_path, mode, point):
    accounts(tmp_path, [(1, "free", 1), (2, "free", 2)], mode)
    assert pipe("run", "accounts").code == ExitCode.OK
    before = visible(tmp_path)
    accounts(tmp_path, [(2, "pro", 3), (3, "team", 4)], mode)
    expected = [(1, "free"), (2, "pro"), (3, "team")]

    killed = pipe("run", "accounts", env={"DATASPOC_FAILPOINT": point})
    assert killed.code == -signal.SIGKILL
    assert visible(tmp_path) == before  # readers see the table as it was

    again = pipe("run", "accounts")
    assert again.code == ExitCode.OK, again.stderr
    assert visible(tmp_path) == expected
    assert pipe("run", "accounts").code == ExitCode.OK
    assert visible(tmp_path) == expected  # and it stays converged


def test_a_run_killed_after_its_log_is_logged_as_cut_short(pipe, tmp_path):
    accounts(tmp_path, [(1, "free", 1)], "append")
    assert pipe("run", "accounts", env={"DATASPOC_FAILPOINT": "after-log"}).code == -signal.SIGKILL
    assert pipe("run", "accounts").code == ExitCode.OK
    runs = pipe("logs", "accounts", "--json").json()
    assert [r["status"] for r in runs] == ["success", "failed"] and "cut short" not in (runs[0]["error"] or "")
    assert "before its state" in runs[1]["error"]
    assert visible(tmp_path) == [(1, "free")]


def test_a_recovered_run_lists_every_column_its_files_have(pipe, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").write_text('{"id": 1}\n')
    (tmp_path / "data" / "b.jsonl").write_text('{"id": 2, "note": "x"}\n')
    write_project(
        tmp_path, {"ev": {"source": {"kind": "jsonl", "path": "data/*.jsonl"}, "target": {"namespace": "web"}}}
    )
    import json

    assert pipe("run", "ev", env={"DATASPOC_FAILPOINT": "after-state"}).code == -signal.SIGKILL
    assert pipe("run", "ev").code == ExitCode.OK
    manifest = json.loads((tmp_path / "bucket" / ".dataspoc" / "manifest.json").read_text())
    assert [c["name"] for c in manifest["tables"][0]["columns"]] == ["id", "note", "dt"]


def test_a_recovered_run_keeps_the_primary_key(pipe, tmp_path):
    import json

    accounts(tmp_path, [(1, "free", 1)], "append")
    assert pipe("run", "accounts", env={"DATASPOC_FAILPOINT": "after-state"}).code == -signal.SIGKILL
    assert pipe("run", "accounts").code == ExitCode.OK
    manifest = json.loads((tmp_path / "bucket" / ".dataspoc" / "manifest.json").read_text())
    assert manifest["tables"][0]["primary_key"] == ["id"]


def test_vacuum_deletes_what_killed_runs_left_but_spares_a_commit_in_flight(pipe, tmp_path):
    accounts(tmp_path, [(1, "free", 1)], "merge")
    assert pipe("run", "accounts").code == ExitCode.OK
    accounts(tmp_path, [(2, "pro", 2)], "merge")
    assert pipe("run", "accounts", env={"DATASPOC_FAILPOINT": "after-data"}).code == -signal.SIGKILL

    def parquet():
        return sorted(str(p.relative_to(tmp_path / "bucket")) for p in (tmp_path / "bucket" / "raw").rglob("*.parquet"))

    left = parquet()
    assert len(left) == 2  # the killed run's merged file: no table lists it
    young = pipe("vacuum", "--json")  # 7 days: too young to go
    assert young.code == ExitCode.OK and young.json()["orphans"] == []
    swept = pipe("vacuum", "--retain", "0", "--json").json()
    [orphan] = [o["path"] for o in swept["orphans"] if o["path"].startswith("raw/")]
    assert orphan in left
    assert any(o["path"].startswith(".dataspoc/tmp/") for o in swept["orphans"])  # its staging files too
    assert not list((tmp_path / "bucket" / ".dataspoc" / "tmp").rglob("*.parquet"))
    assert len(parquet()) == 1 and visible(tmp_path) == [(1, "free")]

    # a run killed after its state: its files wait for the next run's recovery; vacuum spares them
    assert pipe("run", "accounts", env={"DATASPOC_FAILPOINT": "after-state"}).code == -signal.SIGKILL
    spared = pipe("vacuum", "--retain", "0", "--json").json()["orphans"]
    assert [o for o in spared if o["path"].startswith("raw/")] == []
    assert pipe("run", "accounts").code == ExitCode.OK
    assert visible(tmp_path) == [(1, "free"), (2, "pro")]

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

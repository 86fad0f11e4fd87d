"""SIGKILL during `transform run`: every gold table stays readable as its old or its new version,
and a rerun converges to what a clean run gives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

import gold_project as gp
from conftest import LENS
from dataspoc_lens.errors import ExitCode

LATER = "20261123T030000.000Z-b0b0b0"
GOLD = ("gold/sales/daily_revenue", "gold/sales/customers", "gold/sales/customer_value", "gold/sales/overview")


def snapshot(lens, lake) -> dict[str, list[list[str]]]:
    """Every gold table's rows, read through Lens as a reader would."""
    tables = {}
    for location in GOLD:
        name = location.replace("/", ".")
        result = lens("query", f"SELECT * FROM {name} ORDER BY ALL", "--bucket", lake.url, "--format", "json")
        assert result.code == ExitCode.OK, result.stderr
        tables[location] = json.loads(result.stdout)
    return tables


def built(lens, lake, tmp_path) -> tuple[dict, dict]:
    """The old version of every table, then new upstream data and the version a clean run gives
    (computed in a copy of the bucket, so the bucket itself is left at the old version)."""
    gp.project(tmp_path)
    assert lens("transform", "run", "--bucket", lake.url).code == ExitCode.OK
    old = snapshot(lens, lake)
    gp.arrive(lake, "raw/shop/orders", "2026-11-21", gp.orders([6], 5.0), LATER)
    gp.arrive(lake, "raw/shop/orders", "2026-11-22", gp.orders([7, 8], 1.0), LATER)
    twin = tmp_path / "twin"
    subprocess.run(["cp", "-a", lake.root, str(twin)], check=True)
    assert lens("transform", "run", "--bucket", str(twin)).code == ExitCode.OK
    new = {loc: rows for loc, rows in snapshot(lens, type(lake).local(twin)).items()}
    assert new != old
    return old, new


@pytest.mark.parametrize("step", ["after-files", "after-manifest"])
def test_a_kill_at_each_commit_step_leaves_old_or_new_and_a_rerun_converges(lens, local_lake, tmp_path, step):
    lake = gp.bucket(local_lake)
    old, new = built(lens, lake, tmp_path)
    killed = lens("transform", "run", "--bucket", lake.url, env={"DATASPOC_FAILPOINT": f"lens:{step}"})
    assert killed.code == -signal.SIGKILL
    now = snapshot(lens, lake)
    for location in GOLD:
        assert now[location] in (old[location], new[location]), location
    rerun = lens("transform", "run", "--bucket", lake.url)
    assert rerun.code == ExitCode.OK, rerun.stderr
    assert snapshot(lens, lake) == new
    settled = lens("transform", "run", "--bucket", lake.url, "--json")
    assert {o["status"] for o in json.loads(settled.stdout)} == {"unchanged"}


def test_kills_at_random_moments_never_leave_a_half_table(lens, local_lake, tmp_path):
    lake = gp.bucket(local_lake)
    old, new = built(lens, lake, tmp_path)
    env = {**os.environ}
    for delay in (0.15, 0.3, 0.45, 0.6, 0.8):
        process = subprocess.Popen([str(LENS), "transform", "run", "--full", "--bucket", lake.url], env=env)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        now = snapshot(lens, lake)
        for location in GOLD:
            assert now[location] in (old[location], new[location]), (delay, location)
    rerun = lens("transform", "run", "--bucket", lake.url)
    assert rerun.code == ExitCode.OK, rerun.stderr
    assert snapshot(lens, lake) == new

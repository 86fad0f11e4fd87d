"""Schedules: cron expressions, `schedule install|list|remove` on a crontab file, the installed
line run by a shell as cron would, and `run --if-due`."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from conftest import write_project
from dataspoc_pipe import cron
from dataspoc_pipe.errors import ExitCode

AT = datetime(2026, 11, 24, 21, 47, 30, tzinfo=timezone.utc)  # a Tuesday


@pytest.mark.parametrize(
    "expression, after, before",
    [
        ("*/15 * * * *", "2026-11-24 22:00", "2026-11-24 21:45"),
        ("0 3 * * *", "2026-11-25 03:00", "2026-11-24 03:00"),
        ("30 2 * * mon-fri", "2026-11-25 02:30", "2026-11-24 02:30"),
        ("0 0 1 */3 *", "2027-01-01 00:00", "2026-10-01 00:00"),
        ("0 12 13 * fri", "2026-11-27 12:00", "2026-11-20 12:00"),  # day 13 or any Friday, as cron
        ("0 0 29 2 *", "2028-02-29 00:00", "2024-02-29 00:00"),
        ("@hourly", "2026-11-24 22:00", "2026-11-24 21:00"),
        ("0 0 * * 7", "2026-11-29 00:00", "2026-11-22 00:00"),  # 7 is Sunday too
    ],
)
def test_next_and_last_fire_times(expression, after, before):
    schedule = cron.parse(expression)
    assert schedule.next_after(AT).strftime("%Y-%m-%d %H:%M") == after
    assert schedule.last_before(AT).strftime("%Y-%m-%d %H:%M") == before


@pytest.mark.parametrize(
    "expression, says",
    [
        ("* * * *", "five fields"),
        ("61 * * * *", "out of range for the minute"),
        ("0 0 30 2 *", "never fires"),
        ("x * * * *", "not a valid minute"),
        ("*/0 * * * *", "out of range"),
        ("0 0 * * funday", "not a valid day of week"),
    ],
)
def test_a_wrong_schedule_is_named(expression, says):
    with pytest.raises(ValueError, match=says):
        cron.parse(expression)


def project(tmp_path, schedule="*/15 * * * *"):
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "a.csv").write_text("id,name\n1,a\n2,b\n")
    pipelines = {
        "orders": {
            "source": {"kind": "csv", "path": "data/*.csv"},
            "target": {"namespace": "shop"},
            "schedule": schedule,
        },
        "manual": {"source": {"kind": "csv", "path": "data/*.csv"}, "target": {"namespace": "other"}},
    }
    return write_project(tmp_path, pipelines)


def test_install_list_and_remove_keep_other_crontab_lines(pipe, tmp_path):
    project(tmp_path)
    crontab = tmp_path / "crontab"
    crontab.write_text("MAILTO=ops@example.com\n5 4 * * * /usr/local/bin/backup\n")
    result = pipe("schedule", "install", "--crontab-file", str(crontab))
    assert result.code == ExitCode.OK, result.stderr
    [line] = result.stdout.strip().splitlines()
    assert line.startswith("*/15 * * * * cd ") and " run orders --quiet --project " in line
    assert f">> {tmp_path / 'logs' / 'orders.log'} 2>&1" in line and "flock -n" in line
    text = crontab.read_text()
    assert text.startswith("MAILTO=ops@example.com\n5 4 * * * /usr/local/bin/backup\n# >>> dataspoc-pipe ")
    assert text.count(line) == 1

    assert pipe("schedule", "install", "--crontab-file", str(crontab)).code == ExitCode.OK
    assert crontab.read_text() == text  # installing again changes nothing

    listed = pipe("schedule", "list", "--json", "--crontab-file", str(crontab)).json()
    assert [(r["pipeline"], r["installed"], r["schedule"]) for r in listed] == [
        ("manual", False, None),
        ("orders", True, "*/15 * * * *"),
    ]
    assert listed[1]["next_run"].endswith(("00:00Z", "15:00Z", "30:00Z", "45:00Z"))

    removed = pipe("schedule", "remove", "--crontab-file", str(crontab))
    assert removed.code == ExitCode.OK and "removed 1 crontab line: orders" in removed.stderr
    assert crontab.read_text() == "MAILTO=ops@example.com\n5 4 * * * /usr/local/bin/backup\n"


def test_the_installed_line_runs_the_pipeline_when_a_shell_runs_it(pipe, tmp_path):
    project(tmp_path)
    crontab = tmp_path / "crontab"
    line = pipe("schedule", "install", "--crontab-file", str(crontab)).stdout.strip()
    command = line.split(" ", 5)[5].rsplit("  # dataspoc-pipe:", 1)[0]
    elsewhere = tmp_path / "home"  # cron starts in the user's home, with a bare environment
    done = subprocess.run(["sh", "-c", command], cwd=elsewhere, env={"PATH": "/usr/bin:/bin", "HOME": str(elsewhere)})
    assert done.returncode == 0
    assert (tmp_path / "bucket" / "raw" / "shop" / "orders").is_dir()
    assert (tmp_path / "logs" / "orders.log").read_text() == ""  # --quiet: only errors would be there
    status = pipe("status", "--json").json()
    row = next(r for r in status if r["pipeline"] == "orders")
    assert row["last_run"]["status"] == "success" and row["next_run"] is not None and row["score"] is None


def test_install_refuses_what_it_cannot_schedule(pipe, tmp_path):
    project(tmp_path)
    crontab = tmp_path / "crontab"
    manual = pipe("schedule", "install", "manual", "--crontab-file", str(crontab))
    assert manual.code == ExitCode.USAGE and "pipeline 'manual' has no schedule" in manual.stderr
    assert not crontab.exists()


def test_a_wrong_schedule_in_the_project_or_add_is_a_usage_error(pipe, tmp_path):
    project(tmp_path, schedule="0 25 * * *")
    result = pipe("status")
    assert result.code == ExitCode.USAGE and "pipelines.orders.schedule" in result.stderr and "hour" in result.stderr
    project(tmp_path)
    added = pipe("add", "more", "--kind", "csv", "--path", "data/*.csv", "--namespace", "x", "--schedule", "daily")
    assert added.code == ExitCode.USAGE and "--schedule" in added.stderr
    ok = pipe("add", "more", "--kind", "csv", "--path", "data/*.csv", "--namespace", "x", "--schedule", "@daily")
    assert ok.code == ExitCode.OK, ok.stderr
    assert "schedule: '@daily'" in (tmp_path / "dataspoc-pipe.yaml").read_text()


def test_run_if_due_runs_what_its_schedule_says(pipe, tmp_path):
    project(tmp_path, schedule="@yearly")  # no boundary falls between the two runs
    first = pipe("run", "--all", "--if-due")
    assert first.code == ExitCode.OK, first.stderr
    assert "orders: 2 rows" in first.stderr and "manual: skipped, no schedule" in first.stderr
    second = pipe("run", "--all", "--if-due")
    assert second.code == ExitCode.OK and "orders: skipped, not due: last run" in second.stderr

    from dataspoc_pipe import config, schedule
    from dataspoc_pipe.bucket import Bucket

    pipeline = config.load(tmp_path / "dataspoc-pipe.yaml").pipelines["orders"]
    bucket = Bucket(str(tmp_path / "bucket"))
    now = datetime.now(timezone.utc)
    assert schedule.due(bucket, "orders", pipeline, now)[0] is False
    assert schedule.due(bucket, "orders", pipeline, now + timedelta(days=367))[0] is True


def test_day_of_month_with_a_star_step_leaves_the_weekday_to_decide_as_cron_does():
    schedule = cron.parse("0 0 */2 * mon")  # cron: every Monday whose day is odd-stepped -> AND
    fired = schedule.next_after(AT)
    assert fired.isoweekday() == 1 and (fired.day - 1) % 2 == 0


def test_a_check_run_does_not_count_as_the_scheduled_run(pipe, tmp_path):
    project(tmp_path, schedule="@yearly")
    assert pipe("run", "orders").code == ExitCode.OK
    assert pipe("check", "orders").code == ExitCode.OK  # writes a log of its own
    from dataspoc_pipe import config, schedule
    from dataspoc_pipe.bucket import Bucket

    pipeline = config.load(tmp_path / "dataspoc-pipe.yaml").pipelines["orders"]
    bucket = Bucket(str(tmp_path / "bucket"))
    extract_time = schedule.last_attempt(bucket, "orders")
    logs = pipe("logs", "orders", "--json").json()
    assert [r["status"] for r in logs] == ["success", "success"]
    first = min(r["run_id"] for r in logs)
    assert extract_time.strftime("%Y%m%dT%H%M%S") == first[:15]
    assert schedule.due(bucket, "orders", pipeline)[0] is False

"""What every pipeline has whatever its kind: ${VAR} settings, dry runs, --full, state commands,
one run at a time, the manifest kept as found, and --all going on after a failure."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone

from conftest import PIPE, one_csv_pipeline, read_bucket_json, table_rows, write_project
from dataspoc_pipe.errors import ExitCode

SECRET = "s3cr3t-Value-42"


def all_text_under(folder) -> str:
    return "\n".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file() and p.suffix != ".parquet")


def test_a_setting_from_the_environment_is_never_written_anywhere(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv": f"id;name\n1;ann\n{SECRET};bob\n"}, delimiter="${SEP}", nulls=["${MARK}"])
    project_text = (tmp_path / "dataspoc-pipe.yaml").read_text()

    missing = pipe("run", "orders", env={"SEP": ";"})
    assert missing.code == ExitCode.USAGE and "MARK is not set" in missing.stderr

    env = {"MARK": SECRET, "SEP": ";"}
    result = pipe("run", "orders", "--json", env=env)
    assert result.code == ExitCode.OK, result.stderr
    assert table_rows(str(tmp_path / "bucket"), "raw/shop/orders") == [
        {"id": 1, "name": "ann"},
        {"id": None, "name": "bob"},
    ]
    assert (tmp_path / "dataspoc-pipe.yaml").read_text() == project_text

    one_csv_pipeline(tmp_path, {"b.csv": "id;name\n2;cid\n"}, delimiter="${SEP}", columns={"id": "${MARK}"})
    failed = pipe("run", "orders", env=env)  # the value turns up in an error message: shown as ***
    assert failed.code == ExitCode.USAGE and "unknown column type '***'" in failed.stderr
    for text in (result.stdout, result.stderr, failed.stderr, all_text_under(tmp_path / "bucket")):
        assert SECRET not in text


def test_unknown_fields_in_the_manifest_are_kept(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv": "id\n1\n"})
    assert pipe("run", "orders").code == ExitCode.OK
    path = tmp_path / "bucket" / ".dataspoc" / "manifest.json"
    document = json.loads(path.read_text())
    document["owner_team"] = "data"  # a later 1.x field, at every level
    document["tables"][0]["freshness_sla"] = "1d"
    document["tables"][0]["partitions"][0]["files"][0]["checksum"] = "abc"
    document["tables"].append(
        {
            **document["tables"][0],
            "location": "gold/sales/daily",
            "layer": "gold",
            "namespace": "sales",
            "name": "daily",
            "partition_by": [],
            "lens_only": True,
        }
    )
    path.write_text(json.dumps(document))

    (tmp_path / "data" / "b.csv").write_text("id\n2\n")
    assert pipe("run", "orders").code == ExitCode.OK
    after = json.loads(path.read_text())
    assert after["owner_team"] == "data"
    raw, gold = sorted(after["tables"], key=lambda t: t["layer"] != "raw")
    assert raw["freshness_sla"] == "1d" and raw["partitions"][0]["files"][0]["checksum"] == "abc"
    assert raw["row_count"] == 2 and gold["lens_only"] is True
    assert after["contract_version"] == "1.4"


def test_dry_run_reads_and_writes_nothing(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv": "id\n1\n", "b.csv": "id\n2\n"})
    result = pipe("run", "orders", "--dry-run", "--json")
    assert result.code == ExitCode.OK, result.stderr
    [plan] = result.json()
    assert plan["dry_run"] is True
    [stream] = plan["streams"]
    assert stream["table"] == "raw/shop/orders" and len(stream["reads"]) == 2
    assert "data/a.csv" in result.stderr
    assert not (tmp_path / "bucket" / ".dataspoc").exists()


def test_full_reads_everything_again(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv": "id\n1\n"})
    assert pipe("run", "orders").code == ExitCode.OK
    assert pipe("run", "orders", "--json").json()[0]["status"] == "no_new_data"
    assert pipe("run", "orders", "--full", "--json").json()[0]["rows_written"] == 1
    assert len(table_rows(str(tmp_path / "bucket"), "raw/shop/orders")) == 2


def test_state_show_reset_and_set(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv": "id\n1\n"})
    assert pipe("state", "show", "orders").code == ExitCode.OK  # no state yet: {}
    assert pipe("run", "orders").code == ExitCode.OK
    shown = pipe("state", "show", "orders").json()["streams"]
    assert list(shown) == ["orders"] and list(shown["orders"]["files"]) == ["data/a.csv"]

    refused = pipe("state", "set", "orders", "--cursor", "5")
    assert refused.code == ExitCode.USAGE and "reads files" in refused.stderr
    assert pipe("state", "reset", "orders").code == ExitCode.OK
    assert pipe("state", "show", "orders").json() == {"streams": {}, "tap_state": None}
    assert pipe("run", "orders", "--json").json()[0]["rows_written"] == 1

    unknown = pipe("state", "reset", "orders", "--stream", "nope")
    assert unknown.code == ExitCode.USAGE and "nope" in unknown.stderr


def test_a_second_run_of_the_same_pipeline_waits_its_turn(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv": "id\n1\n"})
    lock = tmp_path / "bucket" / ".dataspoc" / "state" / "orders" / "run.lock"
    lock.parent.mkdir(parents=True)
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        import socket

        lock.write_text(
            json.dumps(
                {
                    "owner": "x",
                    "host": socket.gethostname(),
                    "pid": sleeper.pid,
                    "at": datetime.now(timezone.utc).isoformat(),  # fresh: only its holder's end frees it
                }
            )
        )
        busy = pipe("run", "orders")
        assert busy.code == ExitCode.STORAGE and "running already" in busy.stderr
        assert not list((tmp_path / "bucket").rglob("*.parquet"))
    finally:
        sleeper.kill()
        sleeper.wait()
    # its holder has ended: the lock was left by a crash and is broken
    assert pipe("run", "orders").code == ExitCode.OK
    assert not lock.exists()


def test_all_runs_every_pipeline_even_after_one_fails(pipe, tmp_path):
    for name in ("a", "c"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.csv").write_text("id\n1\n")
    write_project(
        tmp_path,
        {
            name: {"source": {"kind": "csv", "path": f"{name}/*.csv"}, "target": {"namespace": "shop"}}
            for name in ("a", "b", "c")  # b has no files
        },
    )
    result = pipe("run", "--all", "--json")
    assert result.code == ExitCode.DATA
    assert "b: no file matches" in result.stderr
    assert [log["pipeline"] for log in result.json()] == ["a", "c"]
    tables = {t["location"] for t in read_bucket_json(str(tmp_path / "bucket"), ".dataspoc/manifest.json")["tables"]}
    assert tables == {"raw/shop/a", "raw/shop/c"}


def test_add_takes_any_setting_and_never_prompts_without_a_terminal(pipe, tmp_path):
    assert pipe("init").code == ExitCode.OK
    result = pipe(
        "add",
        "events",
        "--path",
        "in/*.csv.gz",
        "--namespace",
        "web",
        "--set",
        "delimiter=;",
        "--set",
        "nulls=['', NA]",
        "--set",
        "encoding=${EVENTS_ENCODING}",
    )
    assert result.code == ExitCode.OK, result.stderr
    text = (tmp_path / "dataspoc-pipe.yaml").read_text()
    assert "${EVENTS_ENCODING}" in text and "kind: csv" in text
    import yaml

    source = yaml.safe_load(text)["pipelines"]["events"]["source"]
    assert source["delimiter"] == ";" and source["nulls"] == ["", "NA"]

    no_kind = subprocess.run(
        [str(PIPE), "add", "x", "--namespace", "web"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    assert no_kind.returncode == ExitCode.USAGE and "--kind" in no_kind.stderr
    typo = pipe("add", "y", "--kind", "csv", "--path", "a.csv", "--namespace", "web", "--set", "delimter=;")
    assert typo.code == ExitCode.USAGE and "delimter" in typo.stderr


def test_backfill_needs_a_cursor(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv": "id\n1\n"})
    result = pipe("backfill", "orders", "--from", "1", "--to", "2")
    assert result.code == ExitCode.USAGE and "no cursor to backfill by" in result.stderr


def test_add_asks_for_what_is_missing_at_a_terminal(tmp_path):
    import os
    import pty

    assert subprocess.run([str(PIPE), "init"], cwd=tmp_path, capture_output=True).returncode == 0
    main, secondary = pty.openpty()
    proc = subprocess.Popen(
        [str(PIPE), "add", "orders"], cwd=tmp_path, stdin=secondary, stdout=secondary, stderr=secondary, close_fds=True
    )
    os.close(secondary)
    answers = iter([b"csv\n", b"shop\n", b"data/*.csv\n"])
    seen = b""
    while proc.poll() is None:
        try:
            chunk = os.read(main, 1024)
        except OSError:
            break
        seen += chunk
        if chunk.rstrip().endswith((b":", b"]:")):
            os.write(main, next(answers, b"\n"))
    proc.wait(timeout=30)
    os.close(main)
    assert proc.returncode == 0, seen.decode()
    assert b"source kind" in seen and b"namespace" in seen
    import yaml

    pipeline = yaml.safe_load((tmp_path / "dataspoc-pipe.yaml").read_text())["pipelines"]["orders"]
    assert pipeline["source"] == {"kind": "csv", "path": "data/*.csv"} and pipeline["target"]["namespace"] == "shop"


def test_list_remove_and_validate(pipe, tmp_path, closed_port):
    one_csv_pipeline(tmp_path, {"a.csv": "id\n1\n"})
    import yaml

    project = tmp_path / "dataspoc-pipe.yaml"
    document = yaml.safe_load(project.read_text())
    document["pipelines"]["db"] = {
        "source": {"kind": "postgres", "url": f"postgresql://u@127.0.0.1:{closed_port}/x"},
        "target": {"namespace": "app"},
    }
    document["pipelines"]["api"] = {
        "source": {"kind": "http", "url": "http://127.0.0.1/x", "headers": {"X-Key": "${API_KEY}"}},
        "target": {"namespace": "web"},
    }
    project.write_text(yaml.safe_dump(document))

    listed = pipe("list", "--json").json()
    assert [(p["pipeline"], p["kind"]) for p in listed] == [("api", "http"), ("db", "postgres"), ("orders", "csv")]
    assert "orders" in pipe("list").stdout

    checked = pipe("validate")
    assert checked.code == ExitCode.STORAGE  # the database does not answer: the worst failure
    lines = checked.stdout.splitlines()
    assert any(line.startswith("ok   bucket: bucket") for line in lines)
    assert any(line.startswith("ok   orders: source answers") for line in lines)
    assert any(line.startswith("FAIL api: settings resolve") and "API_KEY is not set" in line for line in lines)
    assert any(line.startswith("FAIL db: source answers") and "cannot connect" in line for line in lines)
    only = pipe("validate", "orders", "--json")
    assert only.code == ExitCode.OK and all(r["ok"] for found in only.json().values() for r in found)
    assert not list((tmp_path / "bucket").rglob("*.parquet")) and not list((tmp_path / "bucket").rglob("validate-*"))

    assert pipe("remove", "db").code == ExitCode.OK
    assert [p["pipeline"] for p in pipe("list", "--json").json()] == ["api", "orders"]
    gone = pipe("remove", "db")
    assert gone.code == ExitCode.USAGE and "no pipeline 'db'" in gone.stderr


def test_runs_that_find_nothing_write_no_log_file(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv": "id\n1\n"})
    assert pipe("run", "orders").code == ExitCode.OK
    last = None
    for _ in range(4):  # cron ticks with nothing new
        last = pipe("run", "orders", "--json").json()[0]
        assert last["status"] == "no_new_data"
    logs = list((tmp_path / "bucket" / ".dataspoc" / "logs" / "orders").glob("*.json"))
    assert len(logs) == 1  # the success only
    [row] = pipe("status", "--json").json()
    assert row["last_run"]["run_id"] == last["run_id"] and row["last_run"]["status"] == "no_new_data"
    runs = pipe("logs", "orders", "--json").json()
    assert [r["status"] for r in runs] == ["no_new_data", "success"]


def test_vacuum_keeps_logs_for_their_retention_and_always_the_newest(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv": "id\n1\n"})
    assert pipe("run", "orders").code == ExitCode.OK
    (tmp_path / "data" / "b.csv").write_text("id\n2\n")
    assert pipe("run", "orders").code == ExitCode.OK
    logs = tmp_path / "bucket" / ".dataspoc" / "logs" / "orders"
    assert len(list(logs.glob("*.json"))) == 2
    assert pipe("vacuum", "--json").json()["logs"] == []  # 90 days by default
    # a log that wrote a file the manifest lists stays: `manifest rebuild` replays it
    assert pipe("vacuum", "--keep-logs", "0", "--json").json()["logs"] == []
    assert pipe("compact", "raw/shop/orders").code == ExitCode.OK  # both files become one
    swept = pipe("vacuum", "--keep-logs", "0", "--retain", "0", "--json").json()
    # the first run's log goes; the second (the state names it) and the compaction's stay
    assert len(swept["logs"]) == 1 and len(list(logs.glob("*.json"))) == 2
    assert pipe("run", "orders", "--json").json()[0]["status"] == "no_new_data"


def test_the_project_sets_how_long_logs_are_kept(pipe, tmp_path):
    import yaml

    one_csv_pipeline(tmp_path, {"a.csv": "id\n1\n"})
    assert pipe("run", "orders").code == ExitCode.OK
    (tmp_path / "data" / "b.csv").write_text("id\n2\n")
    assert pipe("run", "orders").code == ExitCode.OK
    path = tmp_path / "dataspoc-pipe.yaml"
    document = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**document, "keep_logs": "0s"}))
    assert pipe("compact", "raw/shop/orders").code == ExitCode.OK  # the first run's file is replaced
    assert len(pipe("vacuum", "--json").json()["logs"]) == 1
    path.write_text(yaml.safe_dump({**document, "keep_logs": "soon"}))
    bad = pipe("vacuum")
    assert bad.code == ExitCode.USAGE and "keep_logs" in bad.stderr and "give a duration" in bad.stderr


def test_quiet_prints_only_errors(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv": "id\n1\n"})
    ok = pipe("run", "orders", "--quiet")
    assert ok.code == ExitCode.OK and ok.stderr == "" and ok.stdout == ""
    (tmp_path / "data" / "a.csv").write_text("id\n9\n")  # rewritten: refused
    failed = pipe("run", "orders", "-q")
    assert failed.code == ExitCode.DATA and failed.stderr.startswith("error: orders:")


def test_two_pipelines_may_not_fill_one_table(pipe, tmp_path):
    write_project(
        tmp_path,
        {
            "orders": {"source": {"kind": "csv", "path": "a/*.csv"}, "target": {"namespace": "shop"}},
            "orders_eu": {
                "source": {"kind": "csv", "path": "b/*.csv"},
                "target": {"namespace": "shop", "table": "orders"},
            },
        },
    )
    result = pipe("status")
    assert result.code == ExitCode.USAGE and "'orders' and 'orders_eu' both fill raw/shop/orders" in result.stderr

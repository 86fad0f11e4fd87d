"""Write modes and vacuum through the CLI, on a local folder and on S3 (moto)."""

from __future__ import annotations

import json
import sqlite3

from conftest import bucket_fs, read_bucket_json, schema_validator, table_rows, write_project
from dataspoc_pipe.errors import ExitCode


def snapshot_pipeline(tmp_path, rows: list[tuple[int, str]], bucket=None):
    """A SQLite table read whole each run (no cursor), into raw/app/items in overwrite mode."""
    db = sqlite3.connect(tmp_path / "app.db")
    db.execute("DROP TABLE IF EXISTS items")
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    db.executemany("INSERT INTO items VALUES (?, ?)", rows)
    db.commit()
    db.close()
    write_project(
        tmp_path,
        {
            "items": {
                "source": {"kind": "sqlite", "path": "app.db", "tables": ["items"]},
                "target": {"namespace": "app"},
                "mode": "overwrite",
            }
        },
        bucket=bucket,
    )


def table_of(bucket_url):
    [table] = read_bucket_json(bucket_url, ".dataspoc/manifest.json")["tables"]
    return table


def test_overwrite_replaces_the_table_and_vacuum_deletes_the_old_files_later(pipe, tmp_path, bucket_url):
    snapshot_pipeline(tmp_path, [(1, "a"), (2, "b"), (3, "c")], bucket=bucket_url)
    assert pipe("run", "items").code == ExitCode.OK
    first = table_of(bucket_url)
    [old_file] = [f["path"] for p in first["partitions"] for f in p["files"]]

    snapshot_pipeline(tmp_path, [(2, "b2"), (4, "d")], bucket=bucket_url)
    result = pipe("run", "items", "--json")
    assert result.code == ExitCode.OK, result.stderr
    assert result.json()[0]["tables"][0]["mode"] == "overwrite"
    table = table_of(bucket_url)
    assert table["row_count"] == 2 and table["file_count"] == 1
    assert sorted((r["id"], r["name"]) for r in table_rows(bucket_url, "raw/app/items")) == [(2, "b2"), (4, "d")]
    [replaced] = table["replaced"]
    assert replaced["path"] == old_file and replaced["rows"] == 3 and replaced["replaced_by"] == table["last_run_id"]
    assert list(schema_validator("manifest").iter_errors(read_bucket_json(bucket_url, ".dataspoc/manifest.json"))) == []
    fs, root = bucket_fs(bucket_url)
    assert fs.exists(f"{root}/{old_file}")  # a reader of the previous manifest still finds it

    dry = pipe("vacuum", "--retain", "0", "--dry-run", "--json")
    assert dry.code == ExitCode.OK and [f["path"] for f in dry.json()["files"]] == [old_file]
    assert fs.exists(f"{root}/{old_file}") and table_of(bucket_url)["replaced"]
    kept = pipe("vacuum", "--json")  # 7 days by default: too young
    assert kept.json()["files"] == [] and kept.json()["kept"] == 1
    done = pipe("vacuum", "--retain", "0s")
    assert done.code == ExitCode.OK and "deleted 1 replaced file" in done.stderr
    assert not fs.exists(f"{root}/{old_file}") and "replaced" not in table_of(bucket_url)
    assert sorted(r["id"] for r in table_rows(bucket_url, "raw/app/items")) == [2, 4]


def test_an_overwrite_cut_short_after_the_state_is_finished_once(pipe, tmp_path):
    bucket = tmp_path / "bucket"
    snapshot_pipeline(tmp_path, [(1, "a"), (2, "b")])
    assert pipe("run", "items").code == ExitCode.OK
    snapshot_pipeline(tmp_path, [(3, "c")])
    saved = (bucket / ".dataspoc" / "manifest.json").read_text()
    assert pipe("run", "items").code == ExitCode.OK
    (bucket / ".dataspoc" / "manifest.json").write_text(saved)  # as if it died before the manifest

    assert pipe("run", "items").code == ExitCode.OK  # recovers the overwrite, then reads the snapshot again
    table = table_of(str(bucket))
    assert sorted(r["id"] for r in table_rows(str(bucket), "raw/app/items")) == [3]
    assert len(table["replaced"]) == 2  # the first run's file, then the recovered run's


def test_a_bad_retention_is_a_usage_error(pipe, tmp_path):
    (tmp_path / "bucket").mkdir()
    result = pipe("vacuum", "--retain", "a week", "--bucket", str(tmp_path / "bucket"))
    assert result.code == ExitCode.USAGE and "7d, 12h, 30m" in result.stderr
    assert json.loads(pipe("vacuum", "--json", "--bucket", str(tmp_path / "bucket")).stdout)["files"] == []

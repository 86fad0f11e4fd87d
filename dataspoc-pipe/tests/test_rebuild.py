"""`manifest rebuild`: a lost or corrupt manifest recreated from the run logs and the files, with
the same tables, files and rows as before it was lost; local and on S3."""

from __future__ import annotations

import json

from conftest import bucket_fs, read_bucket_json, table_rows, write_project
from dataspoc_pipe.errors import ExitCode

HEADER = "id,name,day\n"


def project(tmp_path, bucket):
    write_project(
        tmp_path,
        {
            "orders": {
                "source": {"kind": "csv", "path": "data/orders-*.csv"},
                "target": {"namespace": "shop"},
                "partition_by": {"column": "day"},
                "transform": {"domain": "sales", "tables": {"orders": {"steps": [{"upper": ["name"]}]}}},
            },
            "prices": {
                "source": {"kind": "csv", "path": "data/prices-*.csv"},
                "target": {"namespace": "shop"},
                "mode": "overwrite",
            },
        },
        bucket=bucket,
    )


def drop(tmp_path, name, text):
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / name).write_text(text)


def shape(document: dict) -> dict:
    """What a reader relies on, per table: its files (with rows and run ids), rows, columns and
    what it replaced."""
    return {
        t["location"]: {
            "files": sorted((f["path"], f["rows"], f.get("run_id")) for p in t["partitions"] for f in p["files"]),
            "rows": t["row_count"],
            "columns": t["columns"],
            "partition_by": t["partition_by"],
            "replaced": sorted(r["path"] for r in t.get("replaced", [])),
        }
        for t in document["tables"]
    }


def test_a_lost_manifest_comes_back_from_the_run_logs(pipe, tmp_path, bucket_url):
    project(tmp_path, bucket_url)
    for run in range(3):
        drop(
            tmp_path,
            f"orders-{run}.csv",
            HEADER + f"{run * 2},a{run},2026-11-20\n{run * 2 + 1},b{run},2026-11-2{run}\n",
        )
        drop(tmp_path, f"prices-{run}.csv", f"sku,price\n1,{run}.5\n2,{run}.9\n")
        assert pipe("run", "--all").code == ExitCode.OK
    assert pipe("compact", "raw/shop/orders", "--partition", "dt=2026-11-20").code == ExitCode.OK
    drop(tmp_path, "orders-3.csv", HEADER + "6,c,2026-11-20\n")
    assert pipe("run", "orders").code == ExitCode.OK
    # a run cut short between its log and its state published nothing: the rebuild skips it too
    drop(tmp_path, "orders-4.csv", HEADER + "7,d,2026-11-22\n")
    killed = pipe("run", "orders", env={"DATASPOC_FAILPOINT": "after-log"})
    assert killed.code < 0

    before = read_bucket_json(bucket_url, ".dataspoc/manifest.json")
    rows_before = {
        loc: table_rows(bucket_url, loc) for loc in ("raw/shop/orders", "curated/sales/orders", "raw/shop/prices")
    }
    assert len(rows_before["raw/shop/orders"]) == 7
    fs, root = bucket_fs(bucket_url)
    fs.rm_file(f"{root}/.dataspoc/manifest.json")

    dry = pipe("manifest", "rebuild", "--dry-run", "--json")
    assert dry.code == ExitCode.OK, dry.stderr
    assert not fs.exists(f"{root}/.dataspoc/manifest.json")
    rebuilt = pipe("manifest", "rebuild", "--json")
    assert rebuilt.code == ExitCode.OK, rebuilt.stderr
    assert "rebuilt the manifest from" in rebuilt.stderr
    after = read_bucket_json(bucket_url, ".dataspoc/manifest.json")
    assert shape(after) == shape(before)
    for location, rows in rows_before.items():
        assert table_rows(bucket_url, location) == rows, location
    assert {t["location"]: t["rows"] for t in json.loads(rebuilt.stdout)["tables"]} == {
        loc: len(rows) for loc, rows in rows_before.items()
    }
    # and the pipelines carry on from it: the cut-short run's rows arrive once
    assert pipe("run", "orders").code == ExitCode.OK
    assert len(table_rows(bucket_url, "raw/shop/orders")) == 8


def test_a_corrupt_manifest_is_rebuilt_and_kept_aside_with_other_tools_tables(pipe, tmp_path):
    bucket = str(tmp_path / "bucket")
    project(tmp_path, bucket)
    drop(tmp_path, "orders-0.csv", HEADER + "1,a,2026-11-20\n")
    drop(tmp_path, "prices-0.csv", "sku,price\n1,1.5\n")
    assert pipe("run", "--all").code == ExitCode.OK
    before = read_bucket_json(bucket, ".dataspoc/manifest.json")
    # a gold table Lens published, and a manifest whose raw entries were damaged by hand
    gold = json.loads(json.dumps(next(t for t in before["tables"] if t["location"] == "curated/sales/orders")))
    gold.update(layer="gold", location="gold/sales/orders", writer="dataspoc-lens/0.1.0", partition_by=[])
    damaged = dict(before, tables=[gold, *[dict(t, row_count=999) for t in before["tables"]]])
    (tmp_path / "bucket" / ".dataspoc" / "manifest.json").write_text(json.dumps(damaged))
    result = pipe("manifest", "rebuild", "--json")
    assert result.code == ExitCode.OK, result.stderr
    after = read_bucket_json(bucket, ".dataspoc/manifest.json")
    assert shape({"tables": [t for t in after["tables"] if t["layer"] != "gold"]}) == shape(before)
    assert json.loads(result.stdout)["kept"] == ["gold/sales/orders"]
    backup = json.loads(result.stdout)["backup"]
    assert json.loads((tmp_path / "bucket" / backup).read_text()) == damaged

    (tmp_path / "bucket" / ".dataspoc" / "manifest.json").write_text("{not json")
    again = pipe("manifest", "rebuild")
    assert again.code == ExitCode.OK, again.stderr
    assert shape(read_bucket_json(bucket, ".dataspoc/manifest.json")) == shape(before)

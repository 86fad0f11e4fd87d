"""`compact` through the CLI: small files into one per partition, atomically, on a local folder
and on S3; order of arrival kept; the next runs neither lose nor repeat rows."""

from __future__ import annotations

from conftest import bucket_fs, read_bucket_json, table_rows, write_project
from dataspoc_pipe.errors import ExitCode

HEADER = "id,name,day\n"


def project(tmp_path, bucket=None, **pipeline):
    write_project(
        tmp_path,
        {
            "orders": {
                "source": {"kind": "csv", "path": "data/*.csv"},
                "target": {"namespace": "shop"},
                "partition_by": {"column": "day"},
                **pipeline,
            }
        },
        bucket=bucket,
    )


def drop(tmp_path, name, rows):
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / name).write_text(HEADER + rows)


def table(bucket_url, location="raw/shop/orders"):
    manifest = read_bucket_json(bucket_url, ".dataspoc/manifest.json")
    return next(t for t in manifest["tables"] if t["location"] == location)


def test_compact_rewrites_each_partitions_small_files_into_one(pipe, tmp_path, bucket_url):
    project(tmp_path, bucket=bucket_url)
    for run in range(3):
        drop(tmp_path, f"{run}.csv", f"{run * 2},a{run},2026-11-20\n{run * 2 + 1},b{run},2026-11-21\n")
        assert pipe("run", "orders").code == ExitCode.OK
    before = table_rows(bucket_url, "raw/shop/orders")
    assert table(bucket_url)["file_count"] == 6

    dry = pipe("compact", "raw/shop/orders", "--dry-run", "--json")
    assert dry.code == ExitCode.OK and len(dry.json()["partitions"]) == 2
    assert table(bucket_url)["file_count"] == 6

    done = pipe("compact", "raw/shop/orders", "--partition", "dt=2026-11-20", "--json")
    assert done.code == ExitCode.OK, done.stderr
    [part] = done.json()["partitions"]
    assert part["values"] == {"dt": "2026-11-20"} and len(part["files"]) == 3 and part["rows"] == 3
    entry = table(bucket_url)
    assert entry["file_count"] == 4 and entry["row_count"] == 6 and len(entry["replaced"]) == 3
    [merged] = [p for p in entry["partitions"] if p["values"]["dt"] == "2026-11-20"]
    [only] = merged["files"]
    assert only["rows"] == 3 and only["run_id"] == max(f["run_id"] for f in entry["replaced"])
    # the same rows; the new file holds them in the order they arrived
    after = table_rows(bucket_url, "raw/shop/orders")
    assert sorted(after, key=lambda r: r["id"]) == sorted(before, key=lambda r: r["id"])
    fs, root = bucket_fs(bucket_url)
    import pyarrow.parquet as pq

    assert pq.read_table(fs.open(f"{root}/{only['path']}", "rb")).column("id").to_pylist() == [0, 2, 4]
    assert all(fs.exists(f"{root}/{f['path']}") for f in entry["replaced"])  # until vacuum

    assert pipe("vacuum", "--retain", "0").code == ExitCode.OK
    assert not any(fs.exists(f"{root}/{f['path']}") for f in entry["replaced"])
    assert sorted(r["id"] for r in table_rows(bucket_url, "raw/shop/orders")) == list(range(6))
    # the next run neither re-adds the compacted run's files nor reads its rows again
    again = pipe("run", "orders")
    assert again.code == ExitCode.OK and "no new data" in again.stderr
    assert table(bucket_url)["row_count"] == 6


def test_a_compacted_last_run_is_not_recovered_twice(pipe, tmp_path):
    project(tmp_path)
    drop(tmp_path, "0.csv", "1,a,2026-11-20\n")
    assert pipe("run", "orders").code == ExitCode.OK
    drop(tmp_path, "1.csv", "2,b,2026-11-20\n")
    assert pipe("run", "orders").code == ExitCode.OK  # the state names this run
    assert pipe("compact", "raw/shop/orders").code == ExitCode.OK
    drop(tmp_path, "2.csv", "3,c,2026-11-20\n")
    assert pipe("run", "orders").code == ExitCode.OK
    assert sorted(r["id"] for r in table_rows(str(tmp_path / "bucket"), "raw/shop/orders")) == [1, 2, 3]


def test_dedupe_by_arrival_gives_the_same_answer_after_compaction(pipe, tmp_path):
    transform = {"domain": "sales", "tables": {"orders": {"steps": [{"dedupe": {"key": ["id"]}}]}}}
    project(tmp_path, transform=transform)
    drop(tmp_path, "0.csv", "1,old,2026-11-20\n")
    assert pipe("run", "orders").code == ExitCode.OK
    drop(tmp_path, "1.csv", "2,x,2026-11-20\n")
    assert pipe("run", "orders").code == ExitCode.OK
    drop(tmp_path, "2.csv", "1,new,2026-11-21\n")  # the latest version of 1, in another partition
    assert pipe("run", "orders").code == ExitCode.OK
    bucket = str(tmp_path / "bucket")
    assert sorted((r["id"], r["name"]) for r in table_rows(bucket, "curated/sales/orders")) == [(1, "new"), (2, "x")]

    assert pipe("compact", "raw/shop/orders").code == ExitCode.OK
    rebuilt = pipe("transform", "orders", "--json")  # the raw files changed: the curated table is rebuilt
    assert rebuilt.code == ExitCode.OK and rebuilt.json()[0]["tables"][0]["mode"] == "overwrite"
    assert sorted((r["id"], r["name"]) for r in table_rows(bucket, "curated/sales/orders")) == [(1, "new"), (2, "x")]


def test_compact_names_what_is_wrong(pipe, tmp_path):
    project(tmp_path)
    drop(tmp_path, "0.csv", "1,a,2026-11-20\n")
    assert pipe("run", "orders").code == ExitCode.OK
    assert "nothing to do" in pipe("compact", "raw/shop/orders").stderr
    bad = pipe("compact", "shop/orders")
    assert bad.code == ExitCode.USAGE and "raw/shop/orders" in bad.stderr
    missing = pipe("compact", "raw/shop/order")
    assert missing.code == ExitCode.USAGE and "no table raw/shop/order" in missing.stderr
    partition = pipe("compact", "raw/shop/orders", "--partition", "dt=2020-01-01")
    assert partition.code == ExitCode.USAGE and "no partition dt=2020-01-01" in partition.stderr


def test_compact_keeps_a_large_file_between_small_ones_and_joins_evolved_columns(pipe, tmp_path):
    from dataspoc_pipe import compact
    from dataspoc_pipe.bucket import Bucket

    project(tmp_path)
    drop(tmp_path, "0.csv", "1,old,2026-11-20\n")
    assert pipe("run", "orders").code == ExitCode.OK
    drop(tmp_path, "1.csv", "".join(f"{i},x{i},2026-11-20\n" for i in range(2, 400)))  # the "large" one
    assert pipe("run", "orders").code == ExitCode.OK
    drop(tmp_path, "2.csv", "1,new,2026-11-20\n")
    assert pipe("run", "orders").code == ExitCode.OK
    drop(tmp_path, "3.csv", "500,y,2026-11-20\n")
    assert pipe("run", "orders").code == ExitCode.OK
    bucket = str(tmp_path / "bucket")
    sizes = sorted(f["bytes"] for p in table(bucket)["partitions"] for f in p["files"])
    threshold = sizes[-1]  # every file but the large one is small
    plan = compact.compact(Bucket(bucket), "raw/shop/orders", small_bytes=threshold)
    [part] = plan.partitions
    assert len(part["files"]) == 2 and all("-00000" in p for p in part["files"])  # the two after the large file
    entry = table(bucket)
    runs = sorted(f["run_id"] for p in entry["partitions"] for f in p["files"])
    assert len(runs) == 3 and sorted(r["id"] for r in table_rows(bucket, "raw/shop/orders")) == sorted(
        [1, 1, 500, *range(2, 400)]
    )


def test_compact_reads_columns_that_became_text(pipe, tmp_path):
    project(tmp_path)
    drop(tmp_path, "0.csv", "1,10,2026-11-20\n")
    (tmp_path / "data" / "0.csv").write_text("id,zip,day\n1,10,2026-11-20\n")
    assert pipe("run", "orders").code == ExitCode.OK
    (tmp_path / "data" / "1.csv").write_text("id,zip,day\n2,A7,2026-11-20\n")
    write_project(
        tmp_path,
        {
            "orders": {
                "source": {"kind": "csv", "path": "data/*.csv", "columns": {"zip": "string"}},
                "target": {"namespace": "shop"},
                "partition_by": {"column": "day"},
            }
        },
    )
    assert pipe("run", "orders").code == ExitCode.OK
    result = pipe("compact", "raw/shop/orders")
    assert result.code == ExitCode.OK, result.stderr
    assert sorted((r["id"], r["zip"]) for r in table_rows(str(tmp_path / "bucket"), "raw/shop/orders")) == [
        (1, "10"),
        (2, "A7"),
    ]

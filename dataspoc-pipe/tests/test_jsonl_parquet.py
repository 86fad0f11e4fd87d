"""JSON Lines and Parquet files through the CLI: nesting, sparse keys, types, and bad records."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import one_csv_pipeline, read_bucket_json, refused, table_rows
from dataspoc_pipe.errors import ExitCode


def jsonl(*records) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def run_rows(pipe, tmp_path):
    result = pipe("run", "orders")
    assert result.code == ExitCode.OK, result.stderr
    return table_rows(str(tmp_path / "bucket"), "raw/shop/orders")


def test_nested_records_become_structs_and_lists(pipe, tmp_path):
    one_csv_pipeline(
        tmp_path,
        {"a.jsonl": jsonl({"id": 1, "user": {"name": "ann", "tags": ["a", "b"]}, "at": "2026-11-22T03:00:00Z"})},
        kind="jsonl",
    )
    [row] = run_rows(pipe, tmp_path)
    assert row == {"id": 1, "user": {"name": "ann", "tags": ["a", "b"]}, "at": "2026-11-22T03:00:00Z"}
    columns = read_bucket_json(str(tmp_path / "bucket"), ".dataspoc/manifest.json")["tables"][0]["columns"]
    assert columns[1]["type"].startswith("struct<") and columns[2]["type"] == "string"


def test_nested_json_keeps_json_text(pipe, tmp_path):
    one_csv_pipeline(
        tmp_path, {"a.jsonl": jsonl({"id": 1, "user": {"name": "ann"}, "tags": [1, 2]})}, kind="jsonl", nested="json"
    )
    [row] = run_rows(pipe, tmp_path)
    assert json.loads(row["user"]) == {"name": "ann"} and json.loads(row["tags"]) == [1, 2]


def test_sparse_keys_add_columns_across_chunks(pipe, tmp_path, monkeypatch):
    records = (
        [{"id": i} for i in range(300_000)]
        + [{"id": 1, "late": "x"}]
        + [{"id": 2, "score": 1}, {"id": 3, "score": 1.5}]
    )
    one_csv_pipeline(tmp_path, {"a.jsonl": jsonl(*records)}, kind="jsonl")
    rows = run_rows(pipe, tmp_path)
    assert len(rows) == 300_003
    assert rows[0] == {"id": 0, "late": None, "score": None}
    assert rows[-3:] == [
        {"id": 1, "late": "x", "score": None},
        {"id": 2, "late": None, "score": 1.0},
        {"id": 3, "late": None, "score": 1.5},
    ]


def test_declared_types(pipe, tmp_path):
    one_csv_pipeline(
        tmp_path,
        {"a.jsonl": jsonl({"id": 1, "at": "2026-11-22T03:00:00+01:00", "big": "123456789012345678901234567890"})},
        kind="jsonl",
        columns={"at": "timestamp[us, tz=UTC]", "big": "decimal128(38, 0)"},
    )
    [row] = run_rows(pipe, tmp_path)
    assert row["at"].isoformat() == "2026-11-22T02:00:00+00:00" and str(row["big"]) == "123456789012345678901234567890"


@pytest.mark.parametrize(
    ("lines", "fragments"),
    [
        ('{"id": 1}\n[1, 2]\n', ["a.jsonl line 2", "must be a JSON object"]),
        ('{"id": 1}\nnot json\n', ["a.jsonl line 2", "not valid JSON"]),
        ('{"id": 1}\n{"id": 2, "x": NaN}\n', ["a.jsonl line 2", "NaN is not JSON"]),
        ('{"id": 1}\n{"id": 99999999999999999999}\n', ["a.jsonl line 2", "'id'", "beyond int64"]),
        ('{"id": 1}\n{"id": "two"}\n', ["a.jsonl line 2", "'id' is text where earlier records have a number"]),
        ('{"id": 1}\n{"id": 2, "id": 3}\n', ["a.jsonl", "specified twice"]),
        ('{"id": 1}\n{"id": 2, "name": "caf\xe9"}\n', ["a.jsonl line 2", "UTF-8"]),
    ],
)
def test_bad_records_are_named(pipe, tmp_path, lines, fragments):
    data = lines.encode("latin-1") if "\xe9" in lines else lines.encode()
    one_csv_pipeline(tmp_path, {"a.jsonl": data}, kind="jsonl")
    refused(pipe, tmp_path, *fragments)


def test_appended_lines_are_read_from_the_bookmark(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.jsonl": jsonl({"id": 1})}, kind="jsonl")
    assert [r["id"] for r in run_rows(pipe, tmp_path)] == [1]
    with open(tmp_path / "data" / "a.jsonl", "a") as handle:
        handle.write(jsonl({"id": 2}, "not json"))
    refused_run = pipe("run", "orders")
    assert refused_run.code == ExitCode.DATA and "a.jsonl line 3" in refused_run.stderr


def test_parquet_files_with_added_columns(pipe, tmp_path):
    (tmp_path / "data").mkdir()
    pq.write_table(pa.table({"id": [1, 2], "name": ["a", "b"]}), tmp_path / "data" / "a.parquet")
    pq.write_table(pa.table({"id": [3], "name": ["c"], "extra": [True]}), tmp_path / "data" / "b.parquet")
    one_csv_pipeline(tmp_path, {}, kind="parquet")
    rows = run_rows(pipe, tmp_path)
    assert sorted(rows, key=lambda r: r["id"]) == [
        {"id": 1, "name": "a", "extra": None},
        {"id": 2, "name": "b", "extra": None},
        {"id": 3, "name": "c", "extra": True},
    ]
    assert pipe("run", "orders", "--json").json()[0]["status"] == "no_new_data"
    pq.write_table(pa.table({"id": [9], "name": ["z"]}), tmp_path / "data" / "a.parquet")  # rewritten
    assert pipe("run", "orders").code == ExitCode.DATA


def test_a_file_that_is_not_parquet(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.parquet": "id\n1\n"}, kind="parquet")
    refused(pipe, tmp_path, "a.parquet", "cannot read as Parquet")


def test_files_in_a_bucket_are_a_source(pipe, tmp_path, s3_env, bucket_url):
    import boto3

    client = boto3.client("s3")
    exports = f"exports-{tmp_path.name[-8:].lower().replace('_', '-')}"
    client.create_bucket(Bucket=exports)
    client.put_object(Bucket=exports, Key="orders/a.csv", Body=b"id,name\n1,ann\n")
    client.put_object(Bucket=exports, Key="orders/b.jsonl", Body=b'{"id": 9}\n')  # not matched
    from conftest import write_project

    write_project(
        tmp_path,
        {
            "orders": {
                "source": {"kind": "csv", "path": f"s3://{exports}/orders/*.csv"},
                "target": {"namespace": "shop"},
            }
        },
        bucket=bucket_url if bucket_url.startswith("s3://") else None,
    )
    if not bucket_url.startswith("s3://"):
        bucket_url = str(tmp_path / "bucket")
    assert pipe("run", "orders").code == ExitCode.OK
    client.put_object(Bucket=exports, Key="orders/c.csv", Body=b"id,name\n2,bob\n")
    result = pipe("run", "orders", "--json")
    assert result.code == ExitCode.OK and result.json()[0]["rows_written"] == 1
    assert sorted(r["id"] for r in table_rows(bucket_url, "raw/shop/orders")) == [1, 2]
    state = pipe("state", "show", "orders").json()["streams"]
    assert sorted(state["orders"]["files"]) == [f"s3://{exports}/orders/a.csv", f"s3://{exports}/orders/c.csv"]

    client.put_object(Bucket=exports, Key="orders/a.csv", Body=b"id,name\n7,zed\n")  # replaced by other rows
    refused_run = pipe("run", "orders")
    assert refused_run.code == ExitCode.DATA and "a.csv" in refused_run.stderr


@pytest.mark.parametrize(("first", "second"), [('"17"', "17"), ("8", '"8"'), ("true", "1")])
def test_a_field_changing_kind_between_files_is_refused(pipe, tmp_path, first, second):
    one_csv_pipeline(
        tmp_path, {"a.jsonl": f'{{"id": 1, "v": {first}}}\n', "b.jsonl": f'{{"id": 2, "v": {second}}}\n'}, kind="jsonl"
    )
    refused(pipe, tmp_path, "b.jsonl", "field 'v'")

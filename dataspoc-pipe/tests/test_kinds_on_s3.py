"""Every source kind into a lake on S3 (moto's server over HTTP): data, state, log, manifest."""

from __future__ import annotations

import json
import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import read_bucket_json, schema_validator, table_rows, write_project
from dataspoc_pipe.errors import ExitCode


def sources(tmp_path, request) -> tuple[dict, int]:
    """A source config of each kind over the same three rows, and the rows it gives."""
    kind = request.param
    data = tmp_path / "data"
    data.mkdir()
    rows = [{"id": i, "name": f"n{i}"} for i in (1, 2, 3)]
    if kind == "csv":
        (data / "a.csv").write_text("id,name\n" + "".join(f"{r['id']},{r['name']}\n" for r in rows))
        return {"kind": "csv", "path": "data/*.csv"}, 3
    if kind == "jsonl":
        (data / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        return {"kind": "jsonl", "path": "data/*.jsonl"}, 3
    if kind == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), data / "a.parquet")
        return {"kind": "parquet", "path": "data/*.parquet"}, 3
    if kind == "sqlite":
        db = sqlite3.connect(data / "a.db")
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        db.executemany("INSERT INTO items VALUES (?, ?)", [(r["id"], r["name"]) for r in rows])
        db.commit()
        return {"kind": "sqlite", "path": "data/a.db", "cursor": "id"}, 3
    if kind == "postgres":
        url, db = request.getfixturevalue("postgres_db")
        db.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
        db.execute("INSERT INTO items VALUES (1, 'n1'), (2, 'n2'), (3, 'n3')")
        return {"kind": "postgres", "url": url, "cursor": "id"}, 3
    if kind == "http":
        api = request.getfixturevalue("api")
        api.routes["/items"] = lambda r: (200, {}, {"items": rows})
        return {"kind": "http", "url": f"{api.url}/items", "records": "items"}, 3
    tap = request.getfixturevalue("fixture_tap")
    return {"kind": "singer", "tap": str(tap), "discover": False}, 7


@pytest.fixture(params=["csv", "jsonl", "parquet", "sqlite", "postgres", "http", "singer"])
def source(tmp_path, request):
    return sources(tmp_path, request)


def test_each_kind_publishes_to_s3(pipe, tmp_path, s3_bucket, source):
    config, expected = source
    write_project(
        tmp_path, {"p": {"source": config, "target": {"namespace": "src", "table": "items"}}}, bucket=s3_bucket
    )
    result = pipe("run", "p", "--json")
    assert result.code == ExitCode.OK, result.stderr
    [log] = result.json()
    assert log["rows_written"] == expected
    manifest = read_bucket_json(s3_bucket, ".dataspoc/manifest.json")
    assert list(schema_validator("manifest").iter_errors(manifest)) == []
    for table in manifest["tables"]:
        assert len(table_rows(s3_bucket, table["location"])) == table["row_count"]
    assert sum(t["row_count"] for t in manifest["tables"]) == expected
    state = read_bucket_json(s3_bucket, ".dataspoc/state/p/state.json")
    assert list(schema_validator("state").iter_errors(state)) == []
    again = pipe("run", "p", "--json")
    assert again.code == ExitCode.OK, again.stderr
    if config["kind"] not in ("http", "singer"):  # an API without a cursor and a tap re-read by design
        assert again.json()[0]["status"] == "no_new_data"

"""A user's mistake gets one line on stderr and an exit code; nothing in the bucket is lost."""

from __future__ import annotations

import json

import pytest

from conftest import read_bucket_json
from dataspoc_pipe.errors import ExitCode
from test_run_flow import orders, setup_project, write_csv


def assert_one_line_error(result, code, *words):
    assert result.code == code, (result.code, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert lines, result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)


def test_missing_source_file(pipe, tmp_path):
    pipe("init")
    pipe("add", "orders", "--path", "data/nothing-*.csv", "--source", "shop")
    result = pipe("run", "orders")
    assert_one_line_error(result, ExitCode.DATA, "nothing-*.csv")
    log_dir = tmp_path / "bucket" / ".dataspoc" / "logs" / "orders"
    [log] = [json.loads(p.read_text()) for p in log_dir.glob("*.json")]
    assert log["status"] == "failed" and "nothing-*.csv" in log["error"]["message"]
    assert not list((tmp_path / "bucket").rglob("state.json"))


def test_malformed_csv_publishes_nothing_and_keeps_the_table(pipe, tmp_path):
    setup_project(pipe, str(tmp_path / "bucket"), tmp_path)
    assert pipe("run", "orders").code == ExitCode.OK
    manifest_before = (tmp_path / "bucket" / ".dataspoc" / "manifest.json").read_text()
    state_before = (tmp_path / "bucket" / ".dataspoc" / "state" / "orders" / "state.json").read_text()
    (tmp_path / "data" / "orders-2.csv").write_text("order_id,customer_id,amount,status\n1,2,3\n")

    result = pipe("run", "orders")
    assert_one_line_error(result, ExitCode.DATA, "orders-2.csv")
    assert (tmp_path / "bucket" / ".dataspoc" / "manifest.json").read_text() == manifest_before
    assert (tmp_path / "bucket" / ".dataspoc" / "state" / "orders" / "state.json").read_text() == state_before
    assert len(list((tmp_path / "bucket" / "raw").rglob("*.parquet"))) == 1
    assert not any((tmp_path / "bucket" / ".dataspoc" / "tmp").iterdir())


@pytest.mark.parametrize("name", ["Orders", "my-orders", "1orders", "orders.v2", "a" * 64])
def test_bad_names_are_refused(pipe, name):
    pipe("init")
    result = pipe("add", name, "--path", "x.csv", "--source", "shop")
    assert_one_line_error(result, ExitCode.USAGE, name, "lowercase")


def test_lens_is_reserved_as_a_pipeline_name(pipe, tmp_path):
    """.dataspoc/logs/lens/ holds dataspoc-lens's gold model runs (contract 1.3)."""
    pipe("init")
    result = pipe("add", "lens", "--path", "x.csv", "--source", "shop")
    assert_one_line_error(result, ExitCode.USAGE, "'lens'", ".dataspoc/logs/lens/")
    project = tmp_path / "dataspoc-pipe.yaml"
    project.write_text(
        project.read_text()
        + "pipelines:\n  lens:\n    source: {kind: csv, path: x.csv}\n    target: {namespace: shop}\n"
    )
    result = pipe("run", "lens")
    assert result.code == ExitCode.USAGE, result.stderr
    assert "'lens' may not name a pipeline" in result.stderr


def test_bad_source_name_is_refused(pipe):
    pipe("init")
    result = pipe("add", "orders", "--path", "x.csv", "--namespace", "My Shop")
    assert_one_line_error(result, ExitCode.USAGE, "namespace", "My Shop")


def test_unknown_pipeline(pipe):
    pipe("init")
    result = pipe("run", "ghost")
    assert_one_line_error(result, ExitCode.USAGE, "ghost", "dataspoc-pipe add")


def test_no_project_file(pipe):
    result = pipe("run", "orders")
    assert_one_line_error(result, ExitCode.USAGE, "dataspoc-pipe init")


def test_unknown_key_in_project_file_is_named(pipe, tmp_path):
    (tmp_path / "dataspoc-pipe.yaml").write_text(
        "version: 1\nbucket: ./bucket\npipelines:\n  orders:\n    source: {kind: csv, path: x.csv, delimter: ';'}\n"
        "    target: {source: shop, table: orders}\n"
    )
    result = pipe("run", "orders")
    assert_one_line_error(result, ExitCode.USAGE, "pipelines.orders.source.delimter", "unknown key")


def test_unreachable_bucket(pipe, tmp_path, s3_env, closed_port):
    setup_project(pipe, str(tmp_path / "bucket"), tmp_path)
    result = pipe(
        "run", "orders", "--bucket", "s3://lake-nowhere", env={"AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port}"}
    )
    assert_one_line_error(result, ExitCode.STORAGE, "cannot reach the bucket")


def test_bucket_that_does_not_exist(pipe, tmp_path, s3_env):
    setup_project(pipe, str(tmp_path / "bucket"), tmp_path)
    result = pipe("run", "orders", "--bucket", "s3://no-such-bucket-here")
    assert_one_line_error(result, ExitCode.USAGE, "no-such-bucket-here", "does not exist")


def test_unknown_scheme_and_missing_backend(pipe, tmp_path):
    setup_project(pipe, str(tmp_path / "bucket"), tmp_path)
    unknown = pipe("run", "orders", "--bucket", "ftp://lake")
    assert_one_line_error(unknown, ExitCode.USAGE, "ftp://")
    hidden = tmp_path / "hidden"  # gcsfs made unimportable, whether the [gcs] extra is installed or not
    (hidden / "gcsfs").mkdir(parents=True)
    (hidden / "gcsfs" / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    missing = pipe("run", "orders", "--bucket", "gs://lake", env={"PYTHONPATH": str(hidden)})
    assert_one_line_error(missing, ExitCode.USAGE, "dataspoc-pipe[gcs]")


def test_manifest_of_a_newer_major_version_is_refused(pipe, tmp_path):
    setup_project(pipe, str(tmp_path / "bucket"), tmp_path)
    manifest = tmp_path / "bucket" / ".dataspoc" / "manifest.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"contract_version": "2.0", "updated_at": "2026-11-22T00:00:00Z", "tables": []}))
    result = pipe("run", "orders")
    assert_one_line_error(result, ExitCode.DATA, "manifest.json", "2.0", "upgrade dataspoc-pipe")
    assert json.loads(manifest.read_text())["contract_version"] == "2.0"


def test_header_only_file_creates_no_table_until_rows_arrive(pipe, tmp_path):
    source = tmp_path / "data" / "orders-1.csv"
    source.parent.mkdir()
    source.write_text("order_id,amount\n")
    pipe("init")
    pipe("add", "orders", "--path", "data/orders-*.csv", "--source", "shop")
    result = pipe("run", "orders", "--json")
    assert result.code == ExitCode.OK, result.stderr
    assert result.json()[0]["rows_written"] == 0
    assert read_bucket_json(str(tmp_path / "bucket"), ".dataspoc/manifest.json")["tables"] == []

    with open(source, "a") as handle:
        handle.write("1,2.5\n")
    assert pipe("run", "orders").code == ExitCode.OK
    [table] = read_bucket_json(str(tmp_path / "bucket"), ".dataspoc/manifest.json")["tables"]
    assert table["row_count"] == 1
    assert [c["name"] for c in table["columns"]] == ["order_id", "amount", "dt"]


def test_debug_shows_the_traceback(pipe):
    result = pipe("--debug", "run", "orders")
    assert result.code == ExitCode.USAGE and "Traceback" in result.stderr


def test_reserved_dt_column(pipe, tmp_path):
    write_csv(tmp_path / "data" / "orders-1.csv", orders(0, 3), header=["id", "dt", "amount", "status"])
    pipe("init")
    pipe("add", "orders", "--path", "data/orders-*.csv", "--source", "shop")
    assert_one_line_error(pipe("run", "orders"), ExitCode.DATA, "'dt' is reserved")


@pytest.mark.parametrize(
    "bad",
    [
        "raw/shop/orders/../../../outside.parquet",
        "/etc/outside.parquet",
        "raw/shop/customers/dt=2026-11-22/part-x.parquet",
    ],
)
def test_a_manifest_path_outside_its_table_is_never_read_or_deleted(pipe, tmp_path, bad):
    """A hand-edited or hostile manifest cannot make Pipe read or delete a file outside the
    table's own folder: vacuum and runs refuse it, naming the entry, and change nothing."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("id\n1\n")
    pipe("init")
    pipe("add", "orders", "--path", "data/*.csv", "--source", "shop")
    assert pipe("run", "orders").code == ExitCode.OK
    outside = tmp_path / "outside.parquet"
    outside.write_bytes(b"PAR1 precious PAR1")
    manifest = tmp_path / "bucket" / ".dataspoc" / "manifest.json"
    document = json.loads(manifest.read_text())
    entry = document["tables"][0]
    entry["replaced"] = [
        {"path": bad, "rows": 1, "bytes": 1, "replaced_by": entry["last_run_id"], "replaced_at": "2020-01-01T00:00:00Z"}
    ]
    manifest.write_text(json.dumps(document))

    swept = pipe("vacuum", "--retain", "0", "--json")
    named = (bad, "tables.0.replaced.0.path")  # the value, or where it is when the schema refuses it
    assert swept.code == ExitCode.DATA and any(n in swept.stderr for n in named) and swept.stdout == ""
    assert outside.read_bytes() == b"PAR1 precious PAR1"
    (tmp_path / "data" / "b.csv").write_text("id\n2\n")
    refused = pipe("run", "orders")
    assert refused.code == ExitCode.DATA
    assert any(n in refused.stderr for n in named) and len(refused.stderr.strip().splitlines()) == 1

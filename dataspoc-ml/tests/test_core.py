"""The core modules in process, without scikit-learn: catalog, datasets, bucket, cli.main."""

from __future__ import annotations

import pytest

import lake
from dataspoc_ml import catalog, cli, datasets
from dataspoc_ml.bucket import Bucket
from dataspoc_ml.cli import common as cli_common
from dataspoc_ml.contract import CONTRACT_VERSION
from dataspoc_ml.contract.models import Feature
from dataspoc_ml.errors import (
    AmbiguousTable,
    ContractError,
    ExitCode,
    MissingBackend,
    UnknownTable,
)


@pytest.fixture
def bucket(local_bucket) -> Bucket:
    lake.build(local_bucket)
    return Bucket(local_bucket)


def test_resolve_table_references(bucket):
    manifest = catalog.load(bucket)
    assert catalog.resolve(manifest, "raw.crm.customers", bucket).location == "raw/crm/customers"
    assert catalog.resolve(manifest, "crm.customers", bucket).location == "raw/crm/customers"
    assert catalog.resolve(manifest, "sales.customers", bucket).location == "gold/sales/customers"
    assert catalog.resolve(manifest, "prospects", bucket).location == "raw/crm/prospects"
    with pytest.raises(AmbiguousTable, match="gold.sales.customers, raw.crm.customers"):
        catalog.resolve(manifest, "customers", bucket)
    for ref in ("curated.crm.customers", "x.y", "", "a.b.c.d"):
        with pytest.raises(UnknownTable, match="raw.crm.prospects"):
            catalog.resolve(manifest, ref, bucket)


def test_reads_only_the_files_the_manifest_lists(bucket):
    # the bucket holds an unlisted file that is not even Parquet; reading must not touch it
    table = catalog.resolve(catalog.load(bucket), "raw.crm.customers", bucket)
    data = datasets.read_table(bucket, table)
    assert data.num_rows == 400
    assert data.column_names[-1] == "dt"
    assert data.column("customer_id").to_pylist() == list(range(1, 401))
    batches = list(datasets.iter_batches(bucket, table))
    assert [b.num_rows for b in batches] == [200, 200]


def test_a_null_partition_value_reads_as_null(bucket, local_bucket):
    import json
    from pathlib import Path

    manifest_path = Path(local_bucket) / ".dataspoc" / "manifest.json"
    document = json.loads(manifest_path.read_text())
    [table] = [t for t in document["tables"] if t["location"] == "raw/crm/customers"]
    table["partitions"][-1]["values"]["dt"] = "__HIVE_DEFAULT_PARTITION__"  # rows whose dt was NULL
    manifest_path.write_text(json.dumps(document))
    table = catalog.resolve(catalog.load(bucket), "raw.crm.customers", bucket)
    data = datasets.read_table(bucket, table)
    assert data.num_rows == 400 and data.column("dt").null_count == 200


def test_partition_values_take_the_manifests_type_or_name_the_entry(bucket, local_bucket):
    import json
    from pathlib import Path

    import pyarrow as pa

    from dataspoc_ml.errors import DataError

    manifest_path = Path(local_bucket) / ".dataspoc" / "manifest.json"
    document = json.loads(manifest_path.read_text())
    [entry] = [t for t in document["tables"] if t["location"] == "raw/crm/customers"]
    entry["columns"] = [c for c in entry["columns"] if c["name"] != "dt"] + [
        {"name": "dt", "type": "date32", "nullable": True}
    ]
    manifest_path.write_text(json.dumps(document))
    table = catalog.resolve(catalog.load(bucket), "raw.crm.customers", bucket)
    data = datasets.read_table(bucket, table)
    assert data.schema.field("dt").type == pa.date32()
    assert data.column("dt").null_count == 0 and len(set(data.column("dt").to_pylist())) == 2
    assert "dt" not in datasets.read_table(bucket, table, columns=["customer_id"]).column_names

    entry["partitions"][0]["values"]["dt"] = "yesterday"
    manifest_path.write_text(json.dumps(document))
    table = catalog.resolve(catalog.load(bucket), "raw.crm.customers", bucket)
    with pytest.raises(DataError, match="partition value dt='yesterday' of table raw.crm.customers is not a date32"):
        datasets.read_table(bucket, table)
    assert datasets.read_table(bucket, table, columns=["customer_id"]).num_rows == 400  # dt not read: no error


def test_feature_encoding(bucket):
    table = catalog.resolve(catalog.load(bucket), "raw.crm.customers", bucket)
    data = datasets.read_table(bucket, table)
    features = [
        Feature(name="age", type="int64", kind="numeric"),
        Feature(name="country", type="string", kind="categorical"),
        Feature(name="is_member", type="bool", kind="boolean"),
        Feature(name="signup_date", type="date32[day]", kind="datetime"),
    ]
    frame = datasets.to_frame(data, features)
    assert list(frame.columns) == ["age", "country", "is_member", "signup_date"]
    assert frame["age"].dtype == "float64" and frame["age"].isna().sum() == data.column("age").null_count
    assert set(frame["is_member"]) == {"true", "false"}
    assert frame["country"].isna().sum() == data.column("country").null_count
    assert frame["signup_date"].iloc[0] == data.column("signup_date")[0].value * 86400


def test_upsert_creates_manifest_and_keeps_history(tmp_path):
    url = str(tmp_path / "empty")
    bucket = Bucket(url)
    entry = {
        "layer": "ml",
        "namespace": "predictions",
        "name": "churn",
        "location": "ml/predictions/churn",
        "format": "parquet",
        "partition_by": [],
        "partitions": [],
        "columns": [{"name": "prediction", "type": "bool", "nullable": True}],
        "row_count": 0,
        "file_count": 0,
        "bytes": 0,
        "last_run_id": "20261122T031000.000Z-0f0e0d",
        "last_run_at": "2026-11-22T03:10:02Z",
        "writer": catalog.WRITER,
    }
    assert catalog.upsert_table(bucket, entry) is None
    manifest = lake.read_json(url, ".dataspoc/manifest.json")
    lake.assert_valid("manifest", manifest)
    assert manifest["contract_version"] == CONTRACT_VERSION and len(manifest["tables"]) == 1
    assert not (tmp_path / "empty" / ".dataspoc" / "manifest.lock").exists()

    changed = dict(entry, last_run_id="20261122T041000.000Z-0f0e0e", last_run_at="2026-11-22T04:10:02Z")
    changed["columns"] = entry["columns"] + [{"name": "probability", "type": "double", "nullable": True}]
    previous = catalog.upsert_table(bucket, changed)
    assert previous["last_run_id"] == entry["last_run_id"]
    [table] = lake.read_json(url, ".dataspoc/manifest.json")["tables"]
    assert [(v["version"], v["change"]) for v in table["schema_history"]] == [(1, "created"), (2, "columns_added")]

    with pytest.raises(ContractError, match="ml/predictions/churn"):
        catalog.upsert_table(bucket, dict(changed, row_count=-1))


def test_schema_change_kinds():
    a = [{"name": "x", "type": "int64", "nullable": True}]
    b = [{"name": "x", "type": "double", "nullable": True}]
    c = a + [{"name": "y", "type": "string", "nullable": True}]
    assert catalog.schema_change(a, c) == "columns_added"
    assert catalog.schema_change(c, a) == "columns_removed"
    assert catalog.schema_change(a, b) == "types_changed"
    assert catalog.schema_change(c, b) == "changed"


def test_run_id_format():
    import re

    assert re.fullmatch(r"[0-9]{8}T[0-9]{6}\.[0-9]{3}Z-[0-9a-f]{6}", catalog.new_run_id())


def test_bucket_urls(tmp_path):
    assert Bucket(str(tmp_path)).is_local
    assert Bucket(f"file://{tmp_path}").root == str(tmp_path)
    assert Bucket("s3://lake/prefix").root == "lake/prefix"
    with pytest.raises(MissingBackend, match="ftp://"):
        Bucket("ftp://lake")


def test_invalid_json_manifest_is_a_contract_error(tmp_path):
    (tmp_path / "b" / ".dataspoc").mkdir(parents=True)
    (tmp_path / "b" / ".dataspoc" / "manifest.json").write_text("{not json")
    with pytest.raises(ContractError, match="manifest.json is not valid JSON"):
        catalog.load(Bucket(str(tmp_path / "b")))


def test_unexpected_error_is_one_line(monkeypatch, capsys):
    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(cli_common, "open_bucket", boom)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["models"])
    assert exit_info.value.code == ExitCode.BUG
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("error: internal error in dataspoc-ml ")
    assert "(RuntimeError: disk on fire); this is a bug: please report it" in captured.err and "--debug" in captured.err


def test_default_bucket_is_env_then_local_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert cli_common.open_bucket(None).root == str(tmp_path / "bucket")
    monkeypatch.setenv("DATASPOC_BUCKET", "s3://from-env")
    assert cli_common.open_bucket(None).root == "from-env"
    assert cli_common.open_bucket("s3://from-flag").root == "from-flag"


def test_interrupt_is_one_line_and_130(monkeypatch, capsys):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_common, "open_bucket", interrupt)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["models"])
    assert exit_info.value.code == ExitCode.INTERRUPTED
    assert capsys.readouterr().err == "error: interrupted\n"


def test_debug_anywhere_shows_the_traceback_and_does_not_stick(monkeypatch, capsys):
    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cli_common, "open_bucket", boom)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--debug", "models"])
    assert exit_info.value.code == ExitCode.BUG
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith("error: internal error in dataspoc-ml")
    with pytest.raises(SystemExit):
        cli.main(["models"])
    assert "Traceback" not in capsys.readouterr().err


def test_cli_does_not_reach_into_typer_internals():
    from pathlib import Path

    for module in Path(cli.__file__).parent.glob("*.py"):
        assert "typer._click" not in module.read_text(), module.name

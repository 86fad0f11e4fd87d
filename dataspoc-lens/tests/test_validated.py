"""A manifest Lens validated before is read by a query without pydantic (catalog.for_query,
validated.py, tables.py): only the very bytes validated, and never past the path checks."""

from __future__ import annotations

import json

import pytest

from dataspoc_lens import catalog, tables, validated
from dataspoc_lens.bucket import Bucket
from dataspoc_lens.contract import MANIFEST_PATH
from dataspoc_lens.contract.models import Table
from dataspoc_lens.errors import ContractError, ExitCode
from lake import Lake, orders, shop, varied


@pytest.fixture
def lake(local_lake) -> Lake:
    shop(local_lake)
    local_lake.add("raw", "shop", "sales", {"2026-11-21": varied(20), "2026-11-22": varied(10, 20)})
    local_lake.manifest()
    return local_lake


def record(tmp_path) -> list[str]:
    path = tmp_path / "home" / ".dataspoc-lens" / validated.FILE
    return json.loads(path.read_text()) if path.exists() else []


def what_a_query_reads(table) -> tuple:
    return (
        table.qualified,
        table.layer,
        table.namespace,
        table.name,
        table.location,
        list(table.partition_by),
        [(c.name, c.type) for c in table.columns],
        [f.path for f in table.files],
    )


def test_the_second_read_is_plain_and_reads_the_same(lake, tmp_path):
    bucket = Bucket(lake.url)
    first = catalog.for_query(bucket)
    assert all(isinstance(t, Table) for t in first.tables)  # new bytes: validated with pydantic
    assert len(record(tmp_path)) == 1
    second = catalog.for_query(bucket)
    assert all(isinstance(t, tables.Table) for t in second.tables)
    assert [what_a_query_reads(t) for t in second.tables] == [what_a_query_reads(t) for t in first.tables]
    assert set(second.aliases) == set(first.aliases) and second.found
    assert len(record(tmp_path)) == 1


def test_only_a_query_and_catalog_note_what_they_validated(lake, lens, tmp_path):
    """`schema` validates in full every time and leaves the record alone; `catalog` notes the
    bytes like a query, and lists the same rows from them without the models."""
    assert lens("schema", "raw.shop.orders", "--bucket", lake.url).code == ExitCode.OK
    assert record(tmp_path) == []
    assert lens("query", "SELECT 1", "--bucket", lake.url).code == ExitCode.OK
    assert len(record(tmp_path)) == 1


def test_catalog_lists_the_same_rows_from_a_known_manifest(lake, lens, tmp_path):
    def scored(entry):
        entry["last_run_at"] = "2026-11-24T03:00:00.5Z"
        entry["quality"] = {"score": 100, "run_id": entry["last_run_id"], "checked_at": "2026-11-24T03:00:00Z",
                            "checks": 2, "failed": 0}  # fmt: skip

    tamper(lake, scored)
    full = lens("catalog", "--bucket", lake.url, "--json")
    assert full.code == ExitCode.OK and len(record(tmp_path)) == 1
    first = json.loads(full.stdout)
    assert first[[r["name"] for r in first].index("raw.shop.orders")]["score"] == 100.0
    plain = lens("catalog", "--bucket", lake.url, "--json")
    assert plain.stdout == full.stdout and plain.stderr == full.stderr
    assert catalog.summaries(Bucket(lake.url))[0] == catalog.load(Bucket(lake.url)).rows()
    table = lens("catalog", "--bucket", lake.url, "--layer", "raw")
    forget(tmp_path)
    assert lens("catalog", "--bucket", lake.url, "--layer", "raw").stdout == table.stdout
    tamper(lake, lambda entry: entry.update(location="raw/shop/../../etc"))
    refused = lens("catalog", "--bucket", lake.url, "--json")
    assert refused.code != ExitCode.OK and refused.stdout == ""


def tamper(lake: Lake, change) -> bytes:
    document = json.loads(lake.fs.cat_file(f"{lake.root}/{MANIFEST_PATH}"))
    change(document["tables"][0])
    raw = json.dumps(document).encode()
    lake.put(MANIFEST_PATH, raw)
    return raw


def test_changed_bytes_are_validated_again_and_refused(lake, lens, tmp_path):
    assert catalog.for_query(Bucket(lake.url)).tables  # validated and noted

    def escape(table: dict) -> None:
        table["location"] = "../../etc"

    tamper(lake, escape)
    with pytest.raises(ContractError, match="location"):
        catalog.for_query(Bucket(lake.url))
    refused = lens("query", "SELECT 1", "--bucket", lake.url, "--format", "csv")
    assert refused.code == ExitCode.DATA and "location" in refused.stderr and refused.stdout == ""
    assert len(record(tmp_path)) == 1  # nothing noted for bytes that failed


def test_a_harmless_change_is_validated_again(lake, tmp_path):
    catalog.for_query(Bucket(lake.url))

    def describe(table: dict) -> None:
        table["description"] = "orders, as the shop sends them"

    tamper(lake, describe)
    again = catalog.for_query(Bucket(lake.url))
    assert all(isinstance(t, Table) for t in again.tables) and len(record(tmp_path)) == 2


ESCAPES = {
    "location outside": lambda t: t.update(location="../../etc"),
    "names outside": lambda t: t.update(layer="..", namespace="..", name="etc", location="../../etc"),
    "location not the names'": lambda t: t.update(location="raw/shop/other"),
    "file outside": lambda t: t["partitions"][0]["files"][0].update(path="raw/shop/orders/../../../../etc/x.parquet"),
    "file absolute": lambda t: t["partitions"][0]["files"][0].update(path="/etc/passwd.parquet"),
    "file elsewhere": lambda t: t["partitions"][0]["files"][0].update(path="raw/crm/customers/x.parquet"),
}


@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_a_digest_noted_for_bad_bytes_still_cannot_open_a_path(lake, case):
    """Were the record wrong (edited by hand, or a bug), the plain read checks the paths too."""
    raw = tamper(lake, ESCAPES[case])
    validated.remember(raw)
    assert validated.known(raw)
    with pytest.raises(ContractError):
        catalog.for_query(Bucket(lake.url))


def test_a_digest_noted_for_a_table_listed_twice_is_refused(lake):
    document = json.loads(lake.fs.cat_file(f"{lake.root}/{MANIFEST_PATH}"))
    document["tables"].append(document["tables"][0])
    raw = json.dumps(document).encode()
    lake.put(MANIFEST_PATH, raw)
    validated.remember(raw)
    with pytest.raises(ContractError, match="twice"):
        catalog.for_query(Bucket(lake.url))


def test_a_digest_noted_for_bytes_of_another_shape_falls_back(lake):
    raw = b'{"tables": [{"layer": "raw"}]}'
    lake.put(MANIFEST_PATH, raw)
    validated.remember(raw)
    with pytest.raises(ContractError):
        catalog.for_query(Bucket(lake.url))


def test_other_rules_validate_again(lake, monkeypatch):
    raw = lake.fs.cat_file(f"{lake.root}/{MANIFEST_PATH}")
    validated.remember(raw)
    assert validated.known(raw)
    monkeypatch.setattr("dataspoc_lens.__version__", "99.0.0")
    assert not validated.known(raw)


def test_the_record_keeps_the_last_ones_whole(tmp_path):
    for n in range(validated.KEEP + 8):
        validated.remember(f"manifest {n}".encode())
    kept = record(tmp_path)
    assert len(kept) == validated.KEEP
    assert kept == [validated.digest(f"manifest {n}".encode()) for n in range(8, validated.KEEP + 8)]
    home = tmp_path / "home" / ".dataspoc-lens"
    assert sorted(p.name for p in home.iterdir()) == [validated.FILE]  # no temporary left


def test_a_home_that_cannot_be_written_or_read_only_costs_speed(lake, tmp_path, monkeypatch):
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("DATASPOC_LENS_HOME", str(tmp_path / "not-a-folder" / "home"))
    for _ in range(2):
        assert all(isinstance(t, Table) for t in catalog.for_query(Bucket(lake.url)).tables)
    monkeypatch.setenv("DATASPOC_LENS_HOME", str(tmp_path / "garbled"))
    (tmp_path / "garbled").mkdir()
    (tmp_path / "garbled" / validated.FILE).write_text("{not json")
    assert all(isinstance(t, Table) for t in catalog.for_query(Bucket(lake.url)).tables)
    assert all(isinstance(t, tables.Table) for t in catalog.for_query(Bucket(lake.url)).tables)


def forget(tmp_path) -> None:
    (tmp_path / "home" / ".dataspoc-lens" / validated.FILE).unlink(missing_ok=True)


def test_every_kind_of_query_ends_the_same_on_a_known_manifest(lens, tmp_path, s3_bucket):
    """Each line once on the manifest validated in full, once on the plain read."""
    local = shop(Lake.local(tmp_path / "bucket"))
    remote = shop(Lake.s3(s3_bucket))
    remote.add("raw", "shop", "orders", {"2026-11-21": orders(4, 10)})
    remote.manifest()
    assert lens("buckets", "add", "remote", remote.url).code == ExitCode.OK
    assert lens("cache", "raw.shop.orders", "--bucket", "remote").code == ExitCode.OK
    orders_sql = "SELECT order_id, amount FROM raw.shop.orders ORDER BY 1"
    lines = {
        "local csv": ["query", orders_sql, "--bucket", local.url, "--format", "csv"],
        "local table": ["query", "SELECT * FROM customers", "--bucket", local.url],
        "remote, cached table": ["query", orders_sql, "--bucket", "remote", "--format", "json"],
        "remote, not cached": ["query", "SELECT * FROM raw.crm.customers", "--bucket", "remote", "--format", "csv"],
        "several buckets": [
            "query",
            "SELECT (SELECT count(*) FROM bucket.raw.orders) AS a, (SELECT count(*) FROM remote.raw.orders) AS b",
            "--bucket",
            local.url,
            "--bucket",
            "remote",
            "--format",
            "csv",
        ],
        "offline": ["query", orders_sql, "--bucket", "remote", "--offline", "--format", "csv"],
        "read-only": ["query", f"COPY (SELECT 1) TO '{tmp_path}/bucket/raw/x.csv'", "--bucket", local.url],
        "read-only, several": [
            "query",
            f"COPY (SELECT 1) TO '{tmp_path}/x.csv'",
            "--bucket",
            local.url,
            "--bucket",
            "remote",
        ],
        "output into the bucket": ["query", "SELECT 1", "--bucket", local.url, "-o", f"{tmp_path}/bucket/x.csv"],
    }
    for name, args in lines.items():
        forget(tmp_path)
        full = lens(*args)
        assert record(tmp_path) or name == "offline", name  # the line validated the manifest(s)
        plain = lens(*args)
        assert (plain.code, plain.stdout, plain.stderr) == (full.code, full.stdout, full.stderr), name
        assert full.code == (ExitCode.USAGE if "read-only" in name or "into" in name else ExitCode.OK), (name, full)
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "bucket" / "raw" / "x.csv").exists()

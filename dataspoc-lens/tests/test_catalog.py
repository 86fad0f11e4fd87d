"""The catalog and the engine in-process, on real buckets and a real DuckDB."""

import pyarrow as pa
import pytest

from dataspoc_lens import catalog, duckdb_types, execute, session
from dataspoc_lens.bucket import Bucket
from dataspoc_lens.errors import (
    AmbiguousTable,
    BucketNotFound,
    ContractError,
    ExitCode,
    QueryError,
    UnknownTable,
    UnreadableTable,
)
from lake import orders, shop


@pytest.fixture
def shop_catalog(local_lake):
    shop(local_lake)
    return catalog.load(Bucket(local_lake.url))


def test_resolve_full_short_and_bare_names(shop_catalog):
    assert shop_catalog.resolve("raw.shop.orders").qualified == "raw.shop.orders"
    assert shop_catalog.resolve("sales.orders").qualified == "gold.sales.orders"
    assert shop_catalog.resolve("customers").qualified == "raw.crm.customers"


def test_ambiguous_and_unknown_names_list_what_to_do(shop_catalog):
    with pytest.raises(AmbiguousTable, match="gold.sales.orders, raw.shop.orders"):
        shop_catalog.resolve("orders")
    with pytest.raises(UnknownTable, match="dataspoc-lens catalog"):
        shop_catalog.resolve("raw.shop.nope")


def test_aliases_skip_names_two_tables_share(shop_catalog):
    assert set(shop_catalog.aliases) == {"customers", "events"}


def test_missing_manifest_is_an_empty_catalog(tmp_path):
    (tmp_path / "empty").mkdir()
    found = catalog.load(Bucket(str(tmp_path / "empty")))
    assert found.tables == [] and not found.found


def test_missing_bucket_folder_is_not_an_empty_catalog(tmp_path):
    with pytest.raises(BucketNotFound, match="nothing does not exist"):
        catalog.load(Bucket(str(tmp_path / "nothing")))


def test_file_outside_its_table_is_refused(local_lake):
    entry = local_lake.add("raw", "shop", "orders", {"2026-11-22": orders()})
    entry["partitions"][0]["files"][0]["path"] = "raw/crm/customers/dt=2026-11-22/x.parquet"
    local_lake.manifest()
    with pytest.raises(ContractError, match="outside table raw.shop.orders"):
        catalog.load(Bucket(local_lake.url))


@pytest.mark.parametrize(
    "arrow_type, expected",
    [
        ("int64", "BIGINT"),
        ("double", "DOUBLE"),
        ("string", "VARCHAR"),
        ("large_string", "VARCHAR"),
        ("bool", "BOOLEAN"),
        ("date32[day]", "DATE"),
        ("timestamp[us]", "TIMESTAMP"),
        ("timestamp[s]", "TIMESTAMP_S"),
        ("timestamp[ms, tz=UTC]", "TIMESTAMPTZ"),
        ("decimal128(10, 2)", "DECIMAL(10, 2)"),
        ("list<item: int64>", "VARCHAR"),
    ],
)
def test_arrow_types_map_to_duckdb(arrow_type, expected):
    assert duckdb_types.duckdb_type(arrow_type) == expected


def test_views_have_three_part_names_and_aliases(shop_catalog, duckdb_extensions):
    con = session.connect(shop_catalog, extension_directory=duckdb_extensions)
    result, cut = execute.run(con, "SELECT count(*) AS n FROM raw.shop.orders", None)
    assert result.names == ["n"] and result.rows == [(5,)] and not cut
    result, _ = execute.run(con, "SELECT country FROM customers ORDER BY 1", None)
    assert result.rows == [("BR",), ("PT",)]
    with pytest.raises(UnknownTable):
        execute.run(con, "SELECT * FROM orders", None)  # ambiguous: no alias


def test_empty_table_is_typed_from_the_manifest(shop_catalog, duckdb_extensions):
    con = session.connect(shop_catalog, extension_directory=duckdb_extensions)
    result, _ = execute.run(con, "SELECT * FROM curated.crm.events", None)
    assert result.rows == []
    assert result.types == ["bigint", "timestamp", "varchar", "date"]


def test_max_rows_cuts_and_says_so(shop_catalog, duckdb_extensions):
    con = session.connect(shop_catalog, extension_directory=duckdb_extensions)
    result, cut = execute.run(con, "SELECT * FROM raw.shop.orders", 2)
    assert len(result.rows) == 2 and cut


def test_sql_errors_become_query_errors(shop_catalog, duckdb_extensions):
    con = session.connect(shop_catalog, extension_directory=duckdb_extensions)
    with pytest.raises(QueryError, match="syntax error") as caught:
        execute.run(con, "SELEC 1", None)
    assert "\n" not in str(caught.value)
    with pytest.raises(QueryError, match="nope"):
        execute.run(con, "SELECT nope FROM raw.shop.orders", None)


def test_unreadable_table_does_not_break_the_others(local_lake, duckdb_extensions):
    shop(local_lake)
    customers_file = local_lake.tables[1]["partitions"][0]["files"][0]["path"]
    local_lake.fs.rm(f"{local_lake.root}/{customers_file}")
    found = catalog.load(Bucket(local_lake.url))
    con = session.connect(found, extension_directory=duckdb_extensions)
    result, _ = execute.run(con, "SELECT count(*) AS n FROM raw.shop.orders", None)
    assert result.rows == [(5,)]
    gone = f"the manifest lists {local_lake.root}/{customers_file}, which is gone"
    for sql in (
        "SELECT * FROM raw.crm.customers",
        "SELECT count(*) FROM raw.crm.customers",  # must not answer 1 (or 0)
        "SELECT country FROM raw.crm.customers WHERE country = 'BR'",  # a real column: no "column not found"
        "SELECT count(*) FROM customers WHERE customer_id > 0",  # through the alias too
    ):
        with pytest.raises(UnreadableTable) as caught:
            execute.run(con, sql, None)
        message = str(caught.value)
        assert message.startswith("table raw.crm.customers cannot be read: ") and gone in message, sql
        assert "\n" not in message and caught.value.exit_code == ExitCode.DATA
    # the unreadable view still has the manifest's columns, typed like the empty-table view
    described = con.sql("DESCRIBE raw.crm.customers").fetchall()
    assert [(r[0], r[1]) for r in described] == [("customer_id", "BIGINT"), ("country", "VARCHAR"), ("dt", "DATE")]


def test_corrupt_file_makes_its_table_fail_with_the_reason(local_lake, duckdb_extensions):
    shop(local_lake)
    customers_file = local_lake.tables[1]["partitions"][0]["files"][0]["path"]
    local_lake.put(customers_file, b"not parquet at all")
    con = session.connect(catalog.load(Bucket(local_lake.url)), extension_directory=duckdb_extensions)
    with pytest.raises(UnreadableTable, match="table raw.crm.customers cannot be read: ") as caught:
        execute.run(con, "SELECT count(*) FROM raw.crm.customers", None)
    assert "which is gone" not in str(caught.value)
    result, _ = execute.run(con, "SELECT count(*) AS n FROM raw.shop.orders", None)
    assert result.rows == [(5,)]


def test_union_by_name_across_schema_change(local_lake, duckdb_extensions):
    wider = orders(1, 9).append_column("coupon", pa.array(["X"]))
    local_lake.add("raw", "shop", "orders", {"2026-11-21": orders(2), "2026-11-22": wider})
    local_lake.manifest()
    con = session.connect(catalog.load(Bucket(local_lake.url)), extension_directory=duckdb_extensions)
    result, _ = execute.run(con, "SELECT coupon FROM raw.shop.orders ORDER BY order_id", None)
    assert result.rows == [(None,), (None,), ("X",)]


def test_unknown_major_version_names_file_version_and_fix(local_lake):
    local_lake.add("raw", "shop", "orders", {"2026-11-22": orders()})
    local_lake.manifest(contract_version="2.0", validate=False)
    with pytest.raises(ContractError) as caught:
        catalog.load(Bucket(local_lake.url))
    message = str(caught.value)
    assert f"{local_lake.url}/.dataspoc/manifest.json has contract version 2.0" in message
    assert "understands 1.x" in message and "upgrade dataspoc-lens" in message

"""A query mounts only the tables its SQL names: no other table's files are opened."""

import subprocess
import sys
import uuid

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from dataspoc_lens import catalog, execute, session
from dataspoc_lens.bucket import Bucket
from dataspoc_lens.errors import ExitCode, UnknownTable, UnreadableTable
from lake import Lake, shop

ALL_VIEWS = {
    "raw.shop.orders",
    "raw.crm.customers",
    "gold.sales.orders",
    "curated.crm.events",
    "memory.main.customers",
    "memory.main.events",
}


def views(con) -> set[str]:
    rows = con.sql("SELECT database_name, schema_name, view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    return {".".join(r) for r in rows}


@pytest.fixture
def shop_catalog(local_lake):
    shop(local_lake)
    return catalog.load(Bucket(local_lake.url))


@pytest.mark.parametrize(
    "sql, expected",
    [
        ("SELECT 1", set()),
        ("SELECT count(*) FROM raw.shop.orders", {"raw.shop.orders"}),
        ("SELECT * FROM customers", {"raw.crm.customers", "memory.main.customers"}),
        (
            "select * from RAW.Shop.ORDERS o, main.customers c",
            {"raw.shop.orders", "raw.crm.customers", "memory.main.customers"},
        ),
        # get_table_names cannot bind USING against its placeholders: the syntax tree answers
        (
            "SELECT o.dt, c.country FROM raw.shop.orders o JOIN customers c USING (customer_id)",
            {"raw.shop.orders", "raw.crm.customers", "memory.main.customers"},
        ),
        ("WITH x AS (SELECT * FROM gold.sales.orders) SELECT * FROM x", {"gold.sales.orders"}),
        ("SELECT 1; SELECT * FROM events", {"curated.crm.events", "memory.main.events"}),
        ("SELECT (SELECT max(day) FROM gold.sales.orders) AS d", {"gold.sales.orders"}),
        # uncertain: everything is mounted
        ("SELECT * FROM orders", ALL_VIEWS),  # ambiguous bare name: the full catalog's error
        ("SELECT * FROM raw.shop.nope", ALL_VIEWS),
        ("SHOW ALL TABLES", ALL_VIEWS),
        ("SELECT * FROM duckdb_views()", ALL_VIEWS),
        ("SELECT * FROM query_table('customers')", ALL_VIEWS),
        ("CREATE TABLE t AS SELECT 1", ALL_VIEWS),
        ("SELEC 1", ALL_VIEWS),
    ],
)
def test_only_referenced_tables_are_mounted(shop_catalog, duckdb_extensions, sql, expected):
    con = session.connect(shop_catalog, extension_directory=duckdb_extensions, sql=sql)
    try:
        assert views(con) == expected
    finally:
        con.close()


def test_mounting_a_subset_gives_the_same_answers(shop_catalog, duckdb_extensions):
    everything = session.connect(shop_catalog, extension_directory=duckdb_extensions)
    for sql in (
        "SELECT o.dt, count(*) AS n FROM raw.shop.orders o JOIN customers c USING (customer_id) GROUP BY 1 ORDER BY 1",
        "SELECT country FROM main.customers ORDER BY 1",
        "SELECT * FROM curated.crm.events",
        "SHOW ALL TABLES",
    ):
        con = session.connect(shop_catalog, extension_directory=duckdb_extensions, sql=sql)
        assert execute.run(con, sql, None)[0] == execute.run(everything, sql, None)[0], sql
        con.close()
    con = session.connect(shop_catalog, extension_directory=duckdb_extensions, sql="SELECT * FROM orders")
    with pytest.raises(UnknownTable):
        execute.run(con, "SELECT * FROM orders", None)


def test_broken_table_is_not_touched_by_a_query_on_another(local_lake, duckdb_extensions, lens):
    shop(local_lake)
    customers_file = local_lake.tables[1]["partitions"][0]["files"][0]["path"]
    local_lake.fs.rm(f"{local_lake.root}/{customers_file}")
    found = catalog.load(Bucket(local_lake.url))
    sql = "SELECT count(*) AS n FROM raw.shop.orders"
    con = session.connect(found, extension_directory=duckdb_extensions, sql=sql)
    assert views(con) == {"raw.shop.orders"}
    assert execute.run(con, sql, None)[0].rows == [(5,)]
    con = session.connect(found, extension_directory=duckdb_extensions, sql="SELECT * FROM customers")
    with pytest.raises(UnreadableTable, match="which is gone"):
        execute.run(con, "SELECT * FROM customers", None)
    result = lens("query", sql, "--bucket", local_lake.url, "--format", "csv")
    assert (result.code, result.stdout, result.stderr) == (ExitCode.OK, "n\n5\n", "")


class CountingMemoryFileSystem(MemoryFileSystem):
    """fsspec's in-memory filesystem, remembering every file opened through it."""

    protocol = ("memory",)
    opened: list[str] = []

    def _open(self, path, *args, **kwargs):
        CountingMemoryFileSystem.opened.append(self._strip_protocol(path))
        return super()._open(path, *args, **kwargs)


@pytest.fixture
def counting_lake():
    original = type(fsspec.filesystem("memory"))
    fsspec.register_implementation("memory", CountingMemoryFileSystem, clobber=True)
    name = f"lens-{uuid.uuid4().hex[:12]}"
    fs = fsspec.filesystem("memory")
    assert isinstance(fs, CountingMemoryFileSystem)
    try:
        yield shop(Lake(f"memory://{name}", fs, f"/{name}"))
    finally:
        fs.rm(f"/{name}", recursive=True)
        fsspec.register_implementation("memory", original, clobber=True)


def test_only_referenced_tables_files_are_opened(counting_lake, duckdb_extensions):
    found = catalog.load(Bucket(counting_lake.url))
    opened = CountingMemoryFileSystem.opened
    opened.clear()
    con = session.connect(found, extension_directory=duckdb_extensions, sql="SELECT 1")
    assert execute.run(con, "SELECT 1 AS one", None)[0].rows == [(1,)]
    assert opened == []

    sql = "SELECT count(*) AS n FROM customers"
    con = session.connect(found, extension_directory=duckdb_extensions, sql=sql)
    assert execute.run(con, sql, None)[0].rows == [(2,)]
    assert opened and all("/raw/crm/customers/" in path for path in opened)

    opened.clear()
    session.connect(found, extension_directory=duckdb_extensions)  # no SQL: everything, as before
    assert {"/".join(p.split("/")[2:5]) for p in opened} == {
        "raw/shop/orders",
        "raw/crm/customers",
        "gold/sales/orders",
    }


def test_catalog_command_does_not_load_duckdb(local_lake):
    shop(local_lake)
    check = (
        "import sys\n"
        "from dataspoc_lens import cli\n"
        "try:\n"
        f"    cli.app(args=['catalog', '--bucket', {local_lake.url!r}, '--json'], prog_name='dataspoc-lens')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('DUCKDB=' + str('duckdb' in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "raw.shop.orders" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "DUCKDB=False"


def test_a_table_name_in_a_string_or_comment_does_not_matter(shop_catalog, duckdb_extensions):
    sql = "SELECT 'raw.crm.customers' AS s -- FROM gold.sales.orders\n"
    con = session.connect(shop_catalog, extension_directory=duckdb_extensions, sql=sql)
    assert views(con) == set()
    assert execute.run(con, sql, None)[0].rows == [("raw.crm.customers",)]
    con.close()

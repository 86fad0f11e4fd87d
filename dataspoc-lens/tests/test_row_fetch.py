"""Small results of plain types are fetched by DuckDB itself, not as Arrow batches (execute.py):
every output format must come out byte for byte as through Arrow, cut rows and errors included."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from dataspoc_lens import catalog, execute, output, render
from dataspoc_lens.bucket import Bucket
from dataspoc_lens.errors import ExitCode
from dataspoc_lens.session import Session
from lake import Lake, shop


def kinds(n: int) -> pa.Table:
    """`n` rows of most column kinds a manifest holds, NULLs and awkward values included."""
    texts = ["plain", "x,y", 'q"q', "l\nm", "", "ü €", "tab\there", None]
    floats = [1.5, float("nan"), float("inf"), float("-inf"), -0.0, 1e16, 1e-7, None, 2.0, 1 / 3]
    ids = range(n)
    return pa.table(
        {
            "i64": pa.array(ids, pa.int64()),
            "i8": pa.array([None if i % 9 == 0 else i % 100 - 50 for i in ids], pa.int8()),
            "i16": pa.array([i * 3 for i in ids], pa.int16()),
            "i32": pa.array([-i for i in ids], pa.int32()),
            "u8": pa.array([i % 256 for i in ids], pa.uint8()),
            "u64": pa.array([2**64 - 1 - i for i in ids], pa.uint64()),
            "f32": pa.array([None if i % 7 == 0 else i / 4 for i in ids], pa.float32()),
            "f64": pa.array([floats[i % len(floats)] for i in ids], pa.float64()),
            "dec": pa.array([None if i % 5 == 0 else Decimal(i) / 4 for i in ids], pa.decimal128(10, 2)),
            "dec38": pa.array([Decimal(f"{i}.000000001") for i in ids], pa.decimal128(38, 9)),
            "s": pa.array([texts[i % len(texts)] for i in ids], pa.string()),
            "b": pa.array([None if i % 3 == 0 else i % 2 == 0 for i in ids], pa.bool_()),
            "d": pa.array([None if i % 4 == 0 else date(2026, 1, 1) + timedelta(days=i) for i in ids], pa.date32()),
            "ts": pa.array(
                [datetime(2026, 1, 1, 1, 2, 3, 456789) + timedelta(minutes=i) for i in ids], pa.timestamp("us")
            ),
            "tz": pa.array([datetime(2026, 1, 1) + timedelta(hours=i) for i in ids], pa.timestamp("us", tz="UTC")),
            "tm": pa.array([(i * 1_000_003) % 86_400_000_000 for i in ids], pa.time64("us")),
            "bin": pa.array([bytes([i % 256]) for i in ids], pa.binary()),
            "tags": pa.array([["a", "b"][: i % 3] for i in ids], pa.list_(pa.string())),
        }
    )


PLAIN = "i64, i8, i16, i32, u8, u64, f32, f64, dec, dec38, s, b, d, ts, dt"  # the types DuckDB fetches itself
SMALL = [  # results DuckDB's fetch gives whole: Arrow must not be touched
    f"SELECT {PLAIN} FROM raw.shop.kinds ORDER BY i64, dt",
    "SELECT s, count(*) AS n, sum(f64) AS total, sum(dec) AS money, min(d) AS first FROM raw.shop.kinds GROUP BY s ORDER BY s",
    "SELECT * EXCLUDE (tz, tm, bin, tags) FROM raw.shop.kinds WHERE i64 = 7",
    "SELECT i64 FROM raw.shop.kinds WHERE false",
    "SELECT i64 AS a, i32 AS a, i64 + 1, NULL AS nothing FROM raw.shop.kinds ORDER BY i64, dt LIMIT 3",
    "SELECT 1 AS one; SELECT i64, s FROM raw.shop.kinds ORDER BY i64 DESC, dt LIMIT 5",
    "SELECT 'a\"b,c' AS text, 0.0::DECIMAL(4,1) AS zero, -0.0 AS negative_zero",
    "DESCRIBE raw.shop.kinds",
]
OTHERS = [  # through Arrow, or through DuckDB's fetch and then Arrow again: the same output all the same
    "SELECT * FROM raw.shop.kinds ORDER BY i64, dt",  # TIME, TIMESTAMPTZ, BLOB, lists: Arrow's values differ
    f"SELECT {PLAIN} FROM raw.shop.big ORDER BY i64",  # more rows than execute.FETCH_ROWS
    "SELECT 5::HUGEINT AS h, gen_random_uuid() IS NOT NULL AS u",
    "SELECT DATE '9999-12-31' AS d, TIMESTAMP '0001-01-01 00:00:00' AS t, TIMESTAMP '9999-12-31 23:59:59.999999' AS m",
]
FAILING = [  # Python cannot hold these: Arrow's error, whichever path
    "SELECT 'infinity'::DATE AS d",
    "SELECT '-infinity'::TIMESTAMP AS t, 1 AS n",
    "SELECT DATE '20000-01-01' AS d",
    "SELECT 'x'::INTEGER AS n",
]


@pytest.fixture
def lake(local_lake) -> Lake:
    local_lake.add("raw", "shop", "kinds", {"2026-11-21": kinds(40), "2026-11-22": kinds(20)})
    local_lake.add("raw", "shop", "big", {"2026-11-21": kinds(execute.FETCH_ROWS + 500)})
    local_lake.manifest()
    return local_lake


def written(lake: Lake, extensions: str, sql: str, fmt: str, max_rows: int | None) -> tuple[object, ...]:
    """What `query` writes for `sql`: the output, the rows cut, or the error."""
    sink = io.BytesIO() if fmt == "parquet" else io.StringIO()
    with Session(catalog.for_query(Bucket(lake.url)), extension_directory=extensions) as session:
        try:
            outcome = output.run(session, sql, fmt, max_rows, None, stream=sink)
        except Exception as exc:  # the error is part of what must be the same
            return type(exc).__name__, str(exc)
    return sink.getvalue(), outcome


def through_arrow(monkeypatch, *args) -> tuple[object, ...]:
    with monkeypatch.context() as patched:
        patched.setattr(execute, "row_types", lambda relation: None)
        return written(*args)


def without_arrow(monkeypatch, *args) -> tuple[object, ...]:
    def refuse(*_):
        raise AssertionError("Arrow was used")

    with monkeypatch.context() as patched:
        patched.setattr(execute, "batch_reader", refuse)
        patched.setattr(execute, "arrow", refuse)
        return written(*args)


FORMATS = [f for f in render.FORMATS if f != "parquet"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("sql", SMALL)
def test_small_plain_results_skip_arrow_and_write_the_same(monkeypatch, lake, duckdb_extensions, sql, fmt):
    for max_rows in (None, 2, 100):
        args = (lake, duckdb_extensions, sql, fmt, max_rows)
        assert without_arrow(monkeypatch, *args) == through_arrow(monkeypatch, *args), (sql, fmt, max_rows)


@pytest.mark.parametrize("fmt", [*FORMATS, "parquet"])
@pytest.mark.parametrize("sql", OTHERS + FAILING)
def test_other_results_write_the_same_as_through_arrow(monkeypatch, lake, duckdb_extensions, sql, fmt):
    for max_rows in (None, 3, execute.FETCH_ROWS + 10):
        args = (lake, duckdb_extensions, sql, fmt, max_rows)
        assert written(*args) == through_arrow(monkeypatch, *args), (sql, fmt, max_rows)


def test_parquet_output_is_always_arrow(monkeypatch, lake, duckdb_extensions):
    refused = without_arrow(monkeypatch, lake, duckdb_extensions, SMALL[0], "parquet", None)
    assert refused == ("AssertionError", "Arrow was used")


def test_the_fetched_types_are_named_as_arrow_names_them(local_lake, duckdb_extensions):
    """The table view's type line comes from DuckDB's types on one path and from Arrow's on the
    other: every type in execute.ROW_TYPES, and decimals, must read the same."""
    import duckdb

    con = duckdb.connect()
    for duck in [t for t in execute.ROW_TYPES if t != '"NULL"'] + ["DECIMAL(4,1)", "DECIMAL(38,10)", "DECIMAL(18,3)"]:
        relation = con.sql(f"SELECT NULL::{duck} AS v")
        assert execute.row_types(relation) == [render.type_name(relation.to_arrow_table().schema[0].type)], duck
    assert execute.row_types(con.sql("SELECT NULL AS v")) == [render.type_name(pa.null())]


def test_a_small_query_on_a_known_manifest_imports_neither_pydantic_nor_pyarrow(lens, tmp_path):
    bucket = shop(Lake.local(tmp_path / "bucket")).url
    script = (
        "import sys\n"
        "from dataspoc_lens import cli\n"
        "try:\n"
        "    cli.main(sys.argv[1:])\n"
        "except SystemExit as stop:\n"
        "    assert stop.code == 0, stop.code\n"
        "print(sorted(m for m in ('pydantic', 'pyarrow') if m in sys.modules), file=sys.stderr)\n"
    )
    lines = {
        "group by": ["SELECT customer_id, count(*) AS n, sum(amount) AS total FROM raw.shop.orders GROUP BY 1"],
        "filter": ["SELECT * FROM raw.shop.orders WHERE order_id = 4"],
        "table view": ["SELECT * FROM customers"],
        "json": ["SELECT * FROM raw.shop.orders", "--format", "json"],
    }
    first = subprocess.run(
        [sys.executable, "-c", script, "query", "SELECT 1", "--bucket", bucket], capture_output=True, text=True
    )
    assert first.returncode == ExitCode.OK and "'pydantic'" in first.stderr  # new bytes: validated in full
    for name, args in lines.items():
        fmt = [] if "--format" in args or name == "table view" else ["--format", "csv"]
        done = subprocess.run(
            [sys.executable, "-c", script, "query", *args, "--bucket", bucket, *fmt],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == ExitCode.OK, done.stderr
        assert done.stderr.strip().splitlines()[-1] == "[]", (name, done.stderr)

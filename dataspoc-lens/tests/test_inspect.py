"""`dataspoc-lens inspect`: every figure equals the same aggregate computed by plain DuckDB SQL
over the table's Parquet files, through the installed CLI and through the core."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import duckdb
import pytest

from dataspoc_lens import catalog, inspect
from dataspoc_lens.bucket import Bucket
from dataspoc_lens.errors import ExitCode
from dataspoc_lens.session import Session
from lake import RUN_AT, orders, shop, varied, varied_lake

NOW = datetime.fromisoformat(RUN_AT) + timedelta(hours=6)


@pytest.fixture
def sales(local_lake):
    return varied_lake(local_lake)


def plain(lake, name: str = "sales") -> duckdb.DuckDBPyConnection:
    """Plain DuckDB over the files the manifest lists for a table: a view named t."""
    [entry] = [t for t in lake.tables if t["name"] == name]
    files = [f"{lake.root}/{f['path']}" for p in entry["partitions"] for f in p["files"]]
    con = duckdb.connect()
    hive = "true" if entry["partition_by"] else "false"
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet({files}, hive_partitioning={hive}, union_by_name=true)")
    return con


def one(con: duckdb.DuckDBPyConnection, sql: str):
    [(value,)] = con.execute(sql).fetchall()
    return value


def jsonish(value):
    """A DuckDB value as JSON carries it: decimals as strings, dates and timestamps in ISO form."""
    if isinstance(value, Decimal):
        return str(value)
    return value.isoformat() if hasattr(value, "isoformat") else value


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Traceback" not in stderr
    return lines[0]


def check_column(con: duckdb.DuckDBPyConnection, got: dict, rows: int) -> None:
    """Every figure of one column of `inspect --json` against plain DuckDB SQL."""
    c = q(got["name"])
    non_null = one(con, f"SELECT count({c}) FROM t")
    assert got["nulls"] == rows - non_null
    assert got["null_pct"] == pytest.approx(100 * (rows - non_null) / rows)
    assert got["distinct"] == one(con, f"SELECT count(DISTINCT {c}) FROM t")
    assert got["distinct_exact"] is True
    kind = got["kind"]
    if kind in ("number", "temporal"):
        assert got["min"] == jsonish(one(con, f"SELECT min({c}) FROM t"))
        assert got["max"] == jsonish(one(con, f"SELECT max({c}) FROM t"))
        histogram = got["histogram"]
        assert sum(b["count"] for b in histogram) == non_null
        x = f"CAST({c} AS DOUBLE)" if kind == "number" else f"epoch({c})"
        for i, b in enumerate(histogram):
            low = b["low"] if kind == "number" else f"epoch({literal_time(got['type'], b['low'])})"
            high = b["high"] if kind == "number" else f"epoch({literal_time(got['type'], b['high'])})"
            upper = "<=" if i == len(histogram) - 1 else "<"
            expected = one(con, f"SELECT count(*) FROM t WHERE {x} >= {low} AND {x} {upper} {high}")
            assert b["count"] == expected, (got["name"], b)
        assert any(b["count"] > 0 for b in histogram)
    if kind == "number":
        mean, stddev = con.execute(f"SELECT avg({c}), stddev_samp({c}) FROM t").fetchall()[0]
        assert got["mean"] == pytest.approx(float(mean), rel=1e-9)
        assert got["stddev"] == pytest.approx(float(stddev), rel=1e-9)
        for name, p in (("p25", 0.25), ("p50", 0.5), ("p75", 0.75)):
            assert got["quantiles"][name] == pytest.approx(float(one(con, f"SELECT quantile_cont({c}, {p}) FROM t")))
    if kind == "text":
        [(low, high, mean)] = con.execute(
            f"SELECT min(length({c})), max(length({c})), avg(length({c})) FROM t"
        ).fetchall()
        assert got["length"] == {"min": low, "max": high, "mean": pytest.approx(mean)}
    if kind in ("text", "boolean"):
        # the most frequent first, ties by value: the same values on every run
        top = con.execute(
            f"SELECT CAST({c} AS VARCHAR) AS v, count(*) AS n FROM t WHERE {c} IS NOT NULL "
            f"GROUP BY v ORDER BY n DESC, v LIMIT {inspect.TOP}"
        ).fetchall()
        assert [(t["value"], t["count"]) for t in got["top"]] == top and top, got["name"]


def literal_time(kind: str, text: str) -> str:
    return f"DATE '{text}'" if kind == "DATE" else f"TIMESTAMP '{text}'"


def test_every_figure_equals_plain_duckdb(lens, sales):
    result = lens("inspect", "raw.shop.sales", "--bucket", sales.url, "--json")
    assert result.code == ExitCode.OK, result.stderr
    assert result.stderr == ""
    got = json.loads(result.stdout)
    con = plain(sales)
    rows = one(con, "SELECT count(*) FROM t")
    assert got["table"] == "raw.shop.sales"
    assert got["rows"] == got["table_rows"] == rows == 2725
    assert got["sample"] is None
    described = con.execute("DESCRIBE t").fetchall()
    assert [(c["name"], c["type"]) for c in got["columns"]] == [(r[0], r[1]) for r in described]
    kinds = {c["name"]: c["kind"] for c in got["columns"]}
    assert kinds == {
        "order_id": "number",
        "customer_id": "number",
        "amount": "number",
        "price": "number",
        "quantity": "number",
        "status": "text",
        "email": "text",
        "note": "text",
        "created_at": "temporal",
        "shipped_on": "temporal",
        "paid": "boolean",
        "tags": "other",
        "dt": "temporal",
    }
    for column in got["columns"]:
        check_column(con, column, rows)
    distinct_rows = one(con, "SELECT count(*) FROM (SELECT DISTINCT * FROM t)")
    assert got["duplicates"] == {"rows": rows - distinct_rows, "on": [r[0] for r in described]}
    assert got["duplicates"]["rows"] == 25
    cells = rows * len(described)
    non_null = sum(one(con, f"SELECT count({q(r[0])}) FROM t") for r in described)
    quality = got["quality"]
    assert quality["completeness"] == pytest.approx(100 * non_null / cells)
    assert quality["uniqueness"] == pytest.approx(100 * distinct_rows / rows)
    assert quality["freshness"] == pytest.approx(inspect.freshness(got["age_hours"]))
    assert quality["checks"] is None and got["checks"] is None
    parts = [quality["completeness"], quality["uniqueness"], quality["freshness"]]
    assert quality["score"] == round(sum(parts) / 3, 1)
    assert got["last_run_at"] == datetime.fromisoformat(RUN_AT).isoformat()


def test_unit_bins_for_integers_and_dates_of_a_short_span(lens, sales):
    got = json.loads(lens("inspect", "sales", "--bucket", sales.url, "--json").stdout)
    columns = {c["name"]: c for c in got["columns"]}
    quantity = columns["quantity"]["histogram"]
    counts = plain(sales).execute("SELECT quantity, count(*) FROM t GROUP BY 1 ORDER BY 1").fetchall()
    assert [(b["low"], b["count"]) for b in quantity] == [(float(v), n) for v, n in counts]
    days = columns["dt"]["histogram"]
    assert [(b["low"], b["count"]) for b in days] == [("2026-11-21", 1500), ("2026-11-22", 1225)]
    assert len(columns["order_id"]["histogram"]) == inspect.BINS


def test_duplicates_on_a_key(lens, sales):
    con = plain(sales)
    for key, columns in (("order_id", "order_id"), ("email, status", "email, status")):
        result = lens("inspect", "raw.shop.sales", "--bucket", sales.url, "--json", "--key", key)
        assert result.code == ExitCode.OK, result.stderr
        got = json.loads(result.stdout)
        # rows beyond the first of each group of equal keys (NULLs equal), by GROUP BY
        expected = one(con, f"SELECT sum(n - 1) FROM (SELECT count(*) AS n FROM t GROUP BY {columns})")
        assert got["duplicates"] == {"rows": expected, "on": [k.strip() for k in key.split(",")]}
        assert got["quality"]["uniqueness"] == pytest.approx(100 * (got["rows"] - expected) / got["rows"])
    by_id = json.loads(lens("inspect", "sales", "--bucket", sales.url, "--json", "--key", "order_id").stdout)
    assert by_id["duplicates"]["rows"] == 25


@pytest.mark.parametrize("exact_up_to", [1_000_000, 0])  # exact distinct counts, then HyperLogLog's
def test_duplicates_when_a_column_is_unique_or_nearly(local_lake, exact_up_to):
    import pyarrow as pa

    n = 1000
    tables = {
        "unique": {"id": list(range(n)), "v": [i % 3 for i in range(n)]},
        # one id repeated, yet every row differs: the one-column check must not settle it
        "nearly": {"id": [*range(n - 1), 0], "v": list(range(n))},
        # the same id and the same row twice
        "twice": {"id": [*range(n - 1), 0], "v": [i % 3 for i in range(n - 1)] + [0]},
        # unique ids, with a NULL among them: rows equal on the other columns stay possible
        "nulls": {"id": [None, None, *range(n - 2)], "v": [1, 1, *range(n - 2)]},
    }
    for name, columns in tables.items():
        local_lake.add("gold", "lab", name, {None: pa.table({k: pa.array(v, pa.int64()) for k, v in columns.items()})})
    local_lake.manifest()
    for name in tables:
        con = plain(local_lake, name)
        got = profile(local_lake, name, exact_up_to=exact_up_to)
        assert got.duplicates == one(con, "SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT * FROM t)) FROM t")
        on_id = profile(local_lake, name, exact_up_to=exact_up_to, key=["id"])
        assert on_id.duplicates == one(con, "SELECT sum(n - 1) FROM (SELECT count(*) AS n FROM t GROUP BY id)")
    assert [profile(local_lake, name).duplicates for name in tables] == [0, 0, 1, 1]


def profile(lake, table: str, now: datetime = NOW, **options) -> inspect.Profile:
    """The core, without the CLI: a fixed `now` for freshness."""
    found = catalog.load(Bucket(lake.url))
    with Session(found) as session:
        return inspect.profile(session, found.resolve(table), now=now, **options)


def test_above_the_exact_limit_distinct_counts_are_hyperloglog(sales):
    con = plain(sales)
    approximate = profile(sales, "sales", exact_up_to=100)
    for c in approximate.columns:
        if c.kind in ("text", "boolean"):  # counted exactly while finding the top values
            assert (c.distinct, c.distinct_exact) == (one(con, f"SELECT count(DISTINCT {q(c.name)}) FROM t"), True)
        else:
            assert (c.distinct, c.distinct_exact) == (
                one(con, f"SELECT approx_count_distinct({q(c.name)}) FROM t"),
                False,
            )
    exact = profile(sales, "sales", exact_up_to=100, exact=True)
    for c in exact.columns:
        assert (c.distinct, c.distinct_exact) == (one(con, f"SELECT count(DISTINCT {q(c.name)}) FROM t"), True)


def test_sample_profiles_that_many_rows(lens, sales):
    result = lens("inspect", "sales", "--bucket", sales.url, "--json", "--sample", "400")
    assert result.code == ExitCode.OK, result.stderr
    got = json.loads(result.stdout)
    rows = got["rows"]
    assert (got["table_rows"], got["sample"]) == (2725, 400)
    assert 250 < rows < 550  # each row kept with probability 400 / 2725: about 400 rows
    for c in got["columns"]:
        assert 0 <= c["nulls"] <= rows
        if "histogram" in c:
            assert sum(b["count"] for b in c["histogram"]) == rows - c["nulls"]
        if "top" in c:
            assert sum(t["count"] for t in c["top"]) <= rows - c["nulls"]
    ids = plain(sales).execute("SELECT min(order_id), max(order_id) FROM t").fetchall()[0]
    sampled = next(c for c in got["columns"] if c["name"] == "order_id")
    assert ids[0] <= sampled["min"] <= sampled["max"] <= ids[1]
    # a sample as large as the table is the table
    whole = json.loads(lens("inspect", "sales", "--bucket", sales.url, "--json", "--sample", "5000").stdout)
    assert (whole["rows"], whole["sample"]) == (2725, None)
    text = lens("inspect", "sales", "--bucket", sales.url, "--sample", "400")
    assert "random sample of " in text.stdout and "estimates" in text.stdout


def test_freshness_falls_linearly_from_one_day_to_thirty():
    assert [inspect.freshness(h) for h in (-5, 0, 24, 372, 720, 10_000)] == [100.0, 100.0, 100.0, 50.0, 0.0, 0.0]


def test_score_takes_pipe_checks_when_the_table_has_them(local_lake):
    entry = local_lake.add("raw", "shop", "orders", {"2026-11-22": orders(4)})
    entry["quality"] = {
        "score": 60.0,
        "run_id": entry["last_run_id"],
        "checked_at": RUN_AT,
        "checks": 5,
        "failed": 2,
    }
    local_lake.manifest("1.2")
    at = datetime.fromisoformat(RUN_AT)
    fresh = profile(local_lake, "orders", now=at + timedelta(hours=2))
    assert fresh.score == inspect.Score(90.0, 100.0, 100.0, 100.0, 60.0)
    assert fresh.checks is not None and fresh.checks["failed"] == 2
    stale = profile(local_lake, "orders", now=at + timedelta(days=15.5))
    assert stale.score.freshness == pytest.approx(50.0)
    assert stale.score.score == round((100 + 100 + 50 + 60) / 4, 1)


def test_empty_table(lens, local_lake):
    shop(local_lake)
    result = lens("inspect", "curated.crm.events", "--bucket", local_lake.url, "--json")
    assert result.code == ExitCode.OK, result.stderr
    got = json.loads(result.stdout)
    assert got["rows"] == 0 and got["duplicates"]["rows"] == 0
    assert [c["name"] for c in got["columns"]] == ["event_id", "at", "kind", "dt"]
    assert all(c["nulls"] == 0 and c["distinct"] == 0 for c in got["columns"])
    quality = got["quality"]
    assert quality["completeness"] is None and quality["uniqueness"] is None
    assert quality["score"] == round(quality["freshness"], 1)


def test_nan_and_infinity_stay_out_of_the_histogram(lens, local_lake):
    import pyarrow as pa

    values = [1.0, 2.0, float("nan"), float("inf"), -float("inf"), None, 3.0, 2.5]
    odd = ["[red]x", "it's", '"quoted"', None, "[b]", "x", "x", "y"]  # data, not markup or SQL
    columns = {"v": pa.array(values, pa.float64()), 'a "quoted" name': pa.array(odd, pa.string())}
    local_lake.add("gold", "lab", "readings", {None: pa.table(columns)})
    local_lake.manifest()
    result = lens("inspect", "readings", "--bucket", local_lake.url, "--json")
    assert result.code == ExitCode.OK, result.stderr
    [v, quoted] = json.loads(result.stdout)["columns"]
    assert quoted["name"] == 'a "quoted" name' and quoted["distinct"] == 6
    assert quoted["top"][0] == {"value": "x", "count": 2}
    text = lens("inspect", "readings", "--bucket", local_lake.url)
    assert "[red]x" in text.stdout and "it's" in text.stdout
    con = plain(local_lake, "readings")
    assert v["nulls"] == 1
    assert sum(b["count"] for b in v["histogram"]) == one(con, "SELECT count(*) FROM t WHERE isfinite(v)") == 4
    assert (v["histogram"][0]["low"], v["histogram"][-1]["high"]) == (1.0, 3.0)
    assert (v["min"], v["max"], v["mean"]) == (None, None, None)  # -Infinity, NaN and NaN: null in JSON
    assert v["distinct"] == one(con, "SELECT count(DISTINCT v) FROM t")


def test_all_gives_one_line_per_table(lens, local_lake):
    shop(local_lake)
    varied_lake(local_lake)
    result = lens("inspect", "--all", "--bucket", local_lake.url, "--json")
    assert result.code == ExitCode.OK, result.stderr
    rows = {r["table"]: r for r in json.loads(result.stdout)}
    assert list(rows) == sorted(rows)
    assert set(rows) == {t["location"].replace("/", ".") for t in local_lake.tables}
    sales = rows["raw.shop.sales"]
    assert (sales["rows"], sales["columns"], sales["duplicates"]) == (2725, 13, 25)
    con = plain(local_lake)
    cells = one(con, "SELECT count(*) FROM t") * 13
    nulls = sum(one(con, f"SELECT count(*) - count({q(r[0])}) FROM t") for r in con.execute("DESCRIBE t").fetchall())
    assert sales["null_pct"] == pytest.approx(100 * nulls / cells)
    assert rows["curated.crm.events"]["rows"] == 0
    assert all(r["score"] is not None for r in rows.values())
    text = lens("inspect", "--all", "--bucket", local_lake.url)
    assert text.code == ExitCode.OK and text.stderr == ""
    lines = [line for line in text.stdout.splitlines() if "raw.shop.sales" in line]
    assert len(lines) == 1 and "2,725" in lines[0]


def test_all_goes_on_past_an_unreadable_table(lens, local_lake):
    from pathlib import Path

    shop(local_lake)
    [entry] = [t for t in local_lake.tables if t["name"] == "customers"]
    Path(local_lake.root, entry["partitions"][0]["files"][0]["path"]).unlink()
    result = lens("inspect", "--all", "--bucket", local_lake.url, "--json")
    assert result.code == ExitCode.DATA
    rows = {r["table"]: r for r in json.loads(result.stdout)}
    assert "is gone" in rows["raw.crm.customers"]["error"]
    assert rows["raw.shop.orders"]["rows"] == 5
    assert one_line_error(result.stderr).startswith("error: raw.crm.customers: table raw.crm.customers cannot be read")
    single = lens("inspect", "raw.crm.customers", "--bucket", local_lake.url)
    assert single.code == ExitCode.DATA and single.stdout == ""
    assert "is gone" in one_line_error(single.stderr)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["raw.shop.nope"], "unknown table 'raw.shop.nope'"),
        (["orders"], "table 'orders' is ambiguous"),
        (["raw.shop.orders", "--key", "order_id,nope"], "--key nope: table raw.shop.orders has no column 'nope'"),
        (["raw.shop.orders", "--key", "order_id,"], "--key order_id,: name the columns"),
        ([], "name one TABLE, or pass --all"),
        (["raw.shop.orders", "--all"], "name one TABLE, or pass --all"),
        (["--all", "--key", "order_id"], "--key and --html take one TABLE"),
        (["--all", "--html", "x.html"], "--key and --html take one TABLE"),
    ],
)
def test_bad_input_is_one_line(lens, local_lake, args, says):
    shop(local_lake)
    result = lens("inspect", *args, "--bucket", local_lake.url)
    assert result.code == ExitCode.USAGE, result.stderr
    assert result.stdout == ""
    assert says in one_line_error(result.stderr)


def test_bad_sample_is_a_usage_error(lens, local_lake):
    shop(local_lake)
    result = lens("inspect", "raw.shop.orders", "--sample", "0", "--bucket", local_lake.url)
    assert result.code == ExitCode.USAGE and "Traceback" not in result.stderr


def test_text_report_for_people(lens, sales):
    result = lens("inspect", "raw.shop.sales", "--bucket", sales.url)
    assert result.code == ExitCode.OK and result.stderr == ""
    out = result.stdout
    assert out.startswith("raw.shop.sales: 2,725 rows, 13 columns\n")
    assert "duplicate rows: 25 (0.92%) on all columns" in out
    assert "quality " in out and "completeness" in out and "no checks have run on this table" in out
    for name in ("order_id", "created_at", "status", "paid", "tags"):
        assert name in out
    status = next(line for line in out.splitlines() if line.startswith("│ status"))
    assert "paid (" in status  # its top values


def test_help_has_examples_and_the_score(lens):
    result = lens("inspect", "--help")
    assert result.code == ExitCode.OK
    for text in ("--sample", "--key", "--html", "--all", "--json", "--exact", "quality score"):
        assert text in result.stdout
    assert "Examples:" in result.stdout and "dataspoc-lens inspect --all" in result.stdout


def test_varied_rows_are_what_the_tests_expect():
    table = varied(10, copies=2)
    assert table.num_rows == 12 and table.column("order_id").to_pylist()[-2:] == [0, 1]


def test_help_imports_nothing_heavy():
    import subprocess
    import sys

    check = (
        "import sys\n"
        "from dataspoc_lens import cli\n"
        "try:\n"
        "    cli.app(args=['inspect', '--help'], prog_name='dataspoc-lens', standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('pyarrow', 'duckdb', 'rich.table') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "dataspoc-lens inspect" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.s3
def test_on_s3_the_same_figures_as_on_a_folder(lens, s3_lake, local_lake):
    def figures(lake) -> dict:
        varied_lake(lake)
        result = lens("inspect", "raw.shop.sales", "--bucket", lake.url, "--json")
        assert result.code == ExitCode.OK, result.stderr
        got = json.loads(result.stdout)
        return rounded({k: v for k, v in got.items() if k not in ("age_hours", "inspected_at", "quality")})

    def rounded(value):  # sums of floats may differ in the last bits with the order threads add them
        if isinstance(value, float):
            return float(f"{value:.10g}")
        if isinstance(value, dict):
            return {k: rounded(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rounded(v) for v in value]
        return value

    assert figures(s3_lake) == figures(local_lake)
    sampled = lens("inspect", "raw.shop.sales", "--bucket", s3_lake.url, "--json", "--sample", "500")
    assert sampled.code == ExitCode.OK, sampled.stderr

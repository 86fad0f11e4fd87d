"""`inspect`: the figures of one table and its quality score, as plain data for the CLI to print.

The figures come from three DuckDB scans (inspect_scans.py):

1. One aggregate SELECT over every column at once: the row count; per column the non-null
   count and the distinct count; for numbers min, max, mean, standard deviation and the
   quartiles (`quantile_cont`, exact); for dates and timestamps min and max; for text the
   length's min, max and mean.
2. One GROUP BY GROUPING SETS with a set per text or boolean column (its top values, counted
   exactly, and its exact distinct count) and a set per number or date column (its histogram
   bin, the bins chosen from the ranges scan 1 found).
3. One SELECT DISTINCT over every column, or over `--key`, for the duplicate rows; skipped
   when one of those columns has no NULL and as many distinct values as there are rows (then
   no two rows can be equal). A column HyperLogLog finds nearly unique is first checked with a
   one-column DISTINCT (a tenth of the cost on the benchmark table), which settles it when it
   is unique.

Measured on a 10M-row, 20-column table (bench/inspect_lens.py): the three scans together take
about as long as DuckDB's own SUMMARIZE; folding 3 into 1 or 2 is slower (DuckDB runs DISTINCT
aggregates apart from the others).

Distinct counts of text and boolean columns are always exact (scan 2 counts their groups).
For the other columns they are exact (`count(DISTINCT ...)`) when at most
EXACT_DISTINCT_ROWS rows are scanned or `exact` is asked for, and otherwise DuckDB's
HyperLogLog `approx_count_distinct` (a few percent off, and 6x cheaper on wide tables); each
column says which it got. `sample` profiles a random sample of about that many rows instead of
the whole table: each row kept with probability sample / rows (DuckDB's bernoulli sampling; a
reservoir of exactly N rows was measured 8x slower to draw from 10M rows, 15.8 s against 2.1 s),
held in a temporary table so the three scans see the same rows.

The quality score (0-100) is the plain mean of the components that apply (`score`):
completeness (the share of non-null cells), uniqueness (the share of rows that are not
duplicates), freshness (100 up to a day after the manifest's last run, falling linearly to 0 at
30 days) and, when checks ran on the table (`dataspoc-pipe` or `dataspoc-lens test`), their
score as the manifest records it (contract/QUALITY.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from dataspoc_lens.errors import UnknownColumn
from dataspoc_lens.views import ident

if TYPE_CHECKING:
    import duckdb

    from dataspoc_lens.contract.models import Table
    from dataspoc_lens.session import Queries

TOP = 10  # top values kept per text or boolean column
BINS = 20  # histogram bins per number or date column
QUANTILES = (0.25, 0.5, 0.75)
EXACT_DISTINCT_ROWS = 1_000_000
FRESH_HOURS = 24.0  # freshness is 100 up to this age ...
STALE_HOURS = 30 * 24.0  # ... and 0 from this age on
SAMPLE_TABLE = "__dataspoc_inspect_sample"

INTEGERS = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
}
FLOATS = {"FLOAT", "DOUBLE", "REAL"}


def kind_of(duckdb_type: str) -> str:
    """number, temporal, text, boolean or other: which figures a column gets."""
    t = duckdb_type.upper()
    if t in INTEGERS or t in FLOATS or t.startswith("DECIMAL"):
        return "number"
    if t == "DATE" or t.startswith("TIMESTAMP"):
        return "temporal"
    if t == "VARCHAR":
        return "text"
    if t == "BOOLEAN":
        return "boolean"
    return "other"


@dataclass
class Bin:
    """Values from `low` up to `high` (the last bin includes `high`): numbers, or seconds since
    1970 for dates and timestamps."""

    low: float
    high: float
    count: int


@dataclass
class Column:
    name: str
    type: str  # DuckDB's
    kind: str  # kind_of(type)
    nulls: int = 0
    null_pct: float = 0.0
    distinct: int = 0
    distinct_exact: bool = True
    min: Any = None  # numbers and dates
    max: Any = None
    mean: float | None = None  # numbers
    stddev: float | None = None
    quantiles: dict[str, float | None] = field(default_factory=dict)  # p25, p50, p75
    length: dict[str, float | None] = field(default_factory=dict)  # text: min, max, mean
    top: list[tuple[str, int]] = field(default_factory=list)  # text and booleans: most frequent first, ties by value
    histogram: list[Bin] = field(default_factory=list)  # numbers and dates
    discrete: bool = False  # one histogram bin per value (integers and dates of a short span)


@dataclass
class Score:
    """Each component is 0-100, or None where it does not apply; `score` is their mean."""

    score: float | None
    completeness: float | None
    uniqueness: float | None
    freshness: float | None
    checks: float | None


@dataclass
class Profile:
    table: str
    rows: int  # the rows the figures come from (the sample's, with --sample)
    table_rows: int  # the table's rows (the manifest's count when sampled)
    sample: int | None  # the sample size asked for, when a sample was taken (`rows` is about it)
    columns: list[Column]
    duplicates: int
    key: list[str] | None  # duplicates are counted on these columns; None: on all of them
    last_run_at: datetime
    age_hours: float
    checks: dict[str, Any] | None  # the manifest's quality entry, when checks ran on the table
    score: Score
    inspected_at: datetime


def freshness(age_hours: float) -> float:
    if age_hours <= FRESH_HOURS:
        return 100.0
    return max(0.0, 100.0 * (STALE_HOURS - age_hours) / (STALE_HOURS - FRESH_HOURS))


def score(
    rows: int, columns: int, non_null_cells: int, duplicates: int, age_hours: float, checks: float | None
) -> Score:
    """The quality score: the mean of completeness, uniqueness, freshness and the checks'
    score, each 0-100, leaving out those that do not apply (an empty table has no completeness
    or uniqueness; an unchecked one no checks)."""
    cells = rows * columns
    completeness = 100.0 * non_null_cells / cells if cells else None
    uniqueness = 100.0 * (rows - duplicates) / rows if rows else None
    fresh = freshness(age_hours)
    present = [c for c in (completeness, uniqueness, fresh, checks) if c is not None]
    total = round(sum(present) / len(present), 1) if present else None
    return Score(total, completeness, uniqueness, fresh, checks)


def profile(
    session: Queries,
    table: Table,
    *,
    key: list[str] | None = None,
    sample: int | None = None,
    exact: bool = False,
    now: datetime | None = None,
    exact_up_to: int = EXACT_DISTINCT_ROWS,
) -> Profile:
    """Every figure of one table: mounted through the session (read-only), scanned three times."""
    from dataspoc_lens import inspect_scans as scans

    now = now or datetime.now(timezone.utc)
    name = f"{ident(table.layer)}.{ident(table.namespace)}.{ident(table.name)}"
    session.prepare(f"SELECT * FROM {name}")
    con = session.con
    columns = [Column(n, t, kind_of(t)) for n, t in scans.describe(con, name)]
    if key is not None:
        names = [c.name for c in columns]
        for k in key:
            if k not in names:
                raise UnknownColumn(
                    f"--key {k}: table {table.qualified} has no column '{k}'; its columns are {', '.join(names)}"
                )
    source = name
    sampled = sample is not None and sample < table.row_count
    if sampled:
        source = ident(SAMPLE_TABLE)
        scans.fetch(
            con,
            f"CREATE OR REPLACE TEMP TABLE {source} AS "
            f"SELECT * FROM {name} USING SAMPLE {100.0 * (sample or 0) / table.row_count!r}% (bernoulli, 42)",
        )
    try:
        rows, ranges = scans.aggregates(con, source, columns, exact=exact or (sample or table.row_count) <= exact_up_to)
        if rows:
            scans.values(con, source, columns, ranges)
        duplicates = _duplicates(con, source, rows, [c for c in columns if key is None or c.name in key])
    finally:
        if sampled:
            scans.fetch(con, f"DROP TABLE IF EXISTS {source}")
    age = (now - table.last_run_at).total_seconds() / 3600
    non_null = sum(rows - c.nulls for c in columns)
    checks = table.quality.model_dump(mode="json") if table.quality else None
    return Profile(
        table=table.qualified,
        rows=rows,
        table_rows=table.row_count if sampled else rows,
        sample=sample if sampled else None,
        columns=columns,
        duplicates=duplicates,
        key=key,
        last_run_at=table.last_run_at,
        age_hours=age,
        checks=checks,
        score=score(rows, len(columns), non_null, duplicates, age, table.quality.score if table.quality else None),
        inspected_at=now,
    )


NEARLY_UNIQUE = 0.97  # HyperLogLog's count, of rows, above which a column may be unique


def _duplicates(con: duckdb.DuckDBPyConnection, source: str, rows: int, columns: list[Column]) -> int:
    """Rows beyond the first of each group of rows equal on `columns` (NULLs equal)."""
    from dataspoc_lens import inspect_scans as scans

    if rows == 0:
        return 0
    if any(c.nulls == 0 and c.distinct == rows and c.distinct_exact for c in columns):
        return 0
    candidates = [c for c in columns if c.nulls == 0 and not c.distinct_exact and c.distinct >= NEARLY_UNIQUE * rows]
    if candidates:
        likeliest = max(candidates, key=lambda c: c.distinct)
        if scans.distinct_rows(con, source, [likeliest.name]) == rows:
            return 0
    return rows - scans.distinct_rows(con, source, [c.name for c in columns])


def edge(c: Column, value: float) -> Any:
    """A histogram edge as the column's own kind of value: a number, a date or a timestamp."""
    if c.kind != "temporal":
        return value
    moment = datetime.fromtimestamp(value, timezone.utc)
    if c.type.upper() == "DATE":
        return moment.date()
    return moment if "TIME ZONE" in c.type.upper() else moment.replace(tzinfo=None)


def as_dict(p: Profile) -> dict[str, Any]:
    """The profile for --json: JSON-safe values (dates as ISO strings, decimals as strings)."""
    from dataspoc_lens.render import plain

    def column(c: Column) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": c.name,
            "type": c.type,
            "kind": c.kind,
            "nulls": c.nulls,
            "null_pct": c.null_pct,
            "distinct": c.distinct,
            "distinct_exact": c.distinct_exact,
        }
        if c.kind in ("number", "temporal"):
            d["min"], d["max"] = plain(c.min), plain(c.max)
        if c.kind == "number":
            d["mean"], d["stddev"] = plain(c.mean), plain(c.stddev)
            d["quantiles"] = {k: plain(v) for k, v in c.quantiles.items()}
        if c.kind == "text":
            d["length"] = {k: plain(v) for k, v in c.length.items()}
        if c.kind in ("text", "boolean"):
            d["top"] = [{"value": v, "count": n} for v, n in c.top]
        if c.kind in ("number", "temporal"):
            d["histogram"] = [
                {"low": plain(edge(c, b.low)), "high": plain(edge(c, b.high)), "count": b.count} for b in c.histogram
            ]
        return d

    return {
        "table": p.table,
        "rows": p.rows,
        "table_rows": p.table_rows,
        "sample": p.sample,
        "columns": [column(c) for c in p.columns],
        "duplicates": {"rows": p.duplicates, "on": p.key or [c.name for c in p.columns]},
        "last_run_at": p.last_run_at.isoformat(),
        "age_hours": p.age_hours,
        "checks": p.checks,
        "quality": {
            "score": p.score.score,
            "completeness": p.score.completeness,
            "uniqueness": p.score.uniqueness,
            "freshness": p.score.freshness,
            "checks": p.score.checks,
        },
        "inspected_at": p.inspected_at.isoformat(),
    }


def summary(p: Profile) -> dict[str, Any]:
    """One line of `inspect --all`."""
    cells = p.rows * len(p.columns)
    return {
        "table": p.table,
        "rows": p.table_rows,
        "columns": len(p.columns),
        "null_pct": 100.0 * sum(c.nulls for c in p.columns) / cells if cells else 0.0,
        "duplicates": p.duplicates,
        "score": p.score.score,
        "completeness": p.score.completeness,
        "uniqueness": p.score.uniqueness,
        "freshness": p.score.freshness,
        "checks": p.score.checks,
        "last_run_at": p.last_run_at.isoformat(),
        "sample": p.sample,
    }

"""The three DuckDB scans behind `inspect` (inspect.py says what each computes and why three).

Each fills in the Column records it is given; SQL is built here from DuckDB's own column types,
every name quoted with views.ident.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataspoc_lens.inspect import BINS, FLOATS, INTEGERS, QUANTILES, TOP, Bin, Column
from dataspoc_lens.views import ident

if TYPE_CHECKING:
    import duckdb


def fetch(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    import duckdb

    from dataspoc_lens.translate import translate

    try:
        return con.execute(sql).fetchall()
    except duckdb.Error as exc:
        raise translate(exc) from exc


def describe(con: duckdb.DuckDBPyConnection, source: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in fetch(con, f"DESCRIBE SELECT * FROM {source}")]


Range = tuple[float | None, float | None]


def aggregates(
    con: duckdb.DuckDBPyConnection, source: str, columns: list[Column], exact: bool
) -> tuple[int, dict[str, Range]]:
    """Scan 1: fill in every column's counts, ranges, moments and quartiles; return the rows,
    and the finite range of each number and date column (as numbers) for scan 2's bins."""
    parts: list[tuple[Column, str, str]] = []  # (column, figure, SQL)
    for c in columns:
        q = ident(c.name)
        parts.append((c, "non_null", f"count({q})"))
        if c.kind not in ("text", "boolean"):  # theirs are counted exactly by scan 2
            parts.append((c, "distinct", f"count(DISTINCT {q})" if exact else f"approx_count_distinct({q})"))
            c.distinct_exact = exact
        if c.kind == "number":
            quartiles = ", ".join(str(p) for p in QUANTILES)
            parts += [
                (c, "min", f"min({q})"),
                (c, "max", f"max({q})"),
                (c, "mean", f"avg({q})"),
                (c, "stddev", f"stddev_samp({q})"),
                (c, "quantiles", f"quantile_cont(CAST({q} AS DOUBLE), [{quartiles}])"),
            ]
            finite = f" FILTER (WHERE isfinite({q}))" if c.type.upper() in FLOATS else ""
            parts += [
                (c, "low", f"CAST(min({q}){finite} AS DOUBLE)"),
                (c, "high", f"CAST(max({q}){finite} AS DOUBLE)"),
            ]
        elif c.kind == "temporal":
            parts += [
                (c, "min", f"min({q})"),
                (c, "max", f"max({q})"),
                (c, "low", f"epoch(min({q}) FILTER (WHERE isfinite({q})))"),
                (c, "high", f"epoch(max({q}) FILTER (WHERE isfinite({q})))"),
            ]
        elif c.kind == "text":
            parts += [
                (c, "length_min", f"min(length({q}))"),
                (c, "length_max", f"max(length({q}))"),
                (c, "length_mean", f"avg(length({q}))"),
            ]
    sql = "SELECT count(*)" + "".join(f", {expr}" for _, _, expr in parts) + f" FROM {source}"
    [row] = fetch(con, sql)
    rows = int(row[0])
    ranges: dict[str, Range] = {}
    for (c, figure, _), value in zip(parts, row[1:]):
        if figure == "non_null":
            c.nulls = rows - int(value)
            c.null_pct = 100.0 * c.nulls / rows if rows else 0.0
        elif figure == "distinct":
            c.distinct = int(value)
        elif figure == "quantiles":
            values = value or [None] * len(QUANTILES)
            c.quantiles = {_quantile_name(p): v for p, v in zip(QUANTILES, values)}
        elif figure.startswith("length_"):
            c.length[figure.removeprefix("length_")] = value
        elif figure == "low":
            ranges[c.name] = (value, None)
        elif figure == "high":
            ranges[c.name] = (ranges[c.name][0], value)
        else:
            setattr(c, figure, value)
    return rows, ranges


def _quantile_name(p: float) -> str:
    return f"p{round(p * 100)}"


@dataclass
class _Bins:
    """How scan 2 bins one column: `count` bins of `width` from `low`."""

    low: float
    width: float
    count: int
    discrete: bool = False


def _bins(c: Column, low: float | None, high: float | None) -> _Bins | None:
    """At most BINS equal-width bins over the column's finite range. Integers and dates get
    bins a whole number of values (days) wide, one per value when the span allows."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return None
    unit = 86400.0 if c.type.upper() == "DATE" else 1.0 if c.type.upper() in INTEGERS else None
    if unit is not None:
        distinct = round((high - low) / unit) + 1  # the values the range can hold
        per_bin = math.ceil(distinct / BINS)
        return _Bins(low, unit * per_bin, math.ceil(distinct / per_bin), discrete=per_bin == 1)
    if high == low:
        return _Bins(low, 1.0, 1)
    return _Bins(low, (high - low) / BINS, BINS)


def values(con: duckdb.DuckDBPyConnection, source: str, columns: list[Column], ranges: dict[str, Range]) -> None:
    """Scan 2: top values and exact distinct counts of text and boolean columns, histograms of
    number and date columns, in one GROUP BY GROUPING SETS."""
    sets: list[tuple[Column, str, _Bins | None]] = []  # (column, its expression in `src`, bins)
    for c in columns:
        q = ident(c.name)
        if c.kind in ("text", "boolean"):
            sets.append((c, f"CAST({q} AS VARCHAR)", None))
        elif c.kind in ("number", "temporal"):
            bins = _bins(c, *ranges[c.name])
            if bins is None:
                continue
            x = f"CAST({q} AS DOUBLE)" if c.kind == "number" else f"epoch({q})"
            offset = f"CAST(floor(({x} - {bins.low!r}) / {bins.width!r}) AS BIGINT)"
            index = f"least(greatest({offset}, 0), {bins.count - 1})"
            # least() and greatest() skip NULLs: a NULL must stay out of every bin
            keep = f"isfinite({q})" if c.type.upper() in FLOATS or c.kind == "temporal" else f"{q} IS NOT NULL"
            index = f"CASE WHEN {keep} THEN {index} END"
            sets.append((c, index, bins))
    if not sets:
        return
    alias = [ident(f"e{i}") for i in range(len(sets))]
    select = ", ".join(f"{expr} AS {a}" for (_, expr, _), a in zip(sets, alias))
    tag = "CASE " + " ".join(f"WHEN GROUPING({a}) = 0 THEN {i}" for i, a in enumerate(alias)) + " END"
    text = [a for (_, _, bins), a in zip(sets, alias) if bins is None]
    binned = [a for (_, _, bins), a in zip(sets, alias) if bins is not None]
    value = f"COALESCE({', '.join(text)})" if text else "CAST(NULL AS VARCHAR)"
    bin_ = f"COALESCE({', '.join(binned)})" if binned else "CAST(NULL AS BIGINT)"
    if len(text) == 1:
        value = text[0]
    if len(binned) == 1:
        bin_ = binned[0]
    sql = f"""
        WITH src AS (SELECT {select} FROM {source}),
        g AS (
            SELECT {tag} AS tag, {value} AS v, {bin_} AS b, count(*) AS n
            FROM src GROUP BY GROUPING SETS ({", ".join(f"({a})" for a in alias)})
        )
        SELECT tag, count(v),
               min_by({{'v': v, 'n': n}}, (-n, v), {TOP}) FILTER (WHERE v IS NOT NULL),
               list({{'b': b, 'n': n}}) FILTER (WHERE b IS NOT NULL)
        FROM g GROUP BY tag
    """
    for tag_, distinct, top, bins_found in fetch(con, sql):
        c, _, bins = sets[tag_]
        if bins is None:
            c.distinct = int(distinct)
            c.top = sorted(((t["v"], int(t["n"])) for t in top or []), key=lambda t: (-t[1], t[0]))
        else:
            c.discrete = bins.discrete
            counts = [0] * bins.count
            for found in bins_found or []:
                counts[found["b"]] += int(found["n"])
            c.histogram = [
                Bin(bins.low + i * bins.width, bins.low + (i + 1) * bins.width, n) for i, n in enumerate(counts)
            ]


def distinct_rows(con: duckdb.DuckDBPyConnection, source: str, names: list[str]) -> int:
    """Scan 3: how many different rows (or key values) the table holds; NULLs count as equal."""
    columns = ", ".join(ident(n) for n in names)
    [(count,)] = fetch(con, f"SELECT count(*) FROM (SELECT DISTINCT {columns} FROM {source})")
    return int(count)

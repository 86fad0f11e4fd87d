"""`inspect` for people at a terminal: the table's figures, its duplicates and score, on stdout."""

from __future__ import annotations

import math
import sys
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from dataspoc_lens.inspect import Column, Profile, Score


def number(value: Any, digits: int = 4) -> str:
    """A number for people: thousands separated, at most `digits` decimals, exponents only for
    the very large or very small; '' for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Decimal):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        if value != 0 and (abs(value) >= 1e15 or abs(value) < 10**-digits):
            return f"{value:.3e}"
        text = f"{value:,.{digits}f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    return value_text(value)


def value_text(value: Any) -> str:
    """Any figure as text: dates and timestamps in ISO form, numbers as number() writes them."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, float, Decimal)):
        return number(value)
    return str(value)


def age(hours: float) -> str:
    """How long ago, for people: '40 minutes', '5.2 hours', '3.1 days'."""
    if hours < 1:
        minutes = round(max(hours * 60, 0))
        return f"{minutes} minute{'' if minutes == 1 else 's'}"
    if hours < 48:
        return f"{hours:.1f} hours"
    return f"{hours / 24:.1f} days"


def distinct(c: Column) -> str:
    return number(c.distinct) if c.distinct_exact else f"~{number(c.distinct)}"


def score_line(s: Score, checked: bool) -> str:
    parts = [
        f"{name} {number(v, 1)}"
        for name, v in (
            ("completeness", s.completeness),
            ("uniqueness", s.uniqueness),
            ("freshness", s.freshness),
            ("checks", s.checks),
        )
        if v is not None
    ]
    head = f"quality {number(s.score, 1)}/100" if s.score is not None else "quality: no score"
    tail = "" if checked else "; no checks have run on this table"
    return f"{head} = mean of {', '.join(parts)}{tail}"


def duplicates_line(p: Profile) -> str:
    on = f"key ({', '.join(p.key)})" if p.key else "all columns"
    share = f" ({number(100.0 * p.duplicates / p.rows, 2)}%)" if p.rows else ""
    return f"duplicate rows: {number(p.duplicates)}{share} on {on}"


def header(p: Profile) -> list[str]:
    lines = [f"{p.table}: {number(p.table_rows)} rows, {len(p.columns)} columns"]
    if p.sample is not None:
        lines.append(f"figures from a random sample of {number(p.rows)} rows: estimates, not exact counts")
    lines.append(f"last run {p.last_run_at.isoformat()} ({age(p.age_hours)} ago)")
    lines.append(score_line(p.score, p.checks is not None))
    lines.append(duplicates_line(p))
    return lines


def report(p: Profile) -> None:
    """The whole profile on stdout: a header, then a table of number, date and other columns
    and one of text and boolean columns."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    width = None if sys.stdout.isatty() else 10_000
    console = Console(file=sys.stdout, highlight=False, soft_wrap=False, width=width)
    console.print("\n".join(header(p)), markup=False)
    measured = [c for c in p.columns if c.kind not in ("text", "boolean")]
    if measured:
        table = Table(header_style="bold")
        names = ("column", "type", "nulls", "null %", "distinct", "min", "max", "mean", "stddev", "p25", "p50", "p75")
        for name in names:
            table.add_column(name, overflow="fold")
        for c in measured:
            q = c.quantiles
            table.add_row(
                Text(c.name),
                c.type,
                number(c.nulls),
                number(c.null_pct, 2),
                distinct(c),
                value_text(c.min),
                value_text(c.max),
                number(c.mean),
                number(c.stddev),
                number(q.get("p25")),
                number(q.get("p50")),
                number(q.get("p75")),
            )
        console.print(table)
    texts = [c for c in p.columns if c.kind in ("text", "boolean")]
    if texts:
        table = Table(header_style="bold")
        for name in ("column", "type", "nulls", "null %", "distinct", "length min/mean/max", "top values (count)"):
            table.add_column(name, overflow="fold")
        for c in texts:
            length = "/".join(number(c.length.get(k), 1) for k in ("min", "mean", "max")) if c.length else ""
            top = ", ".join(f"{v} ({number(n)})" for v, n in c.top[:5])
            # Text(): a value like "[red]" is data, not markup
            table.add_row(Text(c.name), c.type, number(c.nulls), number(c.null_pct, 2), distinct(c), length, Text(top))
        console.print(table)
    sys.stdout.flush()


def summaries(rows: list[dict[str, Any]]) -> None:
    """`inspect --all`: one line per table."""
    from dataspoc_lens import render

    names = ["table", "rows", "columns", "null %", "duplicates", "score", "last_run_at"]
    lines = []
    for r in rows:
        if "error" in r:
            lines.append([r["table"], "", "", "", "", "error", r["error"]])
            continue
        lines.append(
            [
                r["table"],
                number(r["rows"]),
                r["columns"],
                number(r["null_pct"], 2),
                number(r["duplicates"]),
                number(r["score"], 1),
                r["last_run_at"],
            ]
        )
    render.records(names, lines, "table")

"""`inspect --html`: one self-contained page a data lead can forward to the team.

Everything is inline: the style, and SVG charts drawn here (a histogram per number or date
column, bars for top values, null and distinct bars, the score's components). No script, font,
image or style sheet is fetched. The file is written beside its target and moved into place,
so a failed run never leaves half a page.
"""

from __future__ import annotations

import html
import os
from datetime import datetime
from pathlib import Path

from dataspoc_lens import __version__
from dataspoc_lens.errors import UsageError
from dataspoc_lens.inspect import INTEGERS, Column, Profile, edge
from dataspoc_lens.report_text import age, distinct, duplicates_line, number, value_text

BAR, NULL, DISTINCT, TRACK = "#3f6fd1", "#c2571a", "#2d8a6e", "#e9edf1"
STYLE = """
:root { --ink: #1f2933; --muted: #61707f; --line: #d9dee4; --card: #ffffff; --page: #f4f6f8; }
* { box-sizing: border-box; }
body { margin: 0; padding: 28px 36px; background: var(--page); color: var(--ink);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; }
h3 { font-size: 15px; margin: 0; word-break: break-all; }
.muted { color: var(--muted); }
.note { background: #fff4d6; border: 1px solid #f0d58c; padding: 6px 10px; border-radius: 6px; display: inline-block; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 14px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.summary { display: flex; gap: 14px; flex-wrap: wrap; align-items: stretch; }
.summary .card { flex: 1 1 300px; }
.score { display: flex; gap: 18px; align-items: center; }
table { border-collapse: collapse; width: 100%; background: var(--card); }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0 10px; font-size: 13px; }
dt { color: var(--muted); }
dd { margin: 0; font-variant-numeric: tabular-nums; word-break: break-all; }
.type { font-size: 12px; color: var(--muted); font-family: ui-monospace, Menlo, Consolas, monospace; }
svg text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: var(--ink); }
svg .axis { fill: var(--muted); }
footer { margin-top: 28px; font-size: 12px; color: var(--muted); }
"""


def write(target: str | os.PathLike[str], profile: Profile) -> Path:
    """Write the page to `target`: into a temporary file beside it, then moved into place."""
    path = Path(target).expanduser()
    if not path.parent.exists():
        raise UsageError(f"--html {target}: folder {path.parent} does not exist")
    if path.is_dir():
        raise UsageError(f"--html {target} is a folder; name a file, e.g. {path / 'profile.html'}")
    text = page(profile)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def page(p: Profile) -> str:
    e = html.escape
    title = f"{p.table}: profile"
    facts = [f"{number(p.table_rows)} rows", f"{len(p.columns)} columns"]
    facts.append(f"last run {_moment(p.last_run_at)} ({age(p.age_hours)} ago)")
    sample = (
        f'<p class="note">Figures from a random sample of {number(p.rows)} of {number(p.table_rows)} rows: '
        "estimates, not exact counts.</p>"
        if p.sample is not None
        else ""
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{STYLE}</style></head><body>",
        f"<header><h1>{e(p.table)}</h1><div class='muted'>{e(' · '.join(facts))}</div>{sample}</header>",
        '<section class="summary">',
        _score_card(p),
        _duplicates_card(p),
        "</section>",
        "<h2>Columns</h2>",
        _overview(p),
        "<h2>Each column</h2>",
        '<section class="cards">',
        *(_column_card(p, c) for c in p.columns),
        "</section>",
        f"<footer>Made by dataspoc-lens {e(__version__)} inspect on {e(_moment(p.inspected_at))}. "
        "Distinct counts marked ~ are approximate (HyperLogLog).</footer>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _moment(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M %Z").strip()


def _colour(score: float | None) -> str:
    if score is None:
        return "#8a96a3"
    return "#2d8a6e" if score >= 90 else "#c98a0b" if score >= 70 else "#c2371a"


def _score_card(p: Profile) -> str:
    s = p.score
    shown = number(s.score, 1) if s.score is not None else "–"
    ring = 2 * 3.14159 * 42
    filled = ring * (s.score or 0) / 100
    gauge = (
        '<svg class="chart gauge" width="110" height="110" viewBox="0 0 110 110" role="img" '
        f'aria-label="quality score {html.escape(shown)} of 100">'
        '<circle cx="55" cy="55" r="42" fill="none" stroke="#e4e8ec" stroke-width="12"/>'
        f'<circle class="bar" data-value="{s.score or 0}" cx="55" cy="55" r="42" fill="none" '
        f'stroke="{_colour(s.score)}" stroke-width="12" stroke-dasharray="{filled:.2f} {ring:.2f}" '
        'transform="rotate(-90 55 55)"/>'
        f'<text x="55" y="60" text-anchor="middle" style="font-size:22px;font-weight:600">{html.escape(shown)}</text>'
        "</svg>"
    )
    components = [
        ("completeness", s.completeness, "non-null cells"),
        ("uniqueness", s.uniqueness, "rows that are not duplicates"),
        ("freshness", s.freshness, "100 within a day of the last run, 0 at 30 days"),
        ("checks", s.checks, "the score of the checks that ran on the table"),
    ]
    shown_parts = [(n, v, why) for n, v, why in components if v is not None]
    bars = _bars(
        "components",
        [(f"{n} {number(v, 1)}", float(v or 0), 100.0) for n, v, _ in shown_parts],
        width=300,
        colour=_colour(s.score),
    )
    explained = "; ".join(f"{n}: {why}" for n, _, why in shown_parts)
    unchecked = "" if p.checks is not None else " No checks have run on this table."
    return (
        '<div class="card"><h3>Quality score</h3><div class="score">'
        f"{gauge}<div>{bars}</div></div>"
        f'<p class="muted">The mean of the components ({html.escape(explained)}).{html.escape(unchecked)}</p></div>'
    )


def _duplicates_card(p: Profile) -> str:
    share = 100.0 * p.duplicates / p.rows if p.rows else 0.0
    bars = _bars(
        "duplicates",
        [(f"duplicates {number(share, 2)}%", share, 100.0)],
        width=300,
        colour=NULL,
    )
    completeness = p.score.completeness
    nulls = 100.0 - completeness if completeness is not None else 0.0
    null_bars = _bars("nulls", [(f"null cells {number(nulls, 2)}%", nulls, 100.0)], width=300, colour=NULL)
    return (
        '<div class="card"><h3>Duplicates and nulls</h3>'
        f"<p>{html.escape(duplicates_line(p))}</p><div>{bars}</div><div>{null_bars}</div></div>"
    )


def _overview(p: Profile) -> str:
    rows = []
    for c in p.columns:
        null_bar = _inline_bar(c.null_pct, 100.0, NULL, f"{number(c.null_pct, 2)}%")
        distinct_bar = _inline_bar(float(c.distinct), float(max(p.rows - c.nulls, 1)), DISTINCT, distinct(c))
        rows.append(
            f"<tr><td>{html.escape(c.name)}</td><td class='type'>{html.escape(c.type)}</td>"
            f"<td class='num'>{html.escape(number(c.nulls))}</td><td>{null_bar}</td><td>{distinct_bar}</td>"
            f"<td>{html.escape(_range(c))}</td></tr>"
        )
    head = (
        "<tr><th>column</th><th>type</th><th>nulls</th><th>null share</th><th>distinct (of non-null)</th>"
        "<th>range</th></tr>"
    )
    return f"<table class='overview'>{head}{''.join(rows)}</table>"


def _range(c: Column) -> str:
    if c.kind in ("number", "temporal") and c.min is not None:
        return f"{value_text(c.min)} … {value_text(c.max)}"
    if c.kind == "text" and c.length.get("min") is not None:
        return f"length {number(c.length.get('min'))} … {number(c.length.get('max'))}"
    if c.kind == "boolean" and c.top:
        return ", ".join(f"{v} {number(n)}" for v, n in c.top)
    return ""


def _inline_bar(value: float, whole: float, colour: str, label: str) -> str:
    """A small horizontal bar: `value` out of `whole`, with its label."""
    width = 120
    filled = 0.0 if whole <= 0 else max(0.0, min(1.0, value / whole)) * width
    if value > 0:
        filled = max(filled, 1.0)
    return (
        f'<svg class="chart inline" width="{width + 130}" height="14" role="img" aria-label="{html.escape(label)}">'
        f'<rect x="0" y="2" width="{width}" height="10" fill="{TRACK}"/>'
        f'<rect class="bar" data-value="{value}" x="0" y="2" width="{filled:.2f}" height="10" fill="{colour}"/>'
        f'<text x="{width + 6}" y="11">{html.escape(label)}</text></svg>'
    )


def _bars(name: str, items: list[tuple[str, float, float]], width: int, colour: str = BAR) -> str:
    """Horizontal bars, one per (label, value, scale): each bar is value/scale of the width."""
    row, label_height = 30, 13
    height = row * len(items) + 4
    out = [
        f'<svg class="chart bars {html.escape(name)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(name)}">'
    ]
    for i, (label, value, scale) in enumerate(items):
        y = i * row
        filled = 0.0 if scale <= 0 else max(0.0, min(1.0, value / scale)) * width
        if value > 0:
            filled = max(filled, 2.0)
        out.append(f'<text x="0" y="{y + label_height - 2}">{html.escape(label)}</text>')
        out.append(f'<rect x="0" y="{y + label_height + 2}" width="{width}" height="10" fill="{TRACK}"/>')
        out.append(
            f'<rect class="bar" data-value="{value}" x="0" y="{y + label_height + 2}" width="{filled:.2f}" '
            f'height="10" fill="{colour}"><title>{html.escape(label)}</title></rect>'
        )
    out.append("</svg>")
    return "".join(out)


def _top_values(c: Column, rows: int) -> str:
    if not c.top:
        return '<p class="muted">no values</p>'
    largest = max(n for _, n in c.top)
    items = [(f"{_short(v)}  {number(n)} ({number(100.0 * n / rows, 1)}%)", float(n), float(largest)) for v, n in c.top]
    return _bars("top-values", items, width=320)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _histogram(c: Column) -> str:
    """Vertical bars, one per bin, scaled to the fullest bin; the range's ends and middle under them."""
    if not c.histogram:
        return '<p class="muted">no values to chart</p>'
    width, height, bottom = 320, 120, 18
    gap = 1 if len(c.histogram) > 1 else 0
    step = width / len(c.histogram)
    largest = max(b.count for b in c.histogram) or 1
    # integers and dates: a bin's last value is one unit before its end
    unit = 1.0 if c.type.upper() in INTEGERS else 86400.0 if c.type.upper() == "DATE" else 0.0
    out = [
        f'<svg class="chart histogram" width="{width}" height="{height + bottom}" '
        f'viewBox="0 0 {width} {height + bottom}" role="img" aria-label="histogram of {html.escape(c.name)}">'
    ]
    for i, b in enumerate(c.histogram):
        h = height * b.count / largest
        if b.count > 0:
            h = max(h, 1.5)
        low, high = _edge_text(c, b.low), _edge_text(c, b.high - unit)
        what = low if c.discrete else f"{low} to {high}"
        out.append(
            f'<rect class="bar" data-count="{b.count}" x="{i * step:.2f}" y="{height - h:.2f}" '
            f'width="{max(step - gap, 1):.2f}" height="{h:.2f}" fill="{BAR}">'
            f"<title>{html.escape(f'{what}: {number(b.count)}')}</title></rect>"
        )
    out.append(f'<line x1="0" y1="{height}" x2="{width}" y2="{height}" stroke="#9aa5b1"/>')
    # under the ends: the smallest and largest value (the last bin of integers and dates ends past it)
    first, last = _edge_text(c, c.histogram[0].low), _edge_text(c, c.histogram[-1].high)
    if c.type.upper() in INTEGERS or c.type.upper() == "DATE":
        first, last = value_text(c.min), value_text(c.max)
    out.append(f'<text class="axis" x="0" y="{height + 13}">{html.escape(first)}</text>')
    out.append(f'<text class="axis" x="{width}" y="{height + 13}" text-anchor="end">{html.escape(last)}</text>')
    out.append("</svg>")
    return "".join(out)


def _edge_text(c: Column, value: float) -> str:
    shown = edge(c, value)
    if isinstance(shown, datetime):
        midnight = (shown.hour, shown.minute, shown.second) == (0, 0, 0)
        return shown.strftime("%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M")
    return value_text(shown) if not isinstance(shown, float) else number(shown, 2)


def _column_card(p: Profile, c: Column) -> str:
    facts: list[tuple[str, str]] = [
        ("nulls", f"{number(c.nulls)} ({number(c.null_pct, 2)}%)"),
        ("distinct", distinct(c)),
    ]
    if c.kind in ("number", "temporal"):
        facts += [("min", value_text(c.min)), ("max", value_text(c.max))]
    if c.kind == "number":
        q = c.quantiles
        facts += [
            ("mean", number(c.mean)),
            ("stddev", number(c.stddev)),
            ("quartiles", " · ".join(number(q.get(k)) for k in ("p25", "p50", "p75"))),
        ]
    if c.kind == "text":
        low, high, mean = (c.length.get(k) for k in ("min", "max", "mean"))
        facts.append(("length", f"{number(low)} … {number(high)}, mean {number(mean, 1)}"))
    listing = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in facts)
    if c.kind in ("number", "temporal"):
        chart = _histogram(c)
    elif c.kind in ("text", "boolean"):
        chart = _top_values(c, max(p.rows - c.nulls, 1))
    else:
        chart = ""
    null_bar = _inline_bar(c.null_pct, 100.0, NULL, f"nulls {number(c.null_pct, 2)}%")
    distinct_bar = _inline_bar(float(c.distinct), float(max(p.rows - c.nulls, 1)), DISTINCT, f"distinct {distinct(c)}")
    return (
        f'<div class="card column"><h3>{html.escape(c.name)} <span class="type">{html.escape(c.type)}</span></h3>'
        f"<dl>{listing}</dl><div>{null_bar}</div><div>{distinct_bar}</div><div>{chart}</div></div>"
    )

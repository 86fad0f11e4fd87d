"""Properties of the CSV source (csv_files.py): generated rows written as CSV read back as written.

Rows are written the way CSV writers do (RFC 4180: quotes doubled, every text field quoted so an
empty text is told apart from NULL, an empty unquoted field for NULL) and read through the kind,
as a run reads them.
"""

from __future__ import annotations

import itertools
from unittest import mock

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dataspoc_pipe.errors import PipeError, SourceError
from dataspoc_pipe.sources import csv_files
from generated import beyond_int64, column_names, finite_floats, int64s, read_files, texts

DECLARED = {"int": "int64", "float": "double", "text": "string", "bool": "bool"}
VALUES = {
    "int": int64s,
    "float": finite_floats,
    "text": texts,
    "bool": st.booleans(),
    # text no reader would take for a number, a boolean or a date: inference keeps it text
    "word": st.text(st.characters(exclude_categories=["Cs"]), max_size=8).map(lambda s: "x" + s),
}
ARROW = {"int": "int64", "float": "double", "text": "string", "bool": "bool", "word": "string"}


def field(kind: str, value, quote_all: bool) -> str:
    if value is None:
        return ""  # an empty field is NULL
    if kind == "bool":
        text = ("true" if value else "false").upper() if quote_all else ("true" if value else "false")
    else:
        text = repr(value) if kind == "float" else str(value)
    if kind in ("text", "word") or quote_all:
        return '"' + text.replace('"', '""') + '"'
    return text


@st.composite
def tables(draw, kinds=("int", "float", "text", "bool"), min_rows=0):
    """(names, kinds, rows): a table of a few typed columns, any value possibly NULL."""
    # one-column files: a header holding `;` `|` or a tab is taken for a wrongly set delimiter
    names = draw(column_names(alphabet=st.characters(exclude_categories=["Cs", "Cc"], exclude_characters=";|\t")))
    chosen = [draw(st.sampled_from(kinds)) for _ in names]
    row = st.tuples(*(st.none() | VALUES[k] for k in chosen))
    rows = draw(st.lists(row, min_size=min_rows, max_size=30))
    if len(names) == 1:
        # a one-column NULL is a blank line, and blank lines are skipped (docs/pipe.md)
        rows = [r for r in rows if r[0] is not None]
    return names, chosen, rows


def write(names, kinds, rows, newline="\n", quote_all=False) -> bytes:
    header = ",".join('"' + n.replace('"', '""') + '"' for n in names)
    lines = [header] + [",".join(field(k, v, quote_all) for k, v in zip(kinds, row)) for row in rows]
    return (newline.join(lines) + newline).encode()


@settings(max_examples=100)
@given(
    table=tables(),
    splits=st.lists(st.integers(0, 30), max_size=2),
    newline=st.sampled_from(["\n", "\r\n"]),
    quote_all=st.booleans(),
    block=st.sampled_from([64, 1 << 10, csv_files.BLOCK_SIZE]),
)
def test_declared_columns_read_back_exactly_in_order(table, splits, newline, quote_all, block):
    """Any rows, split over files and read in blocks of any size, come back value for value and
    in order; the header's names and order are the columns'."""
    names, kinds, rows = table
    cuts = sorted({min(c, len(rows)) for c in splits} | {0, len(rows)})
    files = {
        f"part{i}.csv": write(names, kinds, rows[a:b], newline, quote_all)
        for i, (a, b) in enumerate(itertools.pairwise(cuts))
    } or {"part0.csv": write(names, kinds, [], newline, quote_all)}
    declared = {n: DECLARED[k] for n, k in zip(names, kinds)}
    with mock.patch.object(csv_files, "BLOCK_SIZE", block):
        batches = read_files("csv", files, columns=declared)
    assert all(b.schema.names == names for b in batches)
    got = [tuple(r[n] for n in names) for b in batches for r in b.to_pylist()]
    assert got == rows


@settings(max_examples=100)
@given(table=tables(kinds=("int", "float", "bool", "word"), min_rows=1))
def test_inferred_types_keep_every_value(table):
    """Undeclared columns: integers are int64, decimals double, booleans bool, text string, with
    each value as written; a column with no value at all is text."""
    names, kinds, rows = table
    assume(rows)
    [batch, *rest] = read_files("csv", {"a.csv": write(names, kinds, rows)})
    assert not rest
    for index, (name, kind) in enumerate(zip(names, kinds)):
        column = batch.column(name)
        values = [row[index] for row in rows]
        assert str(column.type) == (ARROW[kind] if any(v is not None for v in values) else "string")
        assert column.to_pylist() == values


@settings(max_examples=60)
@given(
    table=tables(kinds=("int",), min_rows=1),
    big=beyond_int64,
    at=st.integers(0, 29),
)
def test_an_integer_beyond_int64_is_refused_never_rounded(table, big, at):
    """An integer Arrow's int64 cannot hold stops the run naming its line and column (as in
    JSON Lines), instead of turning the column into rounded doubles."""
    names, kinds, rows = table
    at = min(at, len(rows))
    rows = [*rows[:at], (big,) + (None,) * (len(names) - 1), *rows[at:]]
    with pytest.raises(SourceError) as raised:
        read_files("csv", {"a.csv": write(names, kinds, rows)})
    message = str(raised.value)
    assert "\n" not in message
    assert str(big) in message and f"line {at + 2}" in message and f"'{names[0]}'" in message


@settings(max_examples=100)
@given(table=tables(min_rows=1), cut=st.integers(0, 10_000), junk=st.binary(max_size=8))
def test_any_damaged_file_is_read_or_refused_in_one_line(table, cut, junk):
    """A file cut anywhere (mid-quote, mid-character) and with any bytes after the cut is read,
    or refused with one line of the package's own errors: never another exception."""
    names, kinds, rows = table
    content = write(names, kinds, rows)
    content = content[: cut % (len(content) + 1)] + junk
    try:
        read_files("csv", {"a.csv": content}, mtime=0)
    except PipeError as exc:
        assert "\n" not in str(exc).strip(), str(exc)

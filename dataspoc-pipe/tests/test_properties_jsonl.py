"""Properties of the JSON Lines source (jsonl_files.py, json_records.py): generated records
written as JSON Lines read back as written, and what JSON cannot bring into Arrow is refused in
one line naming the record (the module docstrings' rules)."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataspoc_pipe.errors import SourceError
from dataspoc_pipe.sources import jsonl_files
from generated import as_rows, beyond_int64, column_names, finite_floats, int64s, read_files, texts

# strings that look like dates and times stay strings
stamps = st.one_of(st.dates().map(str), st.datetimes().map(lambda d: d.isoformat()))
nested = st.fixed_dictionaries({"n": int64s, "s": texts, "l": st.lists(int64s, max_size=3)})
VALUES = {
    "int": int64s,
    "float": finite_floats,
    "text": texts | stamps,
    "bool": st.booleans(),
    "object": nested,
}


@st.composite
def records(draw, kinds=tuple(VALUES), min_size=0):
    """(records, columns in the order they first show): each record a JSON object holding some
    of the columns, in any order, any value possibly null."""
    names = draw(column_names(alphabet=st.characters(exclude_categories=["Cs"])))
    chosen = {name: draw(st.sampled_from(kinds)) for name in names}
    made, order = [], []
    for _ in range(draw(st.integers(min_size, 25))):
        keys = draw(st.permutations(names))
        keys = [k for k in keys if draw(st.booleans())] or keys[:1]
        made.append({k: draw(st.none() | VALUES[chosen[k]]) for k in keys})
        order += [k for k in keys if k not in order]
    return made, order


def lines(made, draw_blank, ascii_only) -> list[str]:
    out = []
    for record in made:
        if draw_blank():
            out.append(" ")
        out.append(json.dumps(record, ensure_ascii=ascii_only))
    return out


@settings(max_examples=100)
@given(
    data=records(),
    blanks=st.lists(st.booleans(), min_size=30, max_size=30),
    ascii_only=st.booleans(),
    bom=st.booleans(),
    newline=st.sampled_from(["\n", "\r\n"]),
    final_newline=st.booleans(),
    chunk=st.sampled_from([64, 1 << 10, jsonl_files.CHUNK]),
)
def test_records_read_back_exactly_in_order(data, blanks, ascii_only, bom, newline, final_newline, chunk):
    """Any records, with blank lines, a byte order mark, CRLF and no final newline, read in chunks
    of any size, come back value for value and in order, a key missing from a record as NULL,
    columns in the order keys first show."""
    made, order = data
    flags = iter(blanks)
    text = newline.join(lines(made, lambda: next(flags, False), ascii_only)) + (newline if final_newline else "")
    content = (b"\xef\xbb\xbf" if bom else b"") + text.encode()
    if not content.strip(b"\xef\xbb\xbf \r\n"):
        return  # nothing to read: no file content, no rows
    with mock.patch.object(jsonl_files, "CHUNK", chunk):
        batches = read_files("jsonl", {"a.jsonl": content}, mtime=0)
    got = as_rows(batches)
    assert list(got[0]) == order if got else order == []
    assert got == [{name: record.get(name) for name in order} for record in made]


@settings(max_examples=60)
@given(data=records(kinds=("object", "int", "text"), min_size=1))
def test_nested_json_keeps_each_object_as_its_json_text(data):
    """With `nested: json` an object comes back as JSON text holding the same object."""
    made, _ = data
    content = "\n".join(json.dumps(r) for r in made).encode() + b"\n"
    got = as_rows(read_files("jsonl", {"a.jsonl": content}, nested="json"))
    for record, row in zip(made, got, strict=True):
        for name, value in record.items():
            if isinstance(value, dict):
                assert json.loads(row[name]) == value
            else:
                assert row[name] == value


BAD = {
    "nan": st.sampled_from(["NaN", "Infinity", "-Infinity"]).map(lambda c: '{"v": ' + c + "}"),
    "big integer": beyond_int64.map(lambda n: f'{{"v": {n}}}'),
    "nested big integer": beyond_int64.map(lambda n: f'{{"v": {{"deep": [1, {n}]}}}}'),
    "not an object": st.sampled_from(["[1, 2]", '"text"', "3", "null"]),
    "not json": st.sampled_from(["{", "{'v': 1}", "v=1", '{"v": 1,}']),
    "kind changes": st.just('{"id": "seven"}'),
}


@settings(max_examples=80)
@given(
    data=records(kinds=("int", "float", "bool"), min_size=1),
    kind=st.sampled_from(sorted(BAD)),
    where=st.integers(0, 25),
    pick=st.data(),
)
def test_what_arrow_cannot_hold_is_refused_in_one_line_naming_the_record(data, kind, where, pick):
    """NaN, integers beyond int64 at any depth, a line that is not a JSON object, and a key
    whose values change kind each stop the run with a SourceError naming the line: never
    another exception, never a value silently rounded or dropped."""
    made, _ = data
    made = [{**r, "id": 1} for r in made]  # a number in every record, for "kind changes"
    body = [json.dumps(r) for r in made]
    at = min(where, len(body))
    body.insert(at, pick.draw(BAD[kind]))
    with pytest.raises(SourceError) as raised:
        read_files("jsonl", {"a.jsonl": ("\n".join(body) + "\n").encode()})
    message = str(raised.value)
    assert "\n" not in message
    # text before any number: the kind changes on the next line
    line = 2 if kind == "kind changes" and at == 0 else at + 1
    assert f"line {line}" in message, message

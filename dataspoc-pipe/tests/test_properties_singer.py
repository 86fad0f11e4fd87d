"""Properties of the Singer source (singer_tap.py): a tap's message stream becomes the same tables
however its records are split by STATE messages, by reads of its output and by flushes, and the
bookmark kept is the last STATE.

The tap is a two-line shell script printing generated messages, run as a run runs a tap.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from dataspoc_pipe import sources
from dataspoc_pipe.sources import singer_tap
from dataspoc_pipe.sources.base import Context
from generated import RUN, as_rows, finite_floats, int64s, texts

SCHEMA_TYPES = {"integer": int64s, "number": finite_floats, "string": texts, "boolean": st.booleans()}
STREAMS = ["orders", "public-customers", "Events"]


@st.composite
def streams(draw):
    """{stream: (properties {name: JSON Schema type}, records)} for one to three streams."""
    chosen = draw(st.lists(st.sampled_from(STREAMS), min_size=1, max_size=3, unique=True))
    made = {}
    for stream in chosen:
        names = draw(st.lists(st.sampled_from(["id", "amount", "name", "ok", "note", "at"]), min_size=1, unique=True))
        properties = {n: draw(st.sampled_from(sorted(SCHEMA_TYPES))) for n in names}
        record = st.fixed_dictionaries({n: st.none() | SCHEMA_TYPES[t] for n, t in properties.items()})
        made[stream] = (properties, draw(st.lists(record, max_size=20)))
    return made


def record_line(stream: str, record: dict, style: int) -> str:
    """A RECORD as taps write it: singer-python's key order (routed by its head), sorted keys
    (parsed whole), or with extra keys."""
    if style == 0:
        return json.dumps({"type": "RECORD", "stream": stream, "record": record})
    if style == 1:
        return json.dumps({"type": "RECORD", "stream": stream, "record": record}, sort_keys=True)
    message = {"type": "RECORD", "stream": stream, "record": record, "time_extracted": "2026-11-22T03:00:00Z"}
    return json.dumps(message, separators=(",", ":"))


@st.composite
def outputs(draw, made):
    """A tap's output for these streams: each SCHEMA first, then every stream's records in order,
    the streams interleaved any way, STATE messages anywhere. Returns (lines, the last STATE)."""
    lines = [
        json.dumps(
            {
                "type": "SCHEMA",
                "stream": s,
                "schema": {"properties": {n: {"type": ["null", t]} for n, t in properties.items()}},
                "key_properties": [],
            }
        )
        for s, (properties, _) in made.items()
    ]
    left = {s: list(records) for s, (_, records) in made.items()}
    last = None
    while any(left.values()):
        stream = draw(st.sampled_from(sorted(s for s, r in left.items() if r)))
        lines.append(record_line(stream, left[stream].pop(0), draw(st.integers(0, 2))))
        if draw(st.integers(0, 4)) == 0:
            last = {"bookmarks": {stream: draw(st.integers(0, 10**6))}, "at": draw(texts)}
            lines.append(json.dumps({"type": "STATE", "value": last}))
    return lines, last


def tap_run(lines: list[str]) -> tuple[dict[str, list[dict]], object]:
    """Each table's rows and the tap state a run of a tap printing `lines` keeps."""
    with tempfile.TemporaryDirectory() as folder:
        tap = Path(folder) / "tap"
        tap.write_text('#!/bin/sh\nexec cat "$0.out"\n')
        tap.chmod(0o755)
        Path(f"{tap}.out").write_text("".join(line + "\n" for line in lines))
        chosen = sources.kind("singer")
        config = chosen.config(kind="singer", tap=str(tap), discover=False)
        source = chosen.open(config, Context(run_id=RUN, project_dir=Path(folder), bookmarks={}))
        batches: dict[str, list] = {}
        for name, batch in source.batches():
            batches.setdefault(name, []).append(batch)
        return {name: as_rows(b) for name, b in batches.items()}, source.source_state()


@settings(max_examples=100)
@given(
    data=st.data(),
    made=streams(),
    read_size=st.sampled_from([16, 300, singer_tap.READ_SIZE]),
    parse_size=st.sampled_from([1, 500, singer_tap.PARSE_SIZE]),
)
def test_every_stream_reads_back_its_records_and_the_last_state(data, made, read_size, parse_size):
    """However records are interleaved, split by STATE messages, cut by reads of the tap's output
    and flushed, each stream's table holds its records exactly, in order, its columns those of its
    SCHEMA in order; the bookmark is the last STATE message's value."""
    lines, last = data.draw(outputs(made))
    with mock.patch.object(singer_tap, "READ_SIZE", read_size), mock.patch.object(singer_tap, "PARSE_SIZE", parse_size):
        tables, state = tap_run(lines)
    assert state == last
    for stream, (properties, records) in made.items():
        name = singer_tap.stream_name(stream)
        rows = tables.get(name, [])
        assert rows == records
        assert not rows or list(rows[0]) == list(properties)
    assert set(tables) <= {singer_tap.stream_name(s) for s in made}


@settings(max_examples=40)
@given(data=st.data(), made=streams())
def test_state_messages_and_batching_do_not_change_the_tables(data, made):
    """The same records with STATE messages anywhere, or none, make the same tables."""
    lines, _ = data.draw(outputs(made))
    without = [line for line in lines if json.loads(line)["type"] != "STATE"]
    with mock.patch.object(singer_tap, "PARSE_SIZE", 200):
        split, _ = tap_run(lines)
    whole, state = tap_run(without)
    assert split == whole
    assert state is None  # no STATE message: nothing to keep


@settings(max_examples=40)
@given(
    data=st.data(),
    made=streams(),
    bad=st.sampled_from(["null", "[1, 2]", "7", '"text"', None]),
    style=st.integers(0, 2),
)
def test_a_record_that_is_not_an_object_is_refused_naming_its_line(data, made, bad, style):
    """A RECORD whose record is null, not an object, or missing stops the run with a SourceError
    naming the tap's output line: never a row of NULLs, never another exception."""
    import pytest

    from dataspoc_pipe.errors import SourceError

    lines, _ = data.draw(outputs(made))
    stream = next(iter(made))
    at = data.draw(st.integers(len(made), len(lines)))  # after the SCHEMA messages
    line = record_line(stream, {}, style).replace("{}", "null" if bad is None else bad)
    if bad is None:
        line = json.dumps({"type": "RECORD", "stream": stream})
    lines.insert(at, line)
    with pytest.raises(SourceError) as raised:
        tap_run(lines)
    message = str(raised.value)
    assert "\n" not in message and f"output line {at + 1}" in message, message

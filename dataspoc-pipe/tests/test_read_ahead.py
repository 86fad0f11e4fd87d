"""read_ahead: the same items in the same order, the reader's error on the caller's thread, and
no read left running once the caller is done (the cursor is closed right after)."""

from __future__ import annotations

import threading
import time

import pytest

from dataspoc_pipe.sources.read_ahead import read_ahead


def test_items_come_in_order_and_ahead():
    read: list[int] = []

    def items():
        for i in range(50):
            read.append(i)
            yield i

    got = []
    for item in read_ahead(items(), depth=2):
        time.sleep(0.001 if item else 0.2)  # while the first is worked on, the next ones are read
        if item == 0:
            assert len(read) >= 2
        got.append(item)
    assert got == list(range(50))


def test_the_readers_error_is_raised_to_the_caller_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise ConnectionError("server closed the connection")

    got = []
    with pytest.raises(ConnectionError, match="server closed"):
        for item in read_ahead(items()):
            got.append(item)
    assert got == [1, 2]


def test_closing_early_stops_the_reader_and_waits_for_it():
    read: list[int] = []

    def items():
        for i in range(1000):
            time.sleep(0.01)
            read.append(i)
            yield i

    ahead = read_ahead(items(), depth=1)
    assert next(ahead) == 0
    ahead.close()  # what a failing caller's `finally: cursor.close()` comes after
    assert not [t for t in threading.enumerate() if t.name == "dataspoc-read-ahead"]
    done = len(read)
    time.sleep(0.1)
    assert len(read) == done <= 4  # nothing read after close; at most the one under way and depth

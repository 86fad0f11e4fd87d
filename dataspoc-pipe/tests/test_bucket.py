"""The bucket module on real filesystems: atomic writes, the manifest lock, clear errors."""

from __future__ import annotations

import sys
import threading

import pytest

from dataspoc_pipe.bucket import Bucket
from dataspoc_pipe.errors import BucketNotFound, LockTimeout, MissingBackend, UsageError


@pytest.fixture(params=["local", "memory", "s3"])
def bucket(request, tmp_path):
    if request.param == "local":
        return Bucket(str(tmp_path / "b"))
    if request.param == "memory":
        return Bucket(f"memory://{tmp_path.name}")
    return Bucket(request.getfixturevalue("s3_bucket"))


def test_json_round_trip_and_absent_objects(bucket):
    assert bucket.read_json("a/b.json") is None
    bucket.write_json("a/b.json", {"x": 1})
    assert bucket.read_json("a/b.json") == {"x": 1}
    assert bucket.list("a") == ["a/b.json"]
    bucket.delete("a/b.json")
    assert not bucket.exists("a/b.json")


def test_local_write_leaves_no_temporary_files(tmp_path):
    bucket = Bucket(str(tmp_path / "b"))
    for i in range(3):
        bucket.write_json("doc.json", {"i": i})
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["doc.json"]


def test_lock_excludes_a_second_writer(bucket):
    with (
        bucket.lock("x.lock", owner="test"),
        pytest.raises(LockTimeout, match="x.lock"),
        bucket.lock("x.lock", owner="test", timeout=0.3),
    ):
        pass
    with bucket.lock("x.lock", owner="test", timeout=0.3):
        pass


def test_bad_urls(monkeypatch):
    monkeypatch.setitem(sys.modules, "gcsfs", None)  # missing, even where the [gcs] extra is installed
    with pytest.raises(MissingBackend, match="dataspoc-pipe\\[gcs\\]"):
        _ = Bucket("gs://lake").fs
    with pytest.raises(MissingBackend, match="unknown bucket scheme"):
        Bucket("hdfs://lake")
    with pytest.raises(UsageError, match="credentials") as info:
        Bucket("s3://key:secret@lake")
    assert "secret" not in str(info.value)
    with pytest.raises(MissingBackend) as info:
        Bucket("ftp://key:secret@lake/x")
    assert "secret" not in str(info.value) and "ftp://lake/x" in str(info.value)


def test_local_bucket_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(BucketNotFound, match="is a file"):
        Bucket(str(tmp_path / "f")).check_reachable()


@pytest.mark.parametrize("where", ["local", "s3"])
def test_lock_serialises_concurrent_writers(where, tmp_path, request):
    """Local: exclusive create. S3: a conditional PUT (a check-then-put here loses updates)."""
    bucket = Bucket(str(tmp_path / "b") if where == "local" else request.getfixturevalue("s3_bucket"))
    bucket.write_json("n.json", {"n": 0})

    def bump():
        for _ in range(5):
            with bucket.lock("n.lock", owner="test", timeout=30):
                n = bucket.read_json("n.json")["n"]
                bucket.write_json("n.json", {"n": n + 1})

    threads = [threading.Thread(target=bump) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bucket.read_json("n.json") == {"n": 15}
    assert not bucket.exists("n.lock")


@pytest.mark.parametrize("where", ["memory", "s3"])
def test_a_lock_whose_create_answer_was_lost_is_taken(where, tmp_path, monkeypatch, request):
    """A conditional create that lands but whose answer is lost is sent again by the client (or
    by retrying()), and refused because the object exists: the lock there is ours, not another
    writer's."""
    bucket = Bucket(f"memory://{tmp_path.name}" if where == "memory" else request.getfixturevalue("s3_bucket"))
    create = bucket.fs.pipe_file
    lost = []

    def answer_lost(path, data, **kwargs):
        create(path, data, **kwargs)
        if not lost:
            lost.append(path)
            raise ConnectionError("connection reset by peer")

    monkeypatch.setattr(bucket.fs, "pipe_file", answer_lost)  # fsspec shares filesystems
    with bucket.lock("x.lock", owner="test", timeout=1):
        assert lost and bucket.exists("x.lock")
    assert not bucket.exists("x.lock")


def test_a_lock_another_host_left_is_taken_over_once_it_expires(bucket):
    """A run killed on another machine cannot be asked whether it lives: its lock waits out its
    age (`stale_after`, 10 minutes by default), then the next writer breaks it and goes on."""
    import json
    from datetime import datetime, timedelta, timezone

    def left(minutes_ago: float) -> None:
        at = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
        bucket.write_json(
            "x.lock", {"owner": "dataspoc-pipe", "host": "a-host-that-died", "pid": 1, "at": at.isoformat()}
        )

    left(minutes_ago=1)
    with pytest.raises(LockTimeout, match="x.lock"), bucket.lock("x.lock", owner="test", timeout=0.3):
        pass
    assert json.loads(bucket.read_bytes("x.lock"))["host"] == "a-host-that-died"  # a live lock is left alone
    left(minutes_ago=11)
    with bucket.lock("x.lock", owner="test", timeout=0.3):
        assert json.loads(bucket.read_bytes("x.lock"))["owner"] == "test"
    assert not bucket.exists("x.lock")


def test_a_local_lock_is_never_seen_half_written(tmp_path):
    """SIGKILL at any moment while a writer takes and frees a lock: the next writer finds the
    lock whole (the dead process's, broken at once) or absent, never an empty file that it
    must wait out."""
    import random
    import signal
    import subprocess
    import time

    root = tmp_path / "b"
    looping = (
        "import sys\nfrom dataspoc_pipe.bucket import Bucket\nb = Bucket(sys.argv[1])\nprint(flush=True)\n"
        "while True:\n    with b.lock('x.lock', owner='looper'):\n        pass\n"
    )
    bucket = Bucket(str(root))
    rng = random.Random(7)
    for _ in range(20):
        process = subprocess.Popen([sys.executable, "-c", looping, str(root)], stdout=subprocess.PIPE)
        assert process.stdout is not None and process.stdout.readline()
        time.sleep(rng.uniform(0, 0.05))
        process.send_signal(signal.SIGKILL)
        process.wait()
        lock = root / "x.lock"
        assert not lock.exists() or lock.read_bytes().startswith(b"{"), lock.read_bytes()
        with bucket.lock("x.lock", owner="test", timeout=2):
            pass


def test_an_empty_local_lock_left_by_a_crash_is_broken_in_a_minute(tmp_path):
    """An empty lock (an older version killed between create and write) waits a minute, not the
    ten minutes of a live writer's lock."""
    import os
    import time

    root = tmp_path / "b"
    root.mkdir()
    (root / "x.lock").write_bytes(b"")
    with pytest.raises(LockTimeout), Bucket(str(root)).lock("x.lock", owner="test", timeout=0.3):
        pass
    os.utime(root / "x.lock", (time.time() - 90, time.time() - 90))
    with Bucket(str(root)).lock("x.lock", owner="test", timeout=0.3):
        assert (root / "x.lock").read_bytes().startswith(b"{")


def test_two_writers_breaking_the_same_stale_lock_leave_one_holder(tmp_path):
    """Both find the dead process's lock; the first breaks it and takes the lock; the second,
    breaking what it read, must not remove the first one's fresh lock."""
    import json

    bucket = Bucket(str(tmp_path / "b"))
    bucket.write_json(
        "x.lock", {"owner": "dead", "host": "a-host-that-died", "pid": 1, "at": "2020-01-01T00:00:00+00:00"}
    )
    stale = bucket.read_bytes("x.lock")
    assert stale is not None
    first = json.dumps({"owner": "first"}).encode()
    assert bucket._break_if_stale("x.lock", stale, 600) and bucket._create_lock("x.lock", first, 600)
    assert bucket._break_if_stale("x.lock", stale, 600)  # the second writer: it read the same stale lock
    assert not bucket._create_lock("x.lock", b'{"owner": "second"}', 600)
    assert bucket.read_bytes("x.lock") == first
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["x.lock"]  # nothing left aside

"""What the file kinds share: finding files, deciding what is new, and their bookmarks.

A file is ingested once. When a line-based file (CSV, JSON Lines) later grows and the bytes
already ingested are unchanged (a log that is appended to), only the new bytes are read. A file
rewritten any other way is refused, because reading it again would duplicate the rows it gave
before, unless the user asks for that explicitly (`run --reread-changed`).
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import io
import os
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dataspoc_pipe.contract.models import FileBookmark, StreamBookmark
from dataspoc_pipe.errors import SourceError, SourceNotFound, UsageError
from dataspoc_pipe.sources.base import Context, Stream

if TYPE_CHECKING:
    import pyarrow as pa

EDGE = 4096  # bytes hashed at each end of the ingested part of a file
HOLD_SECONDS = 60  # a last line without its newline in a file modified this recently is left for later
COMPRESSED = (".gz", ".zst", ".zstd", ".bz2")


@dataclass(frozen=True)
class SourceFile:
    key: str  # how the bookmark names it: relative to the project folder when inside it, else a URL
    path: str  # a local path, or the object's URL
    size: int
    modified: datetime
    fs: Any = None  # the fsspec filesystem of an object in a bucket; None for a local file

    @property
    def compressed(self) -> bool:
        return self.path.lower().endswith(COMPRESSED)

    def open(self):
        """The file, opened for binary reading with seek."""
        if self.fs is None:
            return open(self.path, "rb")
        return self.fs.open(_without_scheme(self.path), "rb", block_size=1 << 22)


def _without_scheme(url: str) -> str:
    return url.split("://", 1)[1] if "://" in url else url


@dataclass(frozen=True)
class Work:
    """What to read of one file in this run: bytes [offset, stop)."""

    file: SourceFile
    offset: int  # 0 for a new file; the bytes already ingested for a file that grew
    kind: Literal["new", "grown", "reread"]
    end: int = -1  # where this run stops reading; -1: the end of the file

    @property
    def stop(self) -> int:
        return self.file.size if self.end < 0 else self.end


def discover(pattern: str, base: Path) -> list[SourceFile]:
    """Every file the path or glob matches, sorted, or SourceNotFound."""
    if "://" in pattern:
        return _discover_objects(pattern)
    full = pattern if Path(pattern).is_absolute() else str(base / pattern)
    matches = sorted(p for p in glob.glob(os.path.expanduser(full), recursive=True) if Path(p).is_file())
    if not matches:
        raise SourceNotFound(f"no file matches {full}; check source.path or the file's arrival")
    files = []
    for match in matches:
        path = Path(match).resolve()
        stat = path.stat()
        try:
            key = str(path.relative_to(base.resolve()))
        except ValueError:
            key = str(path)
        modified = datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc).replace(microsecond=0)
        files.append(SourceFile(key=key, path=str(path), size=stat.st_size, modified=modified))
    return files


def _discover_objects(pattern: str) -> list[SourceFile]:
    """Objects in a bucket matching a URL glob (s3://exports/orders/*.csv), through the same
    storage layer as the lake: credentials from the environment, retries, one-line errors."""
    from urllib.parse import urlsplit

    from dataspoc_pipe.bucket import Bucket, retrying

    parts = urlsplit(pattern)
    store = Bucket(f"{parts.scheme}://{parts.netloc}")
    rel = parts.path.lstrip("/")
    found = retrying(lambda: store.fs.glob(store.full(rel), detail=True), f"list {pattern}", store.scheme)
    files = []
    for name, info in sorted(found.items()):
        if info.get("type") == "directory":
            continue
        modified = info.get("LastModified") or info.get("mtime") or info.get("updated") or info.get("last_modified")
        if isinstance(modified, (int, float)):
            modified = datetime.fromtimestamp(modified, tz=timezone.utc)
        elif isinstance(modified, str):
            modified = datetime.fromisoformat(modified.replace("Z", "+00:00"))
        if not isinstance(modified, datetime):
            modified = datetime.fromtimestamp(0, tz=timezone.utc)
        url = f"{parts.scheme}://{name}" if not name.startswith(f"{parts.scheme}://") else name
        files.append(
            SourceFile(
                key=url,
                path=url,
                size=int(info.get("size") or 0),
                modified=modified.replace(microsecond=0),
                fs=store.fs,
            )
        )
    if not files:
        raise SourceNotFound(f"no object matches {pattern}; check source.path or the file's arrival")
    return files


def fingerprint(file: SourceFile, size: int) -> str:
    """sha256 of the first and the last EDGE bytes of the file's first `size` bytes."""
    digest = hashlib.sha256()
    with file.open() as handle:
        digest.update(handle.read(min(EDGE, size)))
        if size > EDGE:
            handle.seek(max(EDGE, size - EDGE))
            digest.update(handle.read(size - max(EDGE, size - EDGE)))
    digest.update(str(size).encode())
    return digest.hexdigest()


def _ends_a_line(file: SourceFile, size: int) -> bool:
    if size == 0:
        return False
    with file.open() as handle:
        handle.seek(size - 1)
        return handle.read(1) in (b"\n", b"\r")


def plan(files: list[SourceFile], seen: dict[str, FileBookmark], reread_changed: bool, appendable: bool) -> list[Work]:
    """The files, or the parts of files, this run must read; SourceError for rewritten files."""
    work, rewritten = [], []
    for file in files:
        mark = seen.get(file.key)
        if mark is None:
            work.append(Work(file, 0, "new"))
            continue
        same_bytes = (
            mark.fingerprint is not None and file.size >= mark.size and fingerprint(file, mark.size) == mark.fingerprint
        )
        if file.size == mark.size and (same_bytes or (mark.fingerprint is None and file.modified == mark.modified)):
            continue  # unchanged, or only touched
        grown = same_bytes and file.size > mark.size and _ends_a_line(file, mark.size)
        if grown and appendable and not file.compressed:
            work.append(Work(file, mark.size, "grown"))
        elif reread_changed:
            work.append(Work(file, 0, "reread"))
        else:
            rewritten.append(f"{file.key} (run {mark.run_id} ingested {mark.size:,} bytes, now {file.size:,})")
    if rewritten:
        raise SourceError(
            f"files changed after they were ingested, not by appending: {'; '.join(rewritten)}; "
            "reading them again would duplicate their rows. Put new rows in new files, or pass "
            "--reread-changed to ingest these files again in full"
        )
    if appendable:
        work = [w for w in (_whole_lines(w) for w in work) if w.stop > w.offset]
    return work


def _whole_lines(work: Work) -> Work:
    """The work without a last line still being written: a line-based file modified in the last
    HOLD_SECONDS whose last line has no newline yet is read up to its last newline, and the rest
    waits for the next run (read whole once the file has been still for HOLD_SECONDS)."""
    file = work.file
    if file.compressed or file.size == 0 or _ends_a_line(file, file.size):
        return work
    if (datetime.now(timezone.utc) - file.modified).total_seconds() >= HOLD_SECONDS:
        return work
    with file.open() as handle:
        if handle.read(2) in (b"\xff\xfe", b"\xfe\xff"):
            return work  # UTF-16: a newline is two bytes; such files are read whole
        position = file.size
        while position > work.offset:
            start = max(work.offset, position - (1 << 16))
            handle.seek(start)
            block = handle.read(position - start)
            newline = block.rfind(b"\n")
            if newline >= 0:
                return dataclasses.replace(work, end=start + newline + 1)
            position = start
    return dataclasses.replace(work, end=work.offset)


def bookmark(work: Work, run_id: str) -> FileBookmark:
    """The file's bookmark once this work is published: the bytes up to where it stopped."""
    file, size = work.file, work.stop
    return FileBookmark(size=size, modified=file.modified, fingerprint=fingerprint(file, size), run_id=run_id)


class Slice(io.RawIOBase):
    """Bytes [start, end) of a file: a run reads exactly the bytes its bookmark will record,
    even while another process keeps appending to the file."""

    def __init__(self, file: SourceFile, start: int, end: int):
        self._file = file.open()
        self._file.seek(start)
        self._left = end - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        wanted = min(len(buffer), self._left)
        if wanted <= 0:
            return 0
        got = self._file.readinto(memoryview(buffer)[:wanted]) or 0
        self._left -= got
        return got

    def close(self) -> None:
        self._file.close()
        super().close()


def open_bytes(work: Work, buffer_size: int):
    """A binary stream of the bytes this run reads of a file, decompressed when its name says so."""
    raw = io.BufferedReader(Slice(work.file, work.offset, work.stop), buffer_size=buffer_size)
    if not work.file.compressed:
        return raw
    import pyarrow as pa

    codec = {"gz": "gzip", "bz2": "bz2"}.get(work.file.path.lower().rsplit(".", 1)[-1], "zstd")
    return pa.CompressedInputStream(pa.PythonFile(raw, mode="r"), codec)


class FileStream(Stream):
    """A table filled from the files a path or glob matches. Kinds supply read_file()."""

    appendable = True  # a grown file is read from its bookmark; False for Parquet

    def __init__(self, name: str, pattern: str, context: Context):
        self.name = name
        self.pattern = pattern
        self.context = context
        self.work: list[Work] = []
        self._current = pattern

    def plan(self) -> list[str]:
        if self.context.window is not None:
            raise UsageError(
                f"{self.pattern}: files have no cursor to backfill by; use `run --reread-changed` or `state reset`"
            )
        files = discover(self.pattern, self.context.project_dir)
        previous = self.context.bookmark(self.name)
        seen = (previous.files or {}) if previous else {}
        self.work = plan(files, seen, self.context.reread_changed, self.appendable)
        return [f"{w.file.key} ({w.kind}, {w.stop - w.offset:,} bytes)" for w in self.work]

    def batches(self) -> Iterator[pa.RecordBatch]:
        for work in self.work:
            self._current = work.file.path
            yield from self.read_file(work)

    def bookmark(self) -> StreamBookmark:
        previous = self.context.bookmark(self.name)
        files = dict((previous.files or {}) if previous else {})
        files.update({w.file.key: bookmark(w, self.context.run_id) for w in self.work})
        return StreamBookmark(files=files)

    def origin(self) -> str:
        return self._current

    @abstractmethod
    def read_file(self, work: Work) -> Iterator[pa.RecordBatch]:
        """The rows of the part of one file this run reads."""

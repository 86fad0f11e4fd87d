"""CSV files: a path or glob on the local disk, streamed in Arrow record batches.

A file is ingested once. When it later grows and the bytes already ingested are unchanged (a
log that is appended to), only the new bytes are read. A file rewritten any other way is
refused, because reading it again would duplicate the rows it gave before, unless the user
asks for that explicitly.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from dataspoc_pipe.config import CsvSource
from dataspoc_pipe.contract.models import FileBookmark
from dataspoc_pipe.errors import SourceError, SourceNotFound

BLOCK_SIZE = 2 << 20  # bytes per batch; Arrow reads ahead a few dozen blocks, so this bounds memory
EDGE = 4096  # bytes hashed at each end of the ingested part of a file


@dataclass(frozen=True)
class SourceFile:
    key: str  # how the bookmark names it: relative to the project folder when inside it
    path: Path
    size: int
    modified: datetime


@dataclass(frozen=True)
class Work:
    """What to read of one file in this run."""

    file: SourceFile
    offset: int  # 0 for a new file; the bytes already ingested for a file that grew
    kind: Literal["new", "grown", "reread"]


def discover(source: CsvSource, base: Path) -> list[SourceFile]:
    """Every file the source's path or glob matches, sorted, or SourceNotFound."""
    pattern = source.path if Path(source.path).is_absolute() else str(base / source.path)
    matches = sorted(p for p in glob.glob(os.path.expanduser(pattern), recursive=True) if Path(p).is_file())
    if not matches:
        raise SourceNotFound(f"no file matches {pattern}; check source.path or the file's arrival")
    files = []
    for match in matches:
        path = Path(match).resolve()
        stat = path.stat()
        try:
            key = str(path.relative_to(base.resolve()))
        except ValueError:
            key = str(path)
        modified = datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc).replace(microsecond=0)
        files.append(SourceFile(key=key, path=path, size=stat.st_size, modified=modified))
    return files


def fingerprint(path: Path, size: int) -> str:
    """sha256 of the first and the last EDGE bytes of the file's first `size` bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(min(EDGE, size)))
        if size > EDGE:
            handle.seek(max(EDGE, size - EDGE))
            digest.update(handle.read(size - max(EDGE, size - EDGE)))
    digest.update(str(size).encode())
    return digest.hexdigest()


def _ends_a_line(path: Path, size: int) -> bool:
    if size == 0:
        return False
    with open(path, "rb") as handle:
        handle.seek(size - 1)
        return handle.read(1) in (b"\n", b"\r")


def plan(files: list[SourceFile], seen: dict[str, FileBookmark], reread_changed: bool) -> list[Work]:
    """The files, or the parts of files, this run must read; SourceError for rewritten files."""
    work, rewritten = [], []
    for file in files:
        mark = seen.get(file.key)
        if mark is None:
            work.append(Work(file, 0, "new"))
            continue
        same_bytes = (
            mark.fingerprint is not None
            and file.size >= mark.size
            and fingerprint(file.path, mark.size) == mark.fingerprint
        )
        if file.size == mark.size and (same_bytes or (mark.fingerprint is None and file.modified == mark.modified)):
            continue  # unchanged, or only touched
        if same_bytes and file.size > mark.size and _ends_a_line(file.path, mark.size):
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
    return work


def bookmark(file: SourceFile, run_id: str) -> FileBookmark:
    return FileBookmark(
        size=file.size, modified=file.modified, fingerprint=fingerprint(file.path, file.size), run_id=run_id
    )


class _Slice(io.RawIOBase):
    """Bytes [start, end) of a file: a run reads exactly the bytes its bookmark will record,
    even while another process keeps appending to the file."""

    def __init__(self, path: Path, start: int, end: int):
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close(), this object is the context
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


def _header(source: CsvSource, path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        return next(csv.reader(handle, delimiter=source.delimiter), [])


def read(source: CsvSource, work: Work) -> Iterator:
    """Yield the rows to ingest as pyarrow RecordBatches; raise SourceError naming the file."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    file = work.file
    parse_options = pacsv.ParseOptions(delimiter=source.delimiter)
    column_names = _header(source, file.path) if work.offset else None

    def open_reader(convert=None):
        handle = io.BufferedReader(_Slice(file.path, work.offset, file.size), buffer_size=BLOCK_SIZE)
        options = pacsv.ReadOptions(block_size=BLOCK_SIZE, use_threads=True, column_names=column_names)
        return pacsv.open_csv(handle, read_options=options, parse_options=parse_options, convert_options=convert)

    try:
        reader = open_reader()
        null_columns = [f.name for f in reader.schema if pa.types.is_null(f.type)]
        if null_columns:
            # A column empty in the first block has no type yet: read it as text.
            reader = open_reader(pacsv.ConvertOptions(column_types={name: pa.string() for name in null_columns}))
        yield from reader
    except pa.ArrowInvalid as exc:
        message = str(exc).splitlines()[0]
        raise SourceError(f"{file.path}: {message}") from None
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{file.path}: cannot read as CSV: {str(exc).splitlines()[0]}") from None

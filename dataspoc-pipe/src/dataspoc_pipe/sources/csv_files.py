"""CSV files: a path or glob on the local disk, streamed in Arrow record batches."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from dataspoc_pipe.config import CsvSource
from dataspoc_pipe.errors import SourceError, SourceNotFound

BLOCK_SIZE = 2 << 20  # bytes per batch; Arrow reads ahead a few dozen blocks, so this bounds memory


@dataclass(frozen=True)
class SourceFile:
    key: str  # as the bookmark names it: the path as configured, resolved to absolute
    path: Path
    size: int
    modified: datetime


def discover(source: CsvSource, base: Path) -> list[SourceFile]:
    """Every file the source's path or glob matches, sorted, or SourceNotFound."""
    pattern = source.path if Path(source.path).is_absolute() else str(base / source.path)
    matches = sorted(p for p in glob.glob(os.path.expanduser(pattern), recursive=True) if Path(p).is_file())
    if not matches:
        raise SourceNotFound(f"no file matches {pattern}; check source.path or the file's arrival")
    files = []
    for match in matches:
        stat = Path(match).stat()
        files.append(
            SourceFile(
                key=str(Path(match).resolve()),
                path=Path(match),
                size=stat.st_size,
                modified=datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc).replace(microsecond=0),
            )
        )
    return files


def read(source: CsvSource, file: SourceFile) -> Iterator:
    """Yield the file's rows as pyarrow RecordBatches; raise SourceError naming the file."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    read_options = pacsv.ReadOptions(block_size=BLOCK_SIZE, use_threads=True)
    parse_options = pacsv.ParseOptions(delimiter=source.delimiter)
    try:
        reader = pacsv.open_csv(file.path, read_options=read_options, parse_options=parse_options)
        null_columns = [f.name for f in reader.schema if pa.types.is_null(f.type)]
        if null_columns:
            # A column empty in the first block has no type yet: read it as text.
            convert = pacsv.ConvertOptions(column_types={name: pa.string() for name in null_columns})
            reader = pacsv.open_csv(
                file.path, read_options=read_options, parse_options=parse_options, convert_options=convert
            )
        for batch in reader:
            yield batch
    except pa.ArrowInvalid as exc:
        message = str(exc).splitlines()[0]
        raise SourceError(f"{file.path}: {message}") from None
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{file.path}: cannot read as CSV: {str(exc).splitlines()[0]}") from None

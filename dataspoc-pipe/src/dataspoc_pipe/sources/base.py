"""What every source kind gives the runner: streams.

A source yields one stream per table it fills. A stream has a name (the table, under the
pipeline's namespace), a schema when the source declares or discovers one, its batches of rows
as Arrow record batches, and the bookmark the next run starts from once those batches are
published. The runner holds streams only; it never knows which kind made them.

Each kind lives in its own module with a Pydantic config model (extra keys refused) and a
`KIND`, listed once in `sources/__init__.py`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from dataspoc_pipe.contract.models import StreamBookmark

if TYPE_CHECKING:
    import pyarrow as pa


class SourceConfig(BaseModel):
    """Base of every kind's config model: unknown keys are refused, so a typo never passes."""

    model_config = ConfigDict(extra="forbid")
    kind: str


@dataclass(frozen=True)
class Context:
    """What a source may know about the run asking for its streams."""

    run_id: str
    project_dir: Path  # relative source paths are relative to the project file
    bookmarks: dict[str, StreamBookmark]  # the last committed bookmark of each stream
    full: bool = False  # ignore bookmarks: read everything again
    reread_changed: bool = False  # files rewritten since they were read are read again in full
    default_table: str = "data"  # the table of a one-stream source when none is configured
    source_state: dict[str, Any] | None = None  # the source's own last committed state (a tap's STATE)
    window: tuple[Any, Any] | None = None  # backfill: read cursor values in [from, to]; bookmarks stay
    only: str | None = None  # backfill --stream: the one stream to read

    def bookmark(self, stream: str) -> StreamBookmark | None:
        return None if self.full else self.bookmarks.get(stream)


class Stream(ABC):
    """One table's worth of rows from a source, read once per run."""

    name: str
    schema: pa.Schema | None = None  # declared or discovered; None when inferred from the rows
    primary_key: list[str] | None = None
    evolving_columns = False  # records may bring new columns midway (JSON, Singer): the table widens
    incremental = False  # reads only what is new by a cursor: cannot feed an overwrite

    @abstractmethod
    def plan(self) -> list[str]:
        """What this run will read, one line per item (a file, a query, a page range).

        An empty list means there is nothing new. Raises SourceError when the source cannot be
        read as configured, before any row is read.
        """

    @abstractmethod
    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows to ingest. Raises SourceError naming the file, line or record and field."""

    @abstractmethod
    def bookmark(self) -> StreamBookmark:
        """Where the next run starts, valid once every batch of this run is published."""

    def origin(self) -> str:
        """What the rows being read come from, for messages (a file, a table): set by batches()."""
        return self.name

    def close(self) -> None:  # noqa: B027 - most streams hold nothing to release
        """Release what the stream holds (a database connection); called once the run is done."""


class Interleaved(ABC):
    """A source whose streams arrive mixed in one sequence, as a Singer tap writes them.

    The runner routes each batch to its stream's table; the streams are known as they come.
    """

    evolving_columns = True
    primary_keys: dict[str, list[str]]  # stream -> key, filled as the streams announce them

    @abstractmethod
    def plan(self) -> dict[str, list[str]]:
        """What this run will read, per stream it expects (see Stream.plan)."""

    @abstractmethod
    def batches(self) -> Iterator[tuple[str, pa.RecordBatch]]:
        """(stream name, rows) in the order the source gives them."""

    @abstractmethod
    def bookmarks(self) -> dict[str, StreamBookmark]:
        """Each stream's bookmark once everything read is published."""

    def source_state(self) -> dict[str, Any] | None:
        """The source's own state to keep (a tap's STATE message), or None."""
        return None

    def origin(self) -> str:
        return "source"


@dataclass(frozen=True)
class Kind:
    """A source kind: its config model and how a config becomes streams."""

    name: str
    config: type[SourceConfig]
    open: Callable[[Any, Context], list[Stream] | Interleaved]  # (the kind's config, the run's context)
    summary: str  # one line for `add --help` and errors listing the kinds


def stream_name(table: str) -> str:
    """A source's table or stream name as a lake table name: lowercase, `_` for anything else."""
    name = re.sub(r"[^a-z0-9_]", "_", table.lower())
    return name if re.match(r"[a-z]", name) else f"t_{name}"

"""Singer taps: any tap executable, its streams into tables, its STATE kept between runs.

How a run goes: `TAP --config C --discover` builds the catalog, the configured streams are
marked selected, then `TAP --config C --catalog K [--state S]` runs and its stdout is read in
large blocks. RECORD lines are grouped by stream and parsed in bulk by pyarrow
(json_records.py, records wrapped under "record"), never a Python dict per record. SCHEMA
messages give column types; fields absent from the schema are kept (inferred). STATE messages
are kept, and the last one is committed with the run's data. stderr is drained concurrently, so
a tap that logs megabytes never blocks; its last lines are shown when it fails. A tap that exits
non-zero, or whose output stops mid-message, fails the run: nothing is published and the state
does not move.

The tap's config may hold `${VAR}` values. It reaches the tap through an in-memory file
(`/dev/fd/N`, from memfd_create), so its secrets are never written to disk; where memfd is
missing, a private temporary file is used and removed when the tap ends.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dataspoc_pipe import diagnostics
from dataspoc_pipe.contract.models import StreamBookmark
from dataspoc_pipe.errors import SourceError, SourceUnreachable, UsageError
from dataspoc_pipe.sources import types
from dataspoc_pipe.sources.base import Context, Interleaved, Kind, SourceConfig, stream_name
from dataspoc_pipe.sources.json_records import JsonRecords

READ_SIZE = 8 << 20  # bytes of tap output read at once
PARSE_SIZE = 16 << 20  # bytes of one stream's RECORD lines parsed at once
STDERR_LINES = 20  # the tap's last stderr lines shown when it fails
# the head of a RECORD line whose first keys are "type" then "stream": both surely top-level
RECORD_HEAD = re.compile(rb'\{\s*"type"\s*:\s*"RECORD"\s*,\s*"stream"\s*:\s*"((?:[^"\\]|\\.)*)"')


class Replication(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["FULL_TABLE", "INCREMENTAL", "LOG_BASED"]
    key: str | None = None


class SingerConfig(SourceConfig):
    kind: Literal["singer"] = "singer"
    tap: Annotated[str, Field(min_length=1, description="The tap: an executable on PATH, a path, or a command line.")]
    config: Annotated[
        dict[str, Any] | str | None,
        Field(description="The tap's settings, inline (${VAR} allowed) or the path of a JSON file."),
    ] = None
    streams: Annotated[list[str] | None, Field(description="Streams to read [default: every stream].")] = None
    replication: dict[str, Replication] = Field(default_factory=dict)
    catalog: Annotated[str | None, Field(description="A catalog file to use instead of running --discover.")] = None
    discover: bool = True
    catalog_flag: Literal["catalog", "properties"] = "catalog"
    state: bool = True
    columns: dict[str, str] = Field(default_factory=dict)
    nested: Literal["struct", "json"] = "struct"
    start_key: Annotated[str, Field(description="The tap setting a backfill sets to --from.")] = "start_date"
    timeout: Annotated[
        float | None, Field(gt=0, description="Seconds a tap may run (discovery and each run) before it is stopped.")
    ] = None


def _schema_type(prop: Any):
    """The Arrow type a JSON Schema property fixes, or None to infer it from the records."""
    import pyarrow as pa

    if not isinstance(prop, dict):
        return None
    kinds = prop.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    kinds = [k for k in kinds if k != "null"]
    if len(kinds) != 1:
        return None
    return {"integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_(), "string": pa.string()}.get(kinds[0])


class _Stream:
    """What is known of one tap stream while its records come."""

    def __init__(self, raw_name: str, schema: dict[str, Any], key: list[str], declared: dict[str, Any], nested: str):
        self.raw_name = raw_name
        self.name = stream_name(raw_name)
        properties = schema.get("properties") or {}
        self.datetimes = [n for n, p in properties.items() if isinstance(p, dict) and p.get("format") == "date-time"]
        self.dates = [n for n, p in properties.items() if isinstance(p, dict) and p.get("format") == "date"]
        fixed = {n: t for n, p in properties.items() if (t := _schema_type(p)) is not None}
        self.records = JsonRecords({**fixed, **declared}, nested, key="record")
        self.declared = declared
        self.primary_key = [str(k) for k in key] or None
        self.naive: set[str] = set()  # date-time fields whose last values came without an offset
        self.parts: list[bytes] = []  # runs of whole RECORD lines, each ending with a newline
        self.runs: list[tuple[int, int]] = []  # (first output line number, lines) of each part
        self.size = 0

    def add(self, part: bytes, first: int, count: int) -> None:
        self.parts.append(part)
        self.runs.append((first, count))
        self.size += len(part)


class SingerSource(Interleaved):
    def __init__(self, config: SingerConfig, context: Context):
        self.config = config
        self.context = context
        self.command = self._command()
        self.primary_keys: dict[str, list[str]] = {}
        self.state: dict[str, Any] | None = context.source_state
        self.declared = self._declared()
        self._catalog: dict[str, Any] | None = None
        self.stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)

    def origin(self) -> str:
        return f"tap {Path(self.command[0]).name}"

    def _command(self) -> list[str]:
        command = shlex.split(self.config.tap)
        executable = command[0]
        if "/" in executable:
            path = Path(executable) if Path(executable).is_absolute() else self.context.project_dir / executable
            if not path.is_file():
                raise UsageError(f"no tap at {path}; check source.tap")
            command[0] = str(path)
        elif shutil.which(executable) is None:
            raise UsageError(
                f"tap '{executable}' is not on PATH; install it (e.g. `pipx install {executable}`) "
                "or give its path in source.tap"
            )
        return command

    def _declared(self) -> dict[str, dict[str, Any]]:
        declared: dict[str, dict[str, Any]] = {}
        for column, text in self.config.columns.items():
            stream, _, name = column.rpartition(".")
            if not stream:
                raise UsageError(f"source.columns.{column}: name a tap column as STREAM.COLUMN")
            declared.setdefault(stream, {})[name] = types.parse(text, f"source.columns.{column}")
        return declared

    # -- the catalog ---------------------------------------------------------------------------
    def catalog(self) -> dict[str, Any] | None:
        if self._catalog is not None or not (self.config.discover or self.config.catalog):
            return self._catalog
        if self.config.catalog:
            path = Path(self.config.catalog)
            path = path if path.is_absolute() else self.context.project_dir / path
            try:
                catalog = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise UsageError(f"cannot read the catalog {path}: {exc}") from None
        else:
            with self._files() as args:
                output = self._run_to_end([*args, "--discover"])
            try:
                catalog = json.loads(output)
            except ValueError:
                raise SourceError(f"{self.origin()} --discover did not print a JSON catalog") from None
        self._catalog = self._select(catalog)
        return self._catalog

    def _select(self, catalog: dict[str, Any]) -> dict[str, Any]:
        entries = catalog.get("streams") if isinstance(catalog, dict) else None
        if not isinstance(entries, list):
            raise SourceError(f"{self.origin()}: the catalog has no 'streams' list")
        names = {str(e.get("tap_stream_id") or e.get("stream")) for e in entries} | {
            str(e.get("stream")) for e in entries
        }
        wanted = self.config.streams
        missing = [s for s in wanted or [] if s not in names]
        if missing:
            known = ", ".join(sorted(str(e.get("tap_stream_id") or e.get("stream")) for e in entries))
            raise UsageError(f"{self.origin()} has no stream '{missing[0]}'; its streams: {known}")
        for entry in entries:
            ids = {str(entry.get("tap_stream_id")), str(entry.get("stream"))}
            chosen = wanted is None or bool(ids & set(wanted))
            metadata = entry.setdefault("metadata", [])
            root = next((m for m in metadata if m.get("breadcrumb") == []), None)
            if root is None:
                root = {"breadcrumb": [], "metadata": {}}
                metadata.append(root)
            root.setdefault("metadata", {})["selected"] = chosen
            if isinstance(entry.get("schema"), dict):
                entry["schema"]["selected"] = chosen
            replication = next((self.config.replication[i] for i in ids if i in self.config.replication), None)
            if chosen and replication:
                root["metadata"]["replication-method"] = replication.method
                if replication.key:
                    root["metadata"]["replication-key"] = replication.key
        return catalog

    def plan(self) -> dict[str, list[str]]:
        catalog = self.catalog()
        tap = " ".join(shlex.quote(part) for part in self.command)
        since = " from the saved tap state" if self.state else ""
        if catalog is None:
            return {"*": [f"{tap}: every stream it writes{since}"]}
        planned: dict[str, list[str]] = {}
        for entry in catalog["streams"]:
            root: dict[str, Any] = next((m for m in entry.get("metadata", []) if m.get("breadcrumb") == []), {})
            if root.get("metadata", {}).get("selected"):
                raw = str(entry.get("tap_stream_id") or entry.get("stream"))
                planned[stream_name(raw)] = [f"{tap}: stream {raw}{since}"]
        return planned

    # -- running the tap -------------------------------------------------------------------------
    @contextmanager
    def _files(self) -> Iterator[list[str]]:
        """The tap's command line with its config, catalog and state as in-memory files."""
        with ExitStack() as stack:
            args = list(self.command)
            fds: list[int] = []
            settings = self.config.config
            if self.context.window is not None:
                if isinstance(settings, str):
                    raise UsageError(
                        f"{self.origin()}: a backfill sets the tap's {self.config.start_key}; give source.config inline"
                    )
                settings = {**(settings or {}), self.config.start_key: self.context.window[0]}
            if isinstance(settings, str):
                path = Path(settings) if Path(settings).is_absolute() else self.context.project_dir / settings
                args += ["--config", str(path)]
            else:
                args += ["--config", stack.enter_context(_memory_file(json.dumps(settings or {}), fds))]
            self._fds = fds
            yield args

    def _run_to_end(self, args: list[str]) -> bytes:
        try:
            proc = subprocess.run(
                args,
                capture_output=True,
                pass_fds=self._fds,
                cwd=self.context.project_dir,
                check=False,
                timeout=self.config.timeout,
            )
        except subprocess.TimeoutExpired:
            raise SourceUnreachable(
                f"{self.origin()} {args[-1]} ran longer than source.timeout ({self.config.timeout:g} s)"
            ) from None
        except OSError as exc:
            raise UsageError(f"cannot start {self.origin()}: {exc.strerror or exc}") from None
        if proc.returncode != 0:
            tail = _tail(proc.stderr.decode("utf-8", "replace").splitlines())
            raise SourceError(f"{self.origin()} {args[-1]} exited with {proc.returncode}{tail}")
        return proc.stdout

    def batches(self) -> Iterator[tuple[str, Any]]:
        catalog = self.catalog()
        with ExitStack() as stack:
            args = stack.enter_context(self._files())
            if catalog is not None:
                args += [
                    f"--{self.config.catalog_flag}",
                    stack.enter_context(_memory_file(json.dumps(catalog), self._fds)),
                ]
            if self.config.state and self.state and self.context.window is None:
                args += ["--state", stack.enter_context(_memory_file(json.dumps(self.state), self._fds))]
            try:
                proc = subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    pass_fds=self._fds,
                    cwd=self.context.project_dir,
                )
            except OSError as exc:
                raise UsageError(f"cannot start {self.origin()}: {exc.strerror or exc}") from None
            _widen_pipe(proc.stdout)
            drain = threading.Thread(target=self._drain, args=(proc.stderr,), daemon=True)
            drain.start()
            finished = False
            watchdog = _Watchdog(proc, self.config.timeout)
            try:
                yield from self._messages(proc)
                code = proc.wait()
                drain.join(timeout=5)
                if watchdog.fired:
                    raise SourceUnreachable(
                        f"{self.origin()} ran longer than source.timeout ({self.config.timeout:g} s) and was stopped; "
                        "nothing was published"
                    )
                if code != 0:
                    raise SourceError(f"{self.origin()} exited with {code}; nothing was published{_tail(self.stderr)}")
                finished = True
            finally:
                watchdog.cancel()
                if not finished and proc.poll() is None:
                    proc.kill()
                    proc.wait()

    def _drain(self, pipe) -> None:
        for raw in iter(pipe.readline, b""):
            self.stderr.append(raw.decode("utf-8", "replace").rstrip())
        pipe.close()

    def _messages(self, proc) -> Iterator[tuple[str, Any]]:
        """Route the tap's output: RECORD lines in runs to their stream, the rest one by one.

        A RECORD line that starts `{"type": "RECORD", "stream": "x"` (as singer-python and the
        Singer SDK write them) is routed by that head without parsing; a run of such lines of
        one stream is found with two `bytes.count` passes or a regular expression, so most lines
        never meet Python code. Any other line is parsed whole (keys in another order, say).
        """
        streams: dict[str, _Stream] = {}
        state: dict[str, Any] | None = self.state
        number = 0  # output lines seen so far
        prefix, current, odd = b"", None, None  # the head of the last RECORD line, its stream, its run's end
        for body in self._bodies(proc.stdout, lambda: number):  # noqa: B023 - the count when the output ends
            pos = 0
            while pos < len(body):
                if current is not None and odd is not None and body.startswith(prefix, pos):
                    if body.count(b"\n" + prefix, pos) == body.count(b"\n", pos) - 1:
                        end = len(body)  # the common case: the rest of the block is one run
                    else:
                        found_end = odd.search(body, pos)
                        end = found_end.start() + 1 if found_end else len(body)
                    count = body.count(b"\n", pos, end)
                    current.add(body[pos:end], number + 1, count)
                    number += count
                    pos = end
                    if current.size >= PARSE_SIZE:
                        yield from self._flush(current)
                    continue
                newline = body.index(b"\n", pos)
                line = body[pos:newline]
                pos = newline + 1
                number += 1
                if not line.strip():
                    continue
                head = RECORD_HEAD.match(line)
                if head is not None:
                    raw = json.loads(b'"' + head.group(1) + b'"')
                    message: dict[str, Any] = {"type": "RECORD", "stream": raw}
                else:
                    message = self._json(line, number)
                    current = None
                if message.get("type") == "RECORD":
                    raw = str(message.get("stream"))
                    stream = streams.get(raw)
                    if stream is None:
                        if not self._selected(raw):
                            continue
                        raise SourceError(
                            f"{self.origin()} output line {number}: a RECORD of stream '{raw}' before its SCHEMA"
                        )
                    if head is not None:
                        if head.group(0) != prefix:
                            prefix = head.group(0)
                            odd = re.compile(b"\n(?!" + re.escape(prefix) + b")")
                        current = stream
                    stream.add(line + b"\n", number, 1)
                    continue
                current = None
                if message.get("type") == "SCHEMA":
                    raw = str(message.get("stream"))
                    if not self._selected(raw):
                        continue
                    if raw in streams:
                        yield from self._flush(streams[raw])
                    new = _Stream(
                        raw,
                        message.get("schema") or {},
                        message.get("key_properties") or [],
                        self.declared.get(raw, self.declared.get(stream_name(raw), {})),
                        self.config.nested,
                    )
                    if raw in streams:
                        new.records.known.update(streams[raw].records.known)
                    streams[raw] = new
                    if new.primary_key:
                        self.primary_keys[new.name] = new.primary_key
                elif message.get("type") == "STATE":
                    state = message.get("value")
                elif message.get("type") not in ("ACTIVATE_VERSION", "BATCH"):
                    raise SourceError(
                        f"{self.origin()} output line {number}: unknown message type '{message.get('type')}'"
                    )
        for stream in streams.values():
            yield from self._flush(stream)
        self.state = state

    def _bodies(self, stdout, lines_so_far) -> Iterator[bytes]:
        """The tap's output in blocks of whole lines; a last line without its newline is whole
        when it parses, else the tap was cut short."""
        pending = b""
        while True:
            block = stdout.read1(READ_SIZE)
            if not block:
                break
            data = pending + block
            cut = data.rfind(b"\n")
            if cut < 0:
                pending = data
                continue
            pending = data[cut + 1 :]
            yield data[: cut + 1]
        if pending.strip():
            self._json(pending, lines_so_far() + 1, last=True)
            yield pending + b"\n"

    def _wanted(self) -> list[str] | None:
        return [self.context.only] if self.context.only else self.config.streams

    def _selected(self, raw: str) -> bool:
        wanted = self._wanted()
        return wanted is None or raw in wanted or stream_name(raw) in wanted

    def _json(self, line: bytes, number: int, last: bool = False) -> dict[str, Any]:
        try:
            message = json.loads(line)
        except ValueError:
            if last:
                raise SourceError(
                    f"{self.origin()} output line {number}: the output stops mid-message; the tap was cut short"
                ) from None
            raise SourceError(self._not_a_message(line, number)) from None
        if not isinstance(message, dict):
            raise SourceError(self._not_a_message(line, number))
        return message

    def _not_a_message(self, line: bytes, number: int) -> str:
        # secrets hidden before the cut, which would leave a part of one unrecognisable
        shown = diagnostics.scrub(line.decode("utf-8", "replace"))[:80]
        return (
            f"{self.origin()} output line {number}: not a Singer message ({shown!r}); "
            "a tap must log to stderr, never stdout"
        )

    def _flush(self, stream: _Stream) -> Iterator[tuple[str, Any]]:
        if not stream.parts:
            return
        chunk = b"".join(stream.parts)
        runs = list(stream.runs)
        first, last = runs[0][0], runs[-1][0] + runs[-1][1] - 1
        stream.parts, stream.runs, stream.size = [], [], 0

        def where(index: int | None) -> str:
            if index is None:
                return f"{self.origin()} stream {stream.raw_name}, output lines {first}-{last}"
            return f"{self.origin()} stream {stream.raw_name}, output line {_line(runs, index)}"

        table = stream.records.table(chunk, where)
        table = _dates(table, stream, where)
        for batch in table.to_batches():
            yield stream.name, batch

    def bookmarks(self) -> dict[str, StreamBookmark]:
        return {}

    def source_state(self) -> dict[str, Any] | None:
        if self.context.window is not None:  # a backfill never moves the live bookmark
            return self.context.source_state
        return self.state


def _line(runs: list[tuple[int, int]], index: int) -> int:
    for first, count in runs:
        if index < count:
            return first + index
        index -= count
    return runs[-1][0] + runs[-1][1] - 1


def _dates(table, stream: _Stream, where):
    """date-time fields as UTC timestamps (an offset is honoured; none means UTC); date fields as dates."""
    import pyarrow as pa

    for name in stream.datetimes + stream.dates:
        if name not in table.schema.names or name in stream.declared:
            continue
        column = table.column(name)
        if not pa.types.is_string(column.type):
            continue
        is_datetime = name in stream.datetimes
        wanted = pa.timestamp("us", tz="UTC") if is_datetime else pa.date32()
        # Values without an offset are UTC: read naive, then labelled UTC (no shift). The way
        # that worked for the field's last chunk is tried first.
        ways = ["naive", "zoned"] if name in stream.naive else ["zoned", "naive"]
        converted = None
        for way in ways if is_datetime else ["zoned"]:
            try:
                converted = column.cast(pa.timestamp("us")).cast(wanted) if way == "naive" else column.cast(wanted)
            except pa.ArrowInvalid:
                continue
            (stream.naive.add if way == "naive" else stream.naive.discard)(name)
            break
        if converted is None:
            values = column.to_pylist()
            bad = next(i for i, v in enumerate(values) if v is not None and _bad_time(v, wanted))
            kind = "date-time" if is_datetime else "date"
            raise SourceError(f"{where(bad)}: field '{name}' is '{values[bad]}', not an ISO 8601 {kind}")
        table = table.set_column(table.schema.get_field_index(name), pa.field(name, wanted), converted)
    return table


def _bad_time(value: str, wanted) -> bool:
    import pyarrow as pa

    try:
        pa.array([value]).cast(wanted)
        return False
    except pa.ArrowInvalid:
        try:
            pa.array([value]).cast(pa.timestamp("us"))
            return False
        except pa.ArrowInvalid:
            return True


class _Watchdog:
    """Kills the tap once it has run `seconds` (None: never)."""

    def __init__(self, proc, seconds: float | None):
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire, args=(proc,)) if seconds else None
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()

    def _fire(self, proc) -> None:
        if proc.poll() is None:
            self.fired = True
            proc.kill()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _widen_pipe(pipe) -> None:
    """A 1 MiB pipe from the tap (Linux): fewer, larger reads than the default 64 KiB."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), 1031, 1 << 20)  # F_SETPIPE_SZ
    except (ImportError, OSError):
        pass


def _tail(lines) -> str:
    shown = [line for line in list(lines)[-STDERR_LINES:] if line.strip()][-8:]
    return ("; its last words on stderr:\n  " + "\n  ".join(shown)) if shown else ""


@contextmanager
def _memory_file(text: str, fds: list[int]) -> Iterator[str]:
    """A file holding `text` that the tap can open by path, kept off the disk where possible."""
    data = text.encode()
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("dataspoc-pipe", 0)
        try:
            os.write(fd, data)
            os.lseek(fd, 0, os.SEEK_SET)
            fds.append(fd)
            yield f"/dev/fd/{fd}"
        finally:
            fds.remove(fd)
            os.close(fd)
        return
    folder = tempfile.mkdtemp(prefix="dataspoc-tap-")
    path = Path(folder) / "file.json"
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        yield str(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def open_source(config: SingerConfig, context: Context) -> SingerSource:
    return SingerSource(config, context)


KIND = Kind(
    name="singer",
    config=SingerConfig,
    open=open_source,
    summary="A Singer tap: any tap executable; its streams become tables, its STATE is kept",
)

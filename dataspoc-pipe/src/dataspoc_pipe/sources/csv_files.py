"""CSV files: a path or glob, streamed in Arrow record batches by pyarrow's CSV reader.

Rules a user can rely on (docs/pipe.md repeats them):
- an empty field is NULL; no other text is, unless listed in `nulls` (`n/a` stays text, and in a
  numeric column it is an error naming the file, line and column);
- types are inferred from the first block of each file unless declared in `columns`; a later
  value that does not fit is an error naming the file, line and column, never a silent NULL;
- an integer beyond int64 in an undeclared column is such an error too, never a rounded double;
- blank lines are skipped (so a one-column row that is NULL cannot be told from one);
- quoted fields may hold newlines and the delimiter; an unterminated quote is an error;
- a UTF-8 or UTF-16 byte order mark is honoured; other encodings are set with `encoding`;
- `.gz`, `.bz2` and `.zst` files are decompressed (and read whole: they cannot grow in place).
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import re
from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from dataspoc_pipe.errors import ConfigError, SourceError
from dataspoc_pipe.sources import types
from dataspoc_pipe.sources.base import Context, Kind, SourceConfig, Stream
from dataspoc_pipe.sources.files import FileStream, Work, open_bytes

BLOCK_SIZE = 4 << 20  # bytes per batch; Arrow reads ahead a few blocks, so this bounds memory
MAX_BLOCK_SIZE = 256 << 20  # the longest field (or quoted record) a file may hold
INT64_MAX = 2**63 - 1
INTEGER = re.compile(r"[+-]?[0-9]+")


class _BlockTooSmall(Exception):
    """A record longer than the block size: read again with bigger blocks."""


Char = Annotated[str, Field(min_length=1, max_length=1)]


class CsvConfig(SourceConfig):
    kind: Literal["csv"] = "csv"
    path: Annotated[str, Field(min_length=1, description="A file or a glob, relative to the project file.")]
    delimiter: Char = ","
    quote: Char | None = '"'
    escape: Char | None = None
    header: bool = True
    column_names: list[str] | None = None
    encoding: str = "utf-8"
    nulls: list[str] = Field(default_factory=lambda: [""])
    columns: dict[str, str] = Field(default_factory=dict)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding '{value}'") from None
        return value

    @model_validator(mode="after")
    def _names_without_header(self):
        if not self.header and not self.column_names:
            raise ValueError("a file without a header needs column_names")
        return self


def _bom_encoding(head: bytes, configured: str) -> tuple[str, int]:
    """The encoding a byte order mark announces (overriding the config), and the BOM's length."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if head.startswith(bom):
            return name, len(bom) if name == "utf-8" else 0
    return configured, 0


class CsvStream(FileStream):
    def __init__(self, name: str, config: CsvConfig, context: Context):
        super().__init__(name, config.path, context)
        self.config = config
        where = f"source.columns of {name}"
        self.declared = {column: types.parse(text, f"{where}.{column}") for column, text in config.columns.items()}

    def read_file(self, work: Work) -> Iterator:
        """The file's rows. A field longer than a block makes Arrow give up ("straddling
        object"): the file is then read again with blocks four times bigger, past the rows
        already given, up to MAX_BLOCK_SIZE."""
        given, block_size = 0, BLOCK_SIZE
        while True:
            skip = given
            try:
                for batch in self._read(work, block_size):
                    if skip >= batch.num_rows:
                        skip -= batch.num_rows
                        continue
                    batch = batch.slice(skip) if skip else batch
                    skip = 0
                    given += batch.num_rows
                    yield batch
                return
            except _BlockTooSmall:
                if block_size >= MAX_BLOCK_SIZE:
                    raise SourceError(
                        f"{work.file.path}: a field is longer than {MAX_BLOCK_SIZE >> 20} MiB; "
                        "check source.quote, or split the field"
                    ) from None
                block_size = min(block_size * 4, MAX_BLOCK_SIZE)

    def _read(self, work: Work, block_size: int) -> Iterator:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pacsv

        config, path = self.config, work.file.path
        with open_bytes(Work(work.file, 0, "new"), 4096) as head_stream:
            head = head_stream.read(4)
        encoding, bom = _bom_encoding(head, config.encoding)
        names = self._column_names(work, encoding)
        counter = _QuoteCount(config.quote) if config.quote and not config.escape else None

        def open_handle():
            handle = open_bytes(dataclasses.replace(work, offset=work.offset or bom), block_size)
            if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
                handle = _Transcoded(handle, encoding)
            return counter.wrap(handle, block_size) if counter else handle

        read_options = pacsv.ReadOptions(
            block_size=block_size,
            use_threads=True,
            column_names=names,
            skip_rows=1 if (work.offset == 0 and config.header and names) else 0,
        )
        parse_options = pacsv.ParseOptions(
            delimiter=config.delimiter,
            quote_char=config.quote or False,
            escape_char=config.escape or False,
            double_quote=config.escape is None,
            newlines_in_values=config.quote is not None,
        )
        convert = pacsv.ConvertOptions(
            null_values=config.nulls,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["true", "True", "TRUE"],
            false_values=["false", "False", "FALSE"],
            column_types=self.declared,
        )
        handle = open_handle()
        try:
            reader = pacsv.open_csv(
                handle, read_options=read_options, parse_options=parse_options, convert_options=convert
            )
            guessed_null = [f.name for f in reader.schema if pa.types.is_null(f.type)]
            if guessed_null:
                # A column empty in the first block has no type yet: read it as text.
                handle.close()
                if counter:
                    counter.count = 0
                handle = open_handle()
                convert.column_types = {**dict.fromkeys(guessed_null, pa.string()), **self.declared}
                reader = pacsv.open_csv(
                    handle, read_options=read_options, parse_options=parse_options, convert_options=convert
                )
            if len(reader.schema.names) == 1 and not config.column_names:
                only = reader.schema.names[0]
                other = next((d for d in (";", "\t", "|") if d in only and d != config.delimiter), None)
                if other is not None:
                    raise SourceError(
                        f"{path}: the header is one column, {only[:60]!r}; the file looks {other!r}-separated: "
                        f"set source.delimiter: {other!r}"
                    )
            unknown = sorted(set(self.declared) - set(reader.schema.names))
            if unknown:
                raise ConfigError(f"{path}: source.columns names {unknown}, which the file does not have")
            binary = [f.name for f in reader.schema if pa.types.is_binary(f.type) and f.name not in self.declared]
            if binary:
                raise SourceError(
                    f"{path}: column '{binary[0]}' holds bytes that are not valid {encoding}"
                    f"{_line_of_bad_text(work, encoding)}; "
                    "set source.encoding (e.g. latin-1), or declare the column binary"
                )
            # integers beyond int64 make Arrow infer double, rounding them: refused as in JSON
            inferred = [f.name for f in reader.schema if pa.types.is_floating(f.type) and f.name not in self.declared]
            for batch in reader:
                for name in inferred:
                    if (pc.max(pc.abs(batch.column(name))).as_py() or 0) > INT64_MAX:
                        _refuse_big_integer(work, encoding, config, reader.schema.names.index(name), name)
                yield batch
            # An odd count of quote characters: a quoted field left open, or only quotes inside
            # unquoted fields (`12" pipe`), which are text. The csv module tells them apart.
            if counter and counter.odd and (opened := _open_quote(work, encoding, config)) is not None:
                raise SourceError(f"{path}: a quoted field is never closed (the record starting on line {opened})")
        except pa.ArrowInvalid as exc:
            # a header longer than the block leaves the first block without a whole line
            header_cut = "Empty CSV file or block" in str(exc) and work.stop - work.offset > block_size
            if "straddling" in str(exc) or header_cut:
                raise _BlockTooSmall() from None
            raise SourceError(_explain(exc, work, encoding, config, names)) from None
        except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
            raise SourceError(f"{path}: cannot read as CSV: {str(exc).splitlines()[0]}") from None
        finally:
            handle.close()

    def _column_names(self, work: Work, encoding: str) -> list[str] | None:
        """Names given in the config, or read from the header when not reading from the top."""
        if self.config.column_names:
            return list(self.config.column_names)
        if work.offset == 0:
            return None  # pyarrow reads the header itself
        with open_bytes(Work(work.file, 0, "new"), 1 << 16) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="")
            return next(_csv_reader(text, self.config), [])


def _csv_reader(text, config: CsvConfig):
    return csv.reader(
        text,
        delimiter=config.delimiter,
        quotechar=config.quote or '"',
        quoting=csv.QUOTE_MINIMAL if config.quote else csv.QUOTE_NONE,
        escapechar=config.escape,
        doublequote=config.escape is None,
        strict=False,
    )


class _QuoteCount:
    """Counts quote characters as bytes stream past, so an unclosed quote is caught without a
    second pass: with doubled-quote escaping a well-formed file has an even count."""

    def __init__(self, quote: str):
        self.quote = quote.encode()
        self.count = 0

    @property
    def odd(self) -> bool:
        return self.count % 2 == 1

    def wrap(self, handle, buffer_size: int):
        counter = self

        class Counting(io.RawIOBase):
            def readable(self) -> bool:
                return True

            def readinto(self, buffer) -> int:
                data = handle.read(len(buffer))
                counter.count += data.count(counter.quote)
                buffer[: len(data)] = data
                return len(data)

            def close(self) -> None:
                handle.close()
                super().close()

        return io.BufferedReader(Counting(), buffer_size=buffer_size)


class _Transcoded(io.RawIOBase):
    """Bytes in another encoding as UTF-8, decoded incrementally."""

    def __init__(self, raw, encoding: str):
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending and not self._done:
            chunk = self._raw.read(1 << 20)
            self._done = not chunk
            self._pending = self._decoder.decode(chunk, final=self._done).encode("utf-8")
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def close(self) -> None:
        self._raw.close()
        super().close()


# Slow paths: only taken once a file has failed, to name the line and column for the user.
def _rows(work: Work, encoding: str, config: CsvConfig) -> Iterator[tuple[int, list[str]]]:
    """(line number in the file, fields) of each record this run reads, header included."""
    with open_bytes(Work(work.file, 0, "new"), 1 << 20) as raw:
        text = io.TextIOWrapper(
            raw, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="", errors="replace"
        )
        reader = _csv_reader(text, config)
        line = 1
        for fields in reader:
            yield line, fields
            line = reader.line_num + 1


def _open_quote(work: Work, encoding: str, config: CsvConfig) -> int | None:
    """The line where a quoted field that never closes starts, or None when every quote is closed."""
    with open_bytes(Work(work.file, 0, "new"), 1 << 20) as raw:
        text = io.TextIOWrapper(
            raw, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="", errors="replace"
        )
        reader = csv.reader(
            text,
            delimiter=config.delimiter,
            quotechar=config.quote or '"',
            doublequote=config.escape is None,
            escapechar=config.escape,
            strict=True,
        )
        start = 1
        try:
            for _ in reader:
                start = reader.line_num + 1
        except csv.Error as exc:
            return start if "end of data" in str(exc) or "EOF" in str(exc) else None
    return None


def _refuse_big_integer(work: Work, encoding: str, config: CsvConfig, index: int, name: str) -> None:
    """SourceError naming the first integer beyond int64 in the column, if it holds one."""
    rows = _rows(work, encoding, config)
    if config.header:
        next(rows, None)
    for line, fields in rows:
        text = fields[index].strip() if index < len(fields) else ""
        if INTEGER.fullmatch(text) and not -(2**63) <= int(text) <= INT64_MAX:
            raise SourceError(
                f"{work.file.path} line {line}, column '{name}': {text} is an integer beyond int64; "
                f"declare the column in source.columns (e.g. {name}: string or decimal128(38, 0))"
            )


def _line_of_bad_text(work: Work, encoding: str) -> str:
    with open_bytes(Work(work.file, 0, "new"), 1 << 20) as raw:
        for number, line in enumerate(raw, start=1):
            try:
                line.decode(encoding)
            except UnicodeDecodeError:
                return f" (first on line {number})"
    return ""


def _explain(exc: Exception, work: Work, encoding: str, config: CsvConfig, names) -> str:
    """pyarrow's message, with the file, line and column it does not give."""
    path = work.file.path
    message = str(exc).splitlines()[0]
    if match := re.search(r"Expected (\d+) columns, got (\d+)", message):
        expected = int(match.group(1))
        for line, fields in _rows(work, encoding, config):
            if len(fields) != expected:
                return (
                    f"{path} line {line}: {len(fields)} fields where the header has {expected}; "
                    "fix the row, or check source.delimiter and source.quote"
                )
        return f"{path}: {message}"
    if match := re.search(r"column #(\d+): CSV conversion error to (\S+): invalid value '(.*)'", message):
        index, wanted, value = int(match.group(1)), match.group(2), match.group(3)
        rows = _rows(work, encoding, config)
        header = names or next(rows, (0, []))[1]
        column = header[index] if index < len(header) else f"#{index + 1}"
        for line, fields in rows:
            if index < len(fields) and fields[index] == value:
                where = f"line {line}"
                break
        else:
            where = "a later block"
        hint = f"list it in source.nulls if it means NULL, or declare the column's type in source.columns (e.g. {column}: string)"
        return f"{path} {where}, column '{column}': '{value}' is not {wanted} like the rows before it; {hint}"
    return f"{path}: {message}"


def open_streams(config: CsvConfig, context: Context) -> list[Stream]:
    return [CsvStream(context.default_table, config, context)]


KIND = Kind(
    name="csv",
    config=CsvConfig,
    open=open_streams,
    summary="CSV files: a path or glob; delimiter, quote, encoding, header, nulls, declared types",
)

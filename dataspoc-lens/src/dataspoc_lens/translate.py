"""DuckDB's errors as the LensError a person can act on, on one line."""

from __future__ import annotations

import re

from dataspoc_lens.errors import (
    BucketUnreachable,
    QueryError,
    QueryFailed,
    ReadOnlyRefused,
    StorageError,
    UnknownTable,
    UnreadableTable,
)


def one_line(message: str) -> str:
    """DuckDB's message without the SQL excerpt and caret lines, joined onto one line."""
    keep = []
    for line in message.splitlines():
        line = line.strip()
        if not line or line.startswith("LINE ") or set(line) <= {"^", " "}:
            continue
        keep.append(line)
    return "; ".join(keep) or message.strip()


TABLE_MISSING = re.compile(r"(Table|Catalog|Schema) with name (\S+) does not exist", re.I)
UNREADABLE = re.compile(r"table \S+ cannot be read: .*")
# DuckDB's refusal of a path its configuration does not allow, or the read-only layer's (readonly_fs.py)
LOCKED_SETTING = re.compile(r'Cannot change configuration option "+([^"]+)"+ - the configuration has been locked')
READ_ONLY = re.compile(
    r'Cannot access (?:file|directory) "[^"]*"|it cannot (?:write \S+|change it)|\S+ is outside the bucket'
)


# A Python exception raised inside the fsspec filesystem DuckDB reads through comes back as a
# DuckDB error holding its traceback; its last line names it: "OSError: [Errno 16] Service Unavailable".
PYTHON_FAILURE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception|Timeout)): (.*)$", re.M)
STORAGE_FAILURES = (
    "OSError",
    "IOError",
    "ConnectionError",
    "TimeoutError",
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ClientError",
    "ClientOSError",
    "ServerDisconnectedError",
    "ConnectionResetError",
    "BrokenPipeError",
    "HTTPClientError",
)


def _storage_failure(exc: Exception) -> Exception | None:
    """The storage error a filesystem raised under DuckDB, or None when it was something else."""
    text = str(exc)
    if "Traceback (most recent call last)" not in text:
        return None
    found = PYTHON_FAILURE.findall(text)
    if not found:
        return None
    name, detail = found[-1]
    if name.rsplit(".", 1)[-1] not in STORAGE_FAILURES:
        return None
    if name.rsplit(".", 1)[-1] in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionError"):
        return BucketUnreachable(f"cannot reach the bucket: {detail.strip()}; retry when it answers again")
    return StorageError(f"the bucket failed while a table was read ({detail.strip()}); retry the command")


def translate(exc: Exception) -> Exception:
    """Turn a DuckDB error into the LensError a person can act on."""
    import duckdb

    failure = _storage_failure(exc)
    if failure is not None:
        return failure
    message = one_line(str(exc))
    refused = READ_ONLY.search(message)
    if refused or isinstance(exc, getattr(duckdb, "PermissionException", ())):
        what = refused.group(0) if refused else message
        return ReadOnlyRefused(
            f"{what}: dataspoc-lens queries read the bucket's tables only; pass --write to COPY to a folder"
        )
    if isinstance(exc, duckdb.InvalidInputException) and (m := LOCKED_SETTING.search(message)):
        return ReadOnlyRefused(
            f"setting {m.group(1)} cannot be changed: dataspoc-lens locks DuckDB's settings so that queries stay read-only"
        )
    if isinstance(exc, duckdb.InvalidInputException) and (m := UNREADABLE.search(message)):
        return UnreadableTable(m.group(0))
    if isinstance(exc, duckdb.CatalogException) and TABLE_MISSING.search(message):
        return UnknownTable(f"{message}; run `dataspoc-lens catalog` to list the tables")
    if isinstance(exc, (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException)):
        return QueryError(message)
    if isinstance(exc, (duckdb.IOException, duckdb.HTTPException)):
        if any(s in message for s in ("Could not connect", "Connection refused", "Connect timeout")):
            return BucketUnreachable(f"cannot reach the bucket: {message}")
        return StorageError(f"cannot read a table's files: {message}")
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return BucketUnreachable(f"cannot reach the bucket: {message}")
    return QueryFailed(f"query failed: {message}")


# The prefix of DuckDB's message -> its exception class, to classify errors Arrow passed on.
ERROR_PREFIXES = {
    "IO Error": "IOException",
    "HTTP Error": "HTTPException",
    "Invalid Input Error": "InvalidInputException",
    "Conversion Error": "ConversionException",
    "Out of Range Error": "OutOfRangeException",
    "Binder Error": "BinderException",
    "Catalog Error": "CatalogException",
    "Parser Error": "ParserException",
}


def as_duckdb_error(exc: OSError) -> Exception:
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return exc
    import duckdb

    message = str(exc)
    for prefix, name in ERROR_PREFIXES.items():
        if message.startswith(prefix):
            return getattr(duckdb, name, duckdb.Error)(message)
    return duckdb.Error(message)

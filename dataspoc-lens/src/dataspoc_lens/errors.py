"""Every error a user can cause or meet, and the exit code each one maps to.

The core raises these; only the CLI turns them into a one-line message and an exit code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    DATA = 1  # bad data, a failed query at run time: fix the input
    USAGE = 2  # bad flags, SQL, table or model names: fix the command
    STORAGE = 3  # bucket unreachable: a retry may help
    INTERRUPTED = 130


EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 data or run failure, 2 usage error (bad SQL, unknown table), "
    "3 storage or connection error (retry may help), 130 interrupted."
)


class LensError(Exception):
    """Base of every error dataspoc-lens reports to the user."""

    exit_code = ExitCode.DATA


class UsageError(LensError):
    exit_code = ExitCode.USAGE


class UnknownTable(UsageError):
    pass


class AmbiguousTable(UsageError):
    pass


class QueryError(UsageError):
    """The SQL does not parse or bind (syntax, unknown column or function)."""


class MissingBackend(UsageError):
    """The bucket's scheme needs an optional package that is not installed."""


class MlCommandError(UsageError):
    """dataspoc-ml cannot be found or started."""


class QueryFailed(LensError):
    """The SQL was fine but failed while running (a bad cast, bad data)."""


class UnreadableTable(LensError):
    """A table's files cannot be read (gone, corrupt): the other tables still work."""


class ContractError(LensError):
    """A document in the bucket breaks the contract or has an unknown major version."""


class StorageError(LensError):
    """The bucket could not be read."""

    exit_code = ExitCode.STORAGE


class BucketUnreachable(StorageError):
    pass


def exit_code_for(exc: BaseException) -> ExitCode:
    if isinstance(exc, LensError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    return ExitCode.DATA

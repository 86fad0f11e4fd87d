"""Every error a user can cause or meet, and the exit code each one maps to.

The core raises these; only the CLI turns them into a one-line message and an exit code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    DATA = 1  # bad data, a failed run: fix the input
    USAGE = 2  # bad flags, names, unknown table/column/model: fix the command
    STORAGE = 3  # bucket unreachable: a retry may help
    INTERRUPTED = 130


EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 data or run failure, 2 usage or configuration error, "
    "3 storage or connection error (retry may help), 130 interrupted."
)


class MlError(Exception):
    """Base of every error dataspoc-ml reports to the user."""

    exit_code = ExitCode.DATA


class UsageError(MlError):
    exit_code = ExitCode.USAGE


class UnknownTable(UsageError):
    pass


class AmbiguousTable(UsageError):
    pass


class UnknownColumn(UsageError):
    pass


class UnknownModel(UsageError):
    pass


class MissingBackend(UsageError):
    """The bucket's scheme needs an optional package that is not installed."""


class DataError(MlError):
    """The data cannot be used as asked (too few rows, a single class, ...)."""


class ContractError(MlError):
    """A document in the bucket breaks the contract or has an unknown major version."""


class StorageError(MlError):
    """The bucket could not be read or written."""

    exit_code = ExitCode.STORAGE


class BucketUnreachable(StorageError):
    pass


class LockTimeout(StorageError):
    pass


def exit_code_for(exc: BaseException) -> ExitCode:
    if isinstance(exc, MlError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    return ExitCode.DATA

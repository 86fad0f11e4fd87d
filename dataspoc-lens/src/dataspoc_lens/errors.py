"""Every error a user can cause or meet, and the exit code each one maps to.

The core raises these; diagnostics.py alone turns them into a one-line message and an exit code.
The classes from ExitCode to LockTimeout are the same, by name and exit code, in all three
tools (each package's tests/test_conformance.py holds them to it); the rest are dataspoc-lens's own.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    DATA = 1  # bad data, a failed run or check: fix the input
    USAGE = 2  # bad flags, config, names or credentials: fix the command or its settings
    STORAGE = 3  # bucket or source unreachable: a retry may help
    BUG = 70  # an unexpected exception: a bug to report (EX_SOFTWARE)
    INTERRUPTED = 130


class LensError(Exception):
    """Base of every error dataspoc-lens reports to the user."""

    exit_code = ExitCode.DATA


class UsageError(LensError):
    exit_code = ExitCode.USAGE


class MissingBackend(UsageError):
    """The bucket's scheme needs an optional package that is not installed, or is unknown."""


class AccessDenied(UsageError):
    """Credentials are missing, or do not grant access: no retry will help."""


class BucketNotFound(UsageError):
    """The bucket does not exist, or these credentials cannot see it."""


class ContractError(LensError):
    """A document in the bucket breaks the contract or has an unknown major version."""


class StorageError(LensError):
    """The bucket could not be read or written."""

    exit_code = ExitCode.STORAGE


class BucketUnreachable(StorageError):
    pass


class LockTimeout(StorageError):
    pass


# dataspoc-lens's own -----------------------------------------------------------------------
class UnknownTable(UsageError):
    pass


class AmbiguousTable(UsageError):
    pass


class QueryError(UsageError):
    """The SQL does not parse or bind (syntax, unknown column or function)."""


class MlCommandError(UsageError):
    """dataspoc-ml cannot be found or started."""


class QueryFailed(LensError):
    """The SQL was fine but failed while running (a bad cast, bad data)."""


class UnreadableTable(LensError):
    """A table's files cannot be read (gone, corrupt): the other tables still work."""


class ReadOnlyRefused(UsageError):
    """A query tried to write, or to read outside the bucket: Lens is read-only."""


class ProjectError(UsageError):
    """The transforms folder is wrong: a bad model file, header, name, cycle or selection."""


class ModelFailed(LensError):
    """A gold model failed to build; its old version stays."""


class ChecksFailed(LensError):
    """A check of severity error failed on a gold table."""


class UnknownColumn(UsageError):
    """A column named on the command line (`inspect --key`) that the table does not have."""

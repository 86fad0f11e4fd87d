"""Every error a user can cause or meet, and the exit code each one maps to.

The core raises these; diagnostics.py alone turns them into a one-line message and an exit code.
The classes from ExitCode to LockTimeout are the same, by name and exit code, in all three
tools (each package's tests/test_conformance.py holds them to it); the rest are dataspoc-pipe's own.
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


class PipeError(Exception):
    """Base of every error dataspoc-pipe reports to the user."""

    exit_code = ExitCode.DATA


class UsageError(PipeError):
    exit_code = ExitCode.USAGE


class MissingBackend(UsageError):
    """The bucket's scheme needs an optional package that is not installed, or is unknown."""


class AccessDenied(UsageError):
    """Credentials are missing, or do not grant access: no retry will help."""


class BucketNotFound(UsageError):
    """The bucket does not exist, or these credentials cannot see it."""


class ContractError(PipeError):
    """A document in the bucket breaks the contract or has an unknown major version."""


class StorageError(PipeError):
    """The bucket could not be read or written."""

    exit_code = ExitCode.STORAGE


class BucketUnreachable(StorageError):
    pass


class LockTimeout(StorageError):
    pass


# dataspoc-pipe's own ---------------------------------------------------------------------------
class ConfigError(UsageError):
    """The project file is missing or wrong."""


class InvalidName(UsageError):
    pass


class UnknownPipeline(UsageError):
    pass


class SourceError(PipeError):
    """The source's data cannot be read as configured."""


class IncompatibleSchema(SourceError):
    """A run's rows would change a column of its table in a way readers cannot unify."""


class SourceNotFound(SourceError):
    pass


class SourceUnreachable(PipeError):
    """A database or API did not answer: a later retry may do."""

    exit_code = ExitCode.STORAGE


class PipelineBusy(StorageError):
    """Another run of the same pipeline holds its run lock: a later retry will do."""


class ChecksFailed(PipeError):
    """A check of severity error failed and on_check_failure is fail: nothing was published."""

    def __init__(self, message: str, results: list | None = None):
        super().__init__(message)
        self.results = results  # contract CheckResults, for the failed run's log


class ChecksFailedAfterPublish(PipeError):
    """Checks of severity error failed; the rows that passed were published, the others quarantined."""

"""How a dataspoc-pipe command ends: its exit code, and the one line a failure gets.

The only place that turns an exception into an exit code and a message. Errors of our own
(errors.py) carry their code; an interrupt is 130; a reader that closed stdout (`| head`) is
not a failure; a PermissionError is a usage error and any other OSError from the machine (a
full disk) a storage error; anything else is a bug: exit 70 and a request to report it.
`--debug` anywhere on the line, or DATASPOC_DEBUG=1, adds the traceback, never its local
variables (credentials live there). Typer is imported by the functions that use it, so a
command whose arguments were parsed without it (run_parsed) never loads it.

The three packages hold this same file, each with its own names: `make contract-sync` copies
it from the reference package (contract/tools/contract_sync.py) and `make contract-check` fails
when a copy drifts.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from dataspoc_pipe import __version__
from dataspoc_pipe.console import error, out
from dataspoc_pipe.errors import ExitCode, PipeError

if TYPE_CHECKING:
    import typer

TOOL = "dataspoc-pipe"
DEBUG_ENV = "DATASPOC_DEBUG"
DEBUG_HELP = f"Show the traceback of an error [env {DEBUG_ENV}=1]."
EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 data or run failure, 2 usage or configuration error (flags, names, "
    "credentials), 3 storage or connection error (a retry may help), 70 internal error (a bug: "
    "please report it), 130 interrupted. --debug shows the traceback of an error."
)

F = TypeVar("F", bound=Callable[..., Any])


def debug_from_env(environ: dict[str, str] | None = None) -> bool:
    value = (os.environ if environ is None else environ).get(DEBUG_ENV, "")
    return value.strip().lower() in ("1", "true", "yes", "on")


_debug = debug_from_env()
_hidden: set[str] = set()
HIDDEN = "***"


def hide(value: str) -> None:
    """Never show this value (a secret read from the environment) in a message or a log, as it
    is or as it appears inside a URL (percent-encoded)."""
    from urllib.parse import quote, quote_plus

    if len(value) >= 3:
        _hidden.update({value, quote(value, safe=""), quote_plus(value)})


def scrub(text: str) -> str:
    """The text with every hidden value replaced by ***, longest first."""
    for value in sorted(_hidden, key=len, reverse=True):
        text = text.replace(value, HIDDEN)
    return text


@dataclass(frozen=True)
class Outcome:
    code: ExitCode
    message: str | None  # None: end quietly


def one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def diagnose(exc: BaseException) -> Outcome:
    """The exit code and the message for an exception that ended a command."""
    outcome = _diagnose(exc)
    return outcome if outcome.message is None else Outcome(outcome.code, scrub(outcome.message))


def _diagnose(exc: BaseException) -> Outcome:
    if isinstance(exc, BrokenPipeError):
        return Outcome(ExitCode.OK, None)
    if isinstance(exc, PipeError):
        return Outcome(exc.exit_code, one_line(str(exc)) or type(exc).__name__)
    if isinstance(exc, KeyboardInterrupt):
        return Outcome(ExitCode.INTERRUPTED, "interrupted")
    detail = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    if isinstance(exc, PermissionError):  # no retry helps: the user must change a permission
        return Outcome(ExitCode.USAGE, f"permission denied: {detail or type(exc).__name__}; check the permissions")
    if isinstance(exc, OSError):
        return Outcome(ExitCode.STORAGE, f"storage error: {detail or type(exc).__name__}")
    shown = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return Outcome(
        ExitCode.BUG,
        f"internal error in {TOOL} {__version__} ({shown}); this is a bug: please report it "
        "with the output of the same command run with --debug",
    )


def exit_code_for(exc: BaseException) -> ExitCode:
    return diagnose(exc).code


def report(exc: BaseException, prefix: str = "") -> ExitCode:
    """Tell the user how the command ended (stderr only) and return its exit code.

    `prefix` names the part of the command that failed when it goes on with the others."""
    outcome = diagnose(exc)
    if isinstance(exc, BrokenPipeError):
        silence_stdout()
    if outcome.message is not None:
        if _debug:
            sys.stderr.write(scrub("".join(traceback.format_exception(type(exc), exc, exc.__traceback__))))
        error(prefix + outcome.message)
    return outcome.code


def silence_stdout() -> None:
    """Point stdout at devnull so the interpreter's last flush cannot fail on a closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def reporting(fn: F) -> F:
    """Wrap a command so whatever ends it becomes one line on stderr and an exit code."""

    @functools.wraps(fn)
    def run_reporting(*args: Any, **kwargs: Any) -> Any:
        import typer

        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - every ending is classified by diagnose()
            raise typer.Exit(int(report(exc))) from None

    return run_reporting  # type: ignore[return-value]


def epilog(*examples: str) -> str:
    """The end of a command's --help: its examples, then the exit codes."""
    shown = "\n\n".join(f"  {example}" for example in examples)
    return f"Examples:\n\n{shown}\n\n{EXIT_CODES_HELP}" if examples else EXIT_CODES_HELP


def run_parsed(fn: Callable[..., Any], **kwargs: Any) -> NoReturn:
    """Run a command whose arguments were parsed without Typer: exit 0 when it returns, or end
    it as reporting() does (same line on stderr, same exit code)."""
    try:
        fn(**kwargs)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - every ending is classified by diagnose()
        raise SystemExit(int(report(exc))) from None
    raise SystemExit(int(ExitCode.OK))


def show_version(value: bool) -> None:
    """The eager --version option of the root command."""
    import typer

    if value:
        try:
            out(f"{TOOL} {__version__}")
        except BrokenPipeError:
            silence_stdout()
        raise typer.Exit()


def take_debug(argv: Sequence[str] | None = None) -> list[str]:
    """The command line without --debug, which may stand anywhere on it: --debug (or
    DATASPOC_DEBUG=1) shows tracebacks for this run."""
    global _debug
    given = list(sys.argv[1:] if argv is None else argv)
    args = [arg for arg in given if arg != "--debug"]
    _debug = debug_from_env() or len(args) < len(given)
    if not _debug:
        import logging

        # A storage client that gives up logs its traceback (gcsfs: "_request out of retries"),
        # which Python's last-resort handler would print: the error is reported once, in one line.
        logging.getLogger().addHandler(logging.NullHandler())
    return args


def run(app: typer.Typer, argv: Sequence[str] | None = None) -> None:
    """The console script: --debug is taken from anywhere on the line, then Typer parses."""
    app(args=take_debug(argv), prog_name=TOOL)

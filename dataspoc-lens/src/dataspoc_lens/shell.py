"""`dataspoc-lens shell`: an interactive SQL prompt over the bucket (prompt_toolkit).

SQL runs when a line ends with `;` (Enter before that starts a new line), dot commands when
Enter is pressed. Ctrl-C while typing clears the input; during a query it cancels the query
(DuckDB's interrupt), never the shell; Ctrl-D or `.quit` leaves. History is kept in
`~/.dataspoc-lens/history`. Results taller than the screen go through a pager (`$PAGER`, else
`less -SRFX` when installed; `.pager off` prints them whole). The same read-only rules as
`query` hold (safety.py).
"""

from __future__ import annotations

import io
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataspoc_lens import render, settings
from dataspoc_lens.catalog import Catalog
from dataspoc_lens.errors import LensError, UsageError

PROMPT = "lens> "
MORE = "  ...> "
FORMATS = ("table", "csv", "tsv", "json", "jsonl", "markdown")
HELP = """\
SQL ends with ;  (tables: layer.namespace.name, or a unique name)
.tables                 list the tables
.schema TABLE           describe a table
.buckets                the saved buckets
.use NAME|URI           switch to another bucket
.format FORMAT          table, csv, tsv, json, jsonl, markdown
.export FORMAT PATH     run the last query again into a file (csv, tsv, json, jsonl, markdown, parquet)
.timer on|off           say how long each query took
.pager on|off           page results taller than the screen
.read FILE              run the SQL in a file
.help                   this list
.quit                   leave (or Ctrl-D)"""
KEYWORDS = [
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP",
    "BY",
    "ORDER",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "JOIN",
    "LEFT",
    "RIGHT",
    "FULL",
    "INNER",
    "OUTER",
    "ON",
    "USING",
    "AS",
    "WITH",
    "DISTINCT",
    "UNION",
    "ALL",
    "EXCEPT",
    "INTERSECT",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS",
    "NULL",
    "LIKE",
    "ILIKE",
    "BETWEEN",
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "CAST",
    "DESCRIBE",
    "SUMMARIZE",
    "SHOW",
    "EXPLAIN",
    "QUALIFY",
    "WINDOW",
    "OVER",
    "PARTITION",
    "CREATE",
    "TEMP",
    "TABLE",
    "VIEW",
    "INSERT",
    "INTO",
    "VALUES",
    "ASC",
    "DESC",
]


@dataclass
class Shell:
    bucket: str
    open_session: Callable[[str], Any]  # bucket URI -> Session
    out: Any = field(default_factory=lambda: sys.stdout)
    err: Any = field(default_factory=lambda: sys.stderr)
    fmt: str = "table"
    timer: bool = False
    pager: bool = True
    last_sql: str | None = None
    session: Any = None

    def start(self) -> None:
        self.session = self.open_session(self.bucket)

    # commands --------------------------------------------------------------------------
    def handle(self, text: str) -> bool:
        """Run one input; False when the shell should end."""
        text = text.strip()
        if not text:
            return True
        if text.startswith("."):
            return self.dot(text)
        self.sql(text)
        return True

    def say(self, message: str) -> None:
        self.err.write(message + "\n")
        self.err.flush()

    def dot(self, text: str) -> bool:
        try:
            words = shlex.split(text)
        except ValueError as exc:
            self.say(f"error: {exc}")
            return True
        command, args = words[0], words[1:]
        if command in (".quit", ".exit"):
            return False
        if command == ".help":
            self.out.write(HELP + "\n")
        elif command == ".tables":
            rows = self.session.catalog.rows()
            self.out.write("\n".join(r["name"] for r in rows) + ("\n" if rows else ""))
            if not rows:
                self.say("no tables yet")
        elif command == ".schema" and len(args) == 1:
            self._guard(lambda: self._schema(args[0]))
        elif command == ".buckets":
            saved = settings.load()
            for name, uri in sorted(saved.items()):
                self.out.write(f"{name}\t{uri}\n")
            if not saved:
                self.say("no saved buckets: dataspoc-lens buckets add NAME URI")
        elif command == ".use" and len(args) == 1:
            self._guard(lambda: self._use(args[0]))
        elif command == ".format" and len(args) == 1 and args[0] in FORMATS:
            self.fmt = args[0]
        elif command == ".timer" and args in (["on"], ["off"]):
            self.timer = args[0] == "on"
        elif command == ".pager" and args in (["on"], ["off"]):
            self.pager = args[0] == "on"
        elif command == ".export" and len(args) == 2:
            self._guard(lambda: self._export(args[0], args[1]))
        elif command == ".read" and len(args) == 1:
            self._guard(lambda: self._read(args[0]))
        else:
            self.say(f"error: unknown or incomplete command {text!r}; .help lists the commands")
        self.out.flush()
        return True

    def _guard(self, action: Callable[[], None]) -> None:
        try:
            action()
        except LensError as exc:
            self.say(f"error: {exc}")

    def _schema(self, ref: str) -> None:
        described = self.session.catalog.schema(ref)
        buffer = io.StringIO()
        stdout, sys.stdout = sys.stdout, buffer
        try:
            render.schema(described)
        finally:
            sys.stdout = stdout
        self.out.write(buffer.getvalue())

    def _use(self, target: str) -> None:
        session = self.open_session(settings.resolve(target))
        self.session.close()
        self.session, self.bucket = session, target
        self.say(f"using {target}: {len(session.catalog.tables)} tables")

    def _read(self, file: str) -> None:
        text = Path(file).expanduser().read_text() if Path(file).expanduser().exists() else None
        if text is None:
            raise UsageError(f"no file {file}")
        self.sql(text)

    def _export(self, fmt: str, target: str) -> None:
        from dataspoc_lens import output

        if self.last_sql is None:
            raise UsageError("no query yet: run one, then .export")
        if fmt not in (*FORMATS[1:], "parquet"):
            raise UsageError(f".export {fmt}: use csv, tsv, json, jsonl, markdown or parquet")
        output.run(self.session, self.last_sql, fmt, None, target)
        self.say(f"wrote {target}")

    def sql(self, text: str) -> None:
        """Run SQL; Ctrl-C cancels it."""
        from dataspoc_lens import output

        started = time.monotonic()
        previous = signal.signal(signal.SIGINT, lambda *_: self.session.con.interrupt())
        buffer = io.StringIO()
        try:
            width = shutil.get_terminal_size().columns if getattr(self.out, "isatty", lambda: False)() else None
            result = output.run(
                self.session, text, self.fmt, 10_000 if self.fmt == "table" else None, None, buffer, width
            )
        except LensError as exc:
            message = str(exc)
            self.say("query cancelled" if "INTERRUPT" in message.upper() else f"error: {message}")
            return
        except KeyboardInterrupt:
            self.say("query cancelled")
            return
        finally:
            signal.signal(signal.SIGINT, previous)
        self.last_sql = text
        self._show(buffer.getvalue())
        if result.cut:
            self.say("showing the first 10000 rows; .export writes them all")
        if self.timer:
            self.say(f"run time: {time.monotonic() - started:.3f} s")

    def _show(self, text: str) -> None:
        lines = text.count("\n")
        height = shutil.get_terminal_size().lines
        pager = os.environ.get("PAGER") or ("less -SRFX" if shutil.which("less") else None)
        if self.pager and pager and lines > height - 2 and getattr(self.out, "isatty", lambda: False)():
            subprocess.run(shlex.split(pager), input=text, text=True, check=False)
        else:
            self.out.write(text)
            self.out.flush()


def words(catalog: Catalog) -> list[str]:
    """What completion offers: keywords, table names, column names, dot commands."""
    names = {t.qualified for t in catalog.tables} | set(catalog.aliases)
    columns = {c.name for t in catalog.tables for c in t.columns}
    dots = [line.split()[0] for line in HELP.splitlines()[1:]]
    return sorted(names) + sorted(columns) + KEYWORDS + [k.lower() for k in KEYWORDS] + dots


def run(shell: Shell) -> None:
    """The interactive loop."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import WordCompleter
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.lexers import PygmentsLexer
    from pygments.lexers.sql import SqlLexer

    shell.start()
    bindings = KeyBindings()

    @bindings.add("enter")
    def _(event: Any) -> None:
        buffer = event.current_buffer
        text = buffer.text.strip()
        if not text or text.startswith(".") or text.endswith(";"):
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n")

    history = settings.home() / "history"
    history.parent.mkdir(parents=True, exist_ok=True)
    prompt: PromptSession[str] = PromptSession(
        history=FileHistory(str(history)),
        lexer=PygmentsLexer(SqlLexer),
        completer=WordCompleter(words(shell.session.catalog), ignore_case=True, WORD=True),
        multiline=True,
        key_bindings=bindings,
        prompt_continuation=lambda width, line, soft: MORE.rjust(width),
    )
    shell.say(f"dataspoc-lens shell on {shell.bucket}: {len(shell.session.catalog.tables)} tables; .help for help")
    try:
        while True:
            try:
                text = prompt.prompt(PROMPT)
            except KeyboardInterrupt:
                continue  # Ctrl-C while typing clears the line
            except EOFError:
                break
            if not shell.handle(text):
                break
    finally:
        shell.session.close()

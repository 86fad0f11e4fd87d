"""The interactive shell, driven through a pseudo-terminal (pexpect) as a person would use it."""

from __future__ import annotations

import os
import time

import pexpect
import pytest

from conftest import LENS
from lake import shop

PROMPT = "lens>"  # prompt_toolkit styles it: escape codes follow, not the space


@pytest.fixture
def shell(local_lake, tmp_path):
    bucket = shop(local_lake).url
    env = {**os.environ, "TERM": "xterm", "PAGER": "cat", "COLUMNS": "120", "LINES": "40"}
    child = pexpect.spawn(
        str(LENS),
        ["shell", "--bucket", bucket],
        cwd=str(tmp_path),
        env=env,
        encoding="utf-8",
        dimensions=(40, 120),
        timeout=30,
    )
    child.expect_exact(PROMPT)
    yield child
    if child.isalive():
        child.sendcontrol("d")
        child.expect(pexpect.EOF)


def ask(child, text: str, *expected: str) -> None:
    """Send one input; each expected text must come, in order, then a fresh prompt. (The
    prompt is redrawn as you type, so the output is matched, not what precedes the prompt.)"""
    child.send(text + "\r")
    for item in expected:
        child.expect_exact(item)
    child.expect_exact(PROMPT)


def test_multi_line_sql_dot_commands_and_formats(shell, tmp_path):
    shell.send("SELECT count(*) AS n\r")  # no ; yet: a new line
    shell.expect_exact("...>")
    ask(shell, "FROM raw.shop.orders;", "bigint", "5", "1 row")
    ask(shell, ".tables", "raw.crm.customers")
    ask(shell, ".schema raw.shop.orders", "order_id")
    ask(shell, ".format csv")
    ask(shell, "SELECT 42 AS a;", "a\r\n42")
    ask(shell, ".timer on")
    ask(shell, "SELECT 1 AS b;", "run time:")
    ask(shell, ".export csv out.csv", "wrote out.csv")
    assert (tmp_path / "out.csv").read_text() == "b\n1\n"
    ask(shell, "SELECT * FROM raw.shop.nope;", "error:", "nope")  # the shell goes on
    ask(shell, f"COPY (SELECT 1) TO '{tmp_path}/x.csv';", "read-only")
    assert not (tmp_path / "x.csv").exists()
    ask(shell, ".frobnicate", "unknown or incomplete command")
    shell.send(".quit\r")
    shell.expect(pexpect.EOF)
    shell.close()
    assert shell.exitstatus == 0
    assert (tmp_path / "home" / ".dataspoc-lens" / "history").read_text().count("SELECT") >= 3


def test_ctrl_c_cancels_the_query_not_the_shell(shell):
    shell.send("SELECT count(*) FROM range(100000000000) a;\r")
    time.sleep(1.5)
    shell.sendcontrol("c")
    shell.expect_exact("query cancelled", timeout=30)
    shell.expect_exact(PROMPT)
    ask(shell, "SELECT count(*) AS answer FROM customers;", "answer", "2", "1 row")


def test_completion_of_table_names(shell):
    shell.send("SELECT count(*) AS n FROM raw.crm.cust")
    shell.send("\t")
    time.sleep(0.5)
    ask(shell, ";", "bigint", "2", "1 row")


def test_ctrl_c_while_typing_clears_the_line(shell):
    shell.send("SELECT this is not finished")
    shell.sendcontrol("c")
    ask(shell, "SELECT 7 AS seven;", "seven", "7", "1 row")

"""Errors that quote what a source sent (the start of an HTTP body, a tap's stray stdout line)
never show a secret, not even a part of one: the excerpt is cut after the secret is hidden, and
quoted (repr) after too, so a backslash in the secret cannot turn it into a form `scrub` misses."""

from __future__ import annotations

import sys

import pytest

from conftest import write_project
from dataspoc_pipe.errors import ExitCode

TOKEN = "tok\\Straddles-The-Cut-31337"  # a backslash: repr() would double it
PIECE = 8


def pieces(secret: str) -> list[str]:
    forms = {secret, repr(secret)[1:-1]}
    return sorted({f[i : i + PIECE] for f in forms for i in range(len(f) - PIECE + 1)})


def shown(text: str) -> list[str]:
    return [p for p in pieces(TOKEN) if p in text]


def logs(tmp_path) -> str:
    return "".join(p.read_text() for p in (tmp_path / "bucket" / ".dataspoc").rglob("*.json"))


@pytest.mark.parametrize("before", [0, 190])  # the token whole in the excerpt, and across its 200-character cut
def test_an_http_body_echoing_the_token_shows_none_of_it(pipe, tmp_path, api, before):
    body = ("." * before + " " + TOKEN + " ").encode()
    api.routes["/echo"] = lambda r: (200, {"Content-Type": "text/html"}, b"<p>" + body + b"</p>")
    source = {"kind": "http", "url": f"{api.url}/echo", "headers": {"Authorization": "${API_TOKEN}"}}
    write_project(tmp_path, {"orders": {"source": source, "target": {"namespace": "shop"}}})
    result = pipe("--debug", "run", "orders", env={"API_TOKEN": TOKEN})
    assert result.code == ExitCode.DATA and "not JSON" in result.stderr and "***" in result.stderr, result.stderr
    assert shown(result.stdout + result.stderr) == [] and shown(logs(tmp_path)) == []


@pytest.mark.parametrize("before", [0, 50])  # whole in the 80-character excerpt, and across its cut
def test_a_tap_printing_its_token_on_stdout_shows_none_of_it(pipe, tmp_path, before):
    tap = tmp_path / "tap-chatty"
    tap.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "config = json.load(open(sys.argv[sys.argv.index('--config') + 1]))\n"
        f"print('connecting with ' + '.' * {before} + ' ' + config['token'])\n"
    )
    tap.chmod(0o755)
    source = {"kind": "singer", "tap": str(tap), "config": {"token": "${TAP_TOKEN}"}, "discover": False}
    write_project(tmp_path, {"crm": {"source": source, "target": {"namespace": "crm"}}})
    result = pipe("--debug", "run", "crm", env={"TAP_TOKEN": TOKEN})
    assert result.code == ExitCode.DATA and "not a Singer message" in result.stderr, result.stderr
    assert shown(result.stdout + result.stderr) == [] and shown(logs(tmp_path)) == []

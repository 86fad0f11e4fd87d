"""The docs stay true: the README's tour runs as pasted, and every command the README, docs/ and
the package READMEs show exists with the flags they give it."""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

TOOLS = ("dataspoc-pipe", "dataspoc-lens", "dataspoc-ml")
DOCS = [
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    *(REPO / f"{tool}" / "README.md" for tool in TOOLS),
]
TABLE_DOCS = {"pipe.md": "dataspoc-pipe", "lens.md": "dataspoc-lens", "ml.md": "dataspoc-ml"}


def fenced_blocks(text: str, languages=("bash", "sh", "")) -> list[str]:
    return [m.group(2) for m in re.finditer(r"```(\w*)\n(.*?)```", text, re.S) if m.group(1) in languages]


def shell_commands(block: str) -> list[list[str]]:
    """The commands in a shell block, each as its words (quoted text spanning lines kept whole)."""
    commands, pending = [], ""
    for line in block.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        try:
            words = shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on on the next line
            continue
        pending = ""
        command: list[str] = []
        for word in [*words, "|"]:
            if word in ("|", "&&", ";", ">", ">>", "<"):
                if command:
                    commands.append(command)
                command = [] if word != ">" else ["#redirect"]
            else:
                command.append(word)
    return [c for c in commands if c and c[0] != "#redirect"]


def documented_calls() -> list[tuple[str, str, tuple[str, ...]]]:
    """(where, tool, words after the tool) for every DataSpoc command the docs show."""
    calls = []
    for doc in DOCS:
        text = doc.read_text()
        for block in fenced_blocks(text):
            for words in shell_commands(block):
                if words[0] in TOOLS:
                    calls.append((doc.name, words[0], tuple(words[1:])))
        tool = TABLE_DOCS.get(doc.name) if doc.parent.name == "docs" else None
        if tool:  # the command tables: | `run NAME... / --all [--json]` | does |
            for cell in re.findall(r"^\| `([^`]+)` \|", text, re.M):
                calls.append((doc.name, tool, tuple(cell.replace("\\|", "|").split())))
    return calls


@functools.cache
def help_text(tool: str, path: tuple[str, ...]) -> str:
    proc = subprocess.run([tool, *path, "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"`{tool} {' '.join(path)} --help` failed: {proc.stderr}"
    return proc.stdout


def command_path(tool: str, words: tuple[str, ...]) -> tuple[str, ...]:
    path: tuple[str, ...] = ()
    for word in words:
        listed = re.search(r"^Commands:\n((?:  .*\n?)+)", help_text(tool, path), re.M)
        names = {line.split()[0] for line in listed.group(1).splitlines()} if listed else set()
        if word not in names:
            break
        path += (word,)
    return path


CALLS = documented_calls()


def test_the_docs_show_commands_of_every_tool():
    assert {tool for _, tool, _ in CALLS} == set(TOOLS)
    assert len(CALLS) > 30


@pytest.mark.parametrize("where,tool,words", CALLS, ids=[f"{w}: {t} {' '.join(a)[:50]}" for w, t, a in CALLS])
def test_documented_command_exists_with_its_flags(where, tool, words):
    path = command_path(tool, words)
    options = [w.split("=")[0] for w in words if w.startswith("-") and w not in ("-", "--")]
    if not path:
        assert set(options) <= {"--version", "--help", "--debug"}, f"{where}: `{tool} {' '.join(words)}` names no command"
    shown = help_text(tool, path)
    assert "Exit codes:" in shown and "70 internal error" in shown, f"`{tool} {' '.join(path)} --help` has no exit codes"
    for option in options:
        assert re.search(rf"(^|[\s,]){re.escape(option)}([\s,]|$)", shown, re.M), (
            f"{where}: `{tool} {' '.join(path)}` has no option {option}"
        )


def tour() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    [block] = fenced_blocks(section, ("bash",))
    return block


def test_the_readme_tour_runs_as_pasted_and_leaves_only_ignored_files(tmp_path):
    """The tour, pasted into a shell at the repository root, runs to the end; `make` steps are
    what `make test` has done already. Every file it writes is one git ignores."""
    root = tmp_path / "repo"
    root.mkdir()
    for tool in TOOLS:  # the installed tools, where `make sync` puts them
        (root / tool).mkdir()
        (root / tool / ".venv").symlink_to(REPO / tool / ".venv")
    (root / "examples").symlink_to(REPO / "examples")
    script = "\n".join(line for line in tour().splitlines() if not line.startswith("make "))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATASPOC_", "AWS_"))}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if "dataspoc-" not in p)
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "revenue" in (root / "tour" / "revenue.csv").read_text().splitlines()[0]
    assert (root / "tour" / "bucket" / "gold" / "sales" / "churn_by_plan").is_dir()

    written = [
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not any(part in ("examples", ".venv") for part in p.relative_to(root).parts)
    ]
    assert written
    ignored = subprocess.run(
        ["git", "-C", str(REPO), "check-ignore", "--no-index", "--stdin"],
        input="\n".join(written),
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert sorted(set(written) - set(ignored)) == []


def test_demo_installs_only_what_the_tools_need():
    uv = os.environ.get("UV") or shutil.which("uv")
    if not uv:
        pytest.fail("uv not found: run through `make test`, which passes UV")
    makefile = (REPO / "Makefile").read_text()
    assert "demo: sync" in makefile and "--no-dev" in makefile.split("\nsync:", 1)[1].split("\n\n", 1)[0]
    for tool in TOOLS:
        exported = subprocess.run(
            [uv, "export", "--locked", "--no-dev", "--no-hashes", "--project", str(REPO / tool)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        names = {re.split(r"[=<>\s;\[]", line, maxsplit=1)[0].lower() for line in exported.splitlines()}
        for test_only in ("pytest", "moto", "boto3", "jsonschema", "ruff", "mypy", "pytest-xdist"):
            assert test_only not in names, f"{tool}: `make demo` would install {test_only}"
        assert "typer" in names

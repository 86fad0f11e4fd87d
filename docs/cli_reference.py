"""Write docs/cli-reference.md from the installed CLIs' own --help (`make docs`).

Each tool runs from its own environment, so this script imports none of them.
`--check` exits 1 when the committed page differs from what the CLIs print now.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "cli-reference.md"
TOOLS = [("dataspoc-pipe", "dataspoc_pipe"), ("dataspoc-lens", "dataspoc_lens"), ("dataspoc-ml", "dataspoc_ml")]

# Runs inside a tool's environment: the command paths of its whole command tree.
WALK = """
import json, typer.main
from {module}.cli import app
def walk(cmd, path):
    yield path
    for name, sub in sorted(getattr(cmd, "commands", {{}}).items()):
        if not getattr(sub, "hidden", False):
            yield from walk(sub, path + [name])
print(json.dumps(list(walk(typer.main.get_command(app), []))))
"""


def render() -> str:
    env = {**os.environ, "COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}
    parts = ["# CLI reference\n", "Generated from each tool's `--help` by `make docs`; do not edit by hand.\n"]
    for tool, module in TOOLS:
        bin_dir = ROOT / tool / ".venv" / "bin"
        paths = json.loads(
            subprocess.run(
                [str(bin_dir / "python"), "-c", WALK.format(module=module)],
                check=True, capture_output=True, text=True, env=env,
            ).stdout
        )
        for path in paths:
            help_text = subprocess.run(
                [str(bin_dir / tool), *path, "--help"], capture_output=True, text=True, env=env
            ).stdout.rstrip()
            title = " ".join([tool, *path])
            parts.append(f"\n## `{title}`\n\n```text\n{help_text}\n```\n")
    return "".join(parts)


def main() -> int:
    page = render()
    if sys.argv[1:] == ["--check"]:
        if not PAGE.exists() or PAGE.read_text() != page:
            print("docs/cli-reference.md is out of date: run `make docs`", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(page)
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""dataspoc-ml shares only the bucket with the other tools: it never imports them."""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "dataspoc_ml"
FORBIDDEN = ("dataspoc_pipe", "dataspoc_lens")


def imported_modules(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
            "__import__",
            "import_module",
        ):
            names += [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    return names


def test_never_imports_the_other_tools():
    files = sorted(SOURCE.rglob("*.py"))
    assert files
    offenders = []
    for path in files:
        for name in imported_modules(ast.parse(path.read_text(), filename=str(path))):
            if name.split(".")[0] in FORBIDDEN:
                offenders.append(f"{path.relative_to(SOURCE)}: {name}")
    assert not offenders, offenders


def test_the_walker_catches_an_import():
    tree = ast.parse("import dataspoc_pipe.bucket\nfrom dataspoc_lens import x\n")
    assert [n for n in imported_modules(tree) if n.split(".")[0] in FORBIDDEN] == [
        "dataspoc_pipe.bucket",
        "dataspoc_lens",
    ]

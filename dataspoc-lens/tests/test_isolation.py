"""Lens never imports dataspoc-pipe or dataspoc-ml: the three tools meet only in the bucket."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "dataspoc_lens"
FORBIDDEN = ("dataspoc_pipe", "dataspoc_ml")


def imported_modules(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
            "__import__",
            "import_module",
        ):
            for arg in node.args[:1]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    yield arg.value


def test_no_imports_of_sibling_tools():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) >= 10
    offenders = [
        f"{path.relative_to(SRC)} imports {module}"
        for path in files
        for module in imported_modules(ast.parse(path.read_text(), str(path)))
        if module.split(".")[0] in FORBIDDEN
    ]
    assert offenders == []

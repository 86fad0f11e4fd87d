"""dataspoc-pipe never imports Lens or ML: the bucket is the only interface."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "dataspoc_pipe"
FORBIDDEN = {"dataspoc_lens", "dataspoc_ml"}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_imports_another_product():
    offenders = {
        str(path.relative_to(SRC)): sorted(imported_modules(path) & FORBIDDEN)
        for path in SRC.rglob("*.py")
        if imported_modules(path) & FORBIDDEN
    }
    assert offenders == {}


def test_the_check_sees_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from dataspoc_lens.engine import x\n")
    assert "dataspoc_lens" in imported_modules(sample)

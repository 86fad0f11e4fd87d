"""Copy what the three packages share by copy (`sync`), or fail when a copy drifted (`check`).

Two kinds of copies, since the packages never import each other:
- contract/schemas/*.json into every package's `contract/schemas/`, byte for byte;
- the modules whose behaviour must be the same in all three tools (COPIED_MODULES): written in
  dataspoc-pipe, the reference, and copied into dataspoc-lens and dataspoc-ml with the names
  swapped (`dataspoc_pipe` -> `dataspoc_lens`, `dataspoc-pipe` -> `dataspoc-lens`,
  `PipeError` -> `LensError`). Edit them in dataspoc-pipe, then run `make contract-sync`.

Standard library only, so `make contract-check` runs before any environment exists.
"""

from __future__ import annotations

import filecmp
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "contract" / "schemas"
PACKAGES = ("pipe", "lens", "ml")
REFERENCE = "pipe"
COPIED_MODULES = (
    "src/dataspoc_{p}/bucket.py",
    "src/dataspoc_{p}/console.py",
    "src/dataspoc_{p}/diagnostics.py",
    "tests/test_conformance.py",
)
BASE_ERRORS = {"pipe": "PipeError", "lens": "LensError", "ml": "MlError"}


def vendored_dir(package: str) -> Path:
    return ROOT / f"dataspoc-{package}" / "src" / f"dataspoc_{package}" / "contract" / "schemas"


def module_path(package: str, module: str) -> Path:
    return ROOT / f"dataspoc-{package}" / module.format(p=package)


def renamed(text: str, package: str) -> str:
    """A reference module's text as `package` must hold it."""
    for old, new in (
        (f"dataspoc_{REFERENCE}", f"dataspoc_{package}"),
        (f"dataspoc-{REFERENCE}", f"dataspoc-{package}"),
        (BASE_ERRORS[REFERENCE], BASE_ERRORS[package]),
    ):
        text = re.sub(rf"\b{re.escape(old)}\b", new, text)
    return text


def module_drift() -> list[str]:
    problems = []
    for module in COPIED_MODULES:
        reference = module_path(REFERENCE, module).read_text()
        for package in PACKAGES:
            if package == REFERENCE:
                continue
            copy = module_path(package, module)
            if not copy.exists():
                problems.append(f"{copy.relative_to(ROOT)} is missing")
            elif copy.read_text() != renamed(reference, package):
                problems.append(
                    f"{copy.relative_to(ROOT)} differs from {module_path(REFERENCE, module).relative_to(ROOT)} "
                    f"(edit it in dataspoc-{REFERENCE})"
                )
    return problems


def sync_modules() -> None:
    for module in COPIED_MODULES:
        reference = module_path(REFERENCE, module).read_text()
        for package in PACKAGES:
            if package != REFERENCE:
                module_path(package, module).write_text(renamed(reference, package))
    names = ", ".join(Path(module).name for module in COPIED_MODULES)
    print(f"copied {names} from dataspoc-{REFERENCE} into the other packages")


def drift() -> list[str]:
    problems = []
    wanted = {p.name for p in SOURCE.glob("*.json")}
    for package in PACKAGES:
        target = vendored_dir(package)
        have = {p.name for p in target.glob("*.json")} if target.is_dir() else set()
        for name in sorted(wanted - have):
            problems.append(f"{target.relative_to(ROOT)}/{name} is missing")
        for name in sorted(have - wanted):
            problems.append(f"{target.relative_to(ROOT)}/{name} is not in contract/schemas")
        for name in sorted(wanted & have):
            if not filecmp.cmp(SOURCE / name, target / name, shallow=False):
                problems.append(f"{target.relative_to(ROOT)}/{name} differs from contract/schemas/{name}")
    return problems


def sync() -> None:
    for package in PACKAGES:
        target = vendored_dir(package)
        target.mkdir(parents=True, exist_ok=True)
        for stale in target.glob("*.json"):
            stale.unlink()
        for schema in SOURCE.glob("*.json"):
            shutil.copyfile(schema, target / schema.name)
        print(f"synced {len(list(SOURCE.glob('*.json')))} schemas into {target.relative_to(ROOT)}")


def main(argv: list[str]) -> int:
    if argv[1:] == ["sync"]:
        sync()
        sync_modules()
        return 0
    if argv[1:] == ["check"]:
        problems = drift() + module_drift()
        for line in problems:
            print(f"contract drift: {line}", file=sys.stderr)
        if problems:
            print(
                "Run `make contract-sync` to copy contract/schemas and dataspoc-pipe's shared modules "
                "into every package.",
                file=sys.stderr,
            )
            return 1
        print("contract: every package vendors the current schemas and shared modules")
        return 0
    print("usage: contract_sync.py sync|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Copy contract/schemas into every package (`sync`), or fail when a copy drifted (`check`).

Standard library only, so `make contract-check` runs before any environment exists.
"""

from __future__ import annotations

import filecmp
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "contract" / "schemas"
PACKAGES = ("pipe", "lens", "ml")


def vendored_dir(package: str) -> Path:
    return ROOT / f"dataspoc-{package}" / "src" / f"dataspoc_{package}" / "contract" / "schemas"


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
        return 0
    if argv[1:] == ["check"]:
        problems = drift()
        for line in problems:
            print(f"contract drift: {line}", file=sys.stderr)
        if problems:
            print("Run `make contract-sync` to copy contract/schemas into every package.", file=sys.stderr)
            return 1
        print("contract: every package vendors the current schemas")
        return 0
    print("usage: contract_sync.py sync|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

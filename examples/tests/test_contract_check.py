"""`make contract-check` fails on drift and names the fix; `make contract-sync` mends it."""

from __future__ import annotations

import shutil
import subprocess
import sys

from conftest import REPO


def copy_repo(tmp_path):
    target = tmp_path / "repo"
    (target / "contract").mkdir(parents=True)
    shutil.copytree(REPO / "contract" / "schemas", target / "contract" / "schemas")
    shutil.copytree(REPO / "contract" / "tools", target / "contract" / "tools")
    for tool in ("pipe", "lens", "ml"):
        vendored = f"dataspoc-{tool}/src/dataspoc_{tool}/contract/schemas"
        shutil.copytree(REPO / vendored, target / vendored)
        for module in ("bucket.py", "console.py", "diagnostics.py"):
            copied = f"dataspoc-{tool}/src/dataspoc_{tool}/{module}"
            shutil.copyfile(REPO / copied, target / copied)
        (target / f"dataspoc-{tool}/tests").mkdir()
        shutil.copyfile(REPO / f"dataspoc-{tool}/tests/test_conformance.py", target / f"dataspoc-{tool}/tests/test_conformance.py")
    return target


def check(repo, command="check"):
    return subprocess.run(
        [sys.executable, str(repo / "contract" / "tools" / "contract_sync.py"), command], capture_output=True, text=True
    )


def test_the_repository_has_no_drift():
    assert check(REPO).returncode == 0


def test_drift_is_named_with_the_fix_and_sync_mends_it(tmp_path):
    repo = copy_repo(tmp_path)
    vendored = repo / "dataspoc-lens/src/dataspoc_lens/contract/schemas/manifest.schema.json"
    vendored.write_text(vendored.read_text().replace('"curated"', '"silver"', 1))
    (repo / "dataspoc-ml/src/dataspoc_ml/contract/schemas/state.schema.json").unlink()

    result = check(repo)
    assert result.returncode == 1
    assert "dataspoc-lens/src/dataspoc_lens/contract/schemas/manifest.schema.json differs" in result.stderr
    assert "dataspoc-ml/src/dataspoc_ml/contract/schemas/state.schema.json is missing" in result.stderr
    assert "make contract-sync" in result.stderr

    assert check(repo, "sync").returncode == 0
    assert check(repo).returncode == 0


def test_a_copied_module_edited_outside_pipe_is_named_and_sync_restores_it(tmp_path):
    repo = copy_repo(tmp_path)
    copy = repo / "dataspoc-ml/src/dataspoc_ml/bucket.py"
    copy.write_text(copy.read_text().replace("RETRIES = 3", "RETRIES = 5"))

    result = check(repo)
    assert result.returncode == 1
    assert "dataspoc-ml/src/dataspoc_ml/bucket.py differs from dataspoc-pipe/src/dataspoc_pipe/bucket.py" in result.stderr

    assert check(repo, "sync").returncode == 0
    assert "RETRIES = 3" in copy.read_text() and "dataspoc_ml.errors" in copy.read_text()
    assert "dataspoc_pipe" not in copy.read_text()
    assert check(repo).returncode == 0

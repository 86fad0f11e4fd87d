"""The bad-input corpus (examples/corpus/cases.py), each case through the installed CLIs: the
documented exit code and one-line message, never a traceback, and on rejection the bucket
byte-for-byte as it was."""

from __future__ import annotations

import hashlib
import json
import sys

import pytest
import yaml
from conftest import REPO

sys.path.insert(0, str(REPO / "examples" / "corpus"))
from cases import CASES, Case  # noqa: E402

CORPUS = REPO / "examples" / "corpus"


def snapshot(bucket) -> dict[str, str]:
    return {
        str(p.relative_to(bucket)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(bucket.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def good_bucket(cli, tmp_path, case: Case):
    (tmp_path / "in").mkdir(exist_ok=True)
    (tmp_path / "in" / "good.csv").write_text("id,amount,label\n" + "".join(f"{i},{i * 1.5},{i % 2}\n" for i in range(60)))
    (tmp_path / "in" / "other.csv").write_text("id,label\n1,0\n2,1\n")
    (tmp_path / "in" / "x.csv").write_text("id\n1\n")
    assert cli("dataspoc-pipe", "init", "--bucket", "./bucket").code == 0
    assert cli("dataspoc-pipe", "add", "good", "--path", "in/good.csv", "--source", "shop").code == 0
    assert cli("dataspoc-pipe", "add", "other", "--path", "in/other.csv", "--source", "shop").code == 0
    assert cli("dataspoc-pipe", "run", "--all").code == 0
    if case.trained:
        trained = cli("dataspoc-ml", "train", "m", "--table", "raw.shop.good", "--target", "label", "--bucket", "bucket")
        assert trained.code == 0, trained.stderr
    return tmp_path / "bucket"


def apply(case: Case, tmp_path, bucket) -> None:
    for name, content in case.files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    if case.pipe is not None:
        project = tmp_path / "dataspoc-pipe.yaml"
        document = yaml.safe_load(project.read_text())
        pipeline = json.loads(json.dumps(case.pipe).replace("{python}", sys.executable).replace("{corpus}", str(CORPUS)))
        document["pipelines"]["corpus"] = pipeline
        project.write_text(yaml.safe_dump(document, sort_keys=False))
    if case.manifest is not None:
        path = bucket / ".dataspoc" / "manifest.json"
        if isinstance(case.manifest, str):
            path.write_text(case.manifest)
        else:
            document = json.loads(path.read_text())
            if "__good_entry__" in case.manifest:
                entry = next(t for t in document["tables"] if t["name"] == "good")
                entry.update(case.manifest["__good_entry__"])
            elif "__good_file__" in case.manifest:
                entry = next(t for t in document["tables"] if t["name"] == "good")
                entry["partitions"][0]["files"][0]["path"] = case.manifest["__good_file__"]
            else:
                document = case.manifest
            path.write_text(json.dumps(document))
    if case.tamper:
        [pickle] = [p for p in bucket.glob("ml/models/m/v*/model.pkl")]
        with open(pickle, "ab") as handle:
            handle.write(b"\x00")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_corpus_case(cli, tmp_path, case: Case):
    bucket = good_bucket(cli, tmp_path, case)
    apply(case, tmp_path, bucket)
    before = snapshot(bucket)
    argv = [a.replace("{bucket}", str(bucket)) for a in case.argv]
    result = cli(*argv, env=case.env)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.code == case.exit, (result.code, result.stderr)
    for words in case.says:
        assert words in result.stderr, (words, result.stderr)
    if case.exit == 0:
        return
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and result.stderr.strip().splitlines()[-1].startswith("error:"), result.stderr
    after = snapshot(bucket)
    added = {p for p in after if p not in before}
    assert {p for p in before if after.get(p) != before[p]} == set(), "a rejected command changed the bucket"
    for path in added:  # a failed run log is all a rejection may add
        assert path.startswith(".dataspoc/logs/"), path
        assert json.loads((bucket / path).read_text())["status"] == "failed", path

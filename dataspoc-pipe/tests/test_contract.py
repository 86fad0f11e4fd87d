"""The contract examples through jsonschema and through dataspoc-pipe's own models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import CONTRACT, schema_validator
from dataspoc_pipe.contract import SCHEMAS
from dataspoc_pipe.contract.models import MODELS, parse
from dataspoc_pipe.errors import ContractError

VALID = sorted((CONTRACT / "examples" / "valid").glob("*.json"))
INVALID = sorted((CONTRACT / "examples" / "invalid").glob("*.json"))


def kind_of(path: Path) -> str:
    return path.name.split(".")[0]


def test_examples_exist_for_every_schema():
    kinds = {p.name.split(".")[0] for p in (CONTRACT / "schemas").glob("*.schema.json")}
    assert kinds == {kind_of(p) for p in VALID} == {kind_of(p) for p in INVALID}


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_examples_pass(path):
    document = json.loads(path.read_text())
    assert list(schema_validator(kind_of(path)).iter_errors(document)) == []
    if kind_of(path) in MODELS:
        parse(kind_of(path), document, path.name)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_examples_fail(path):
    document = json.loads(path.read_text())
    assert list(schema_validator(kind_of(path)).iter_errors(document)) != []
    if kind_of(path) in MODELS:
        with pytest.raises(ContractError, match=path.name):
            parse(kind_of(path), document, path.name)


def test_vendored_schemas_match_the_contract():
    source = {p.name: p.read_bytes() for p in (CONTRACT / "schemas").glob("*.json")}
    vendored = {p.name: p.read_bytes() for p in SCHEMAS.glob("*.json")}
    assert vendored == source, "run `make contract-sync`"


def test_unknown_major_version_names_the_file_and_the_fix():
    document = json.loads((CONTRACT / "examples" / "valid" / "manifest.full.json").read_text())
    document["contract_version"] = "2.0"
    with pytest.raises(ContractError) as info:
        parse("manifest", document, "s3://lake/.dataspoc/manifest.json")
    message = str(info.value)
    assert "s3://lake/.dataspoc/manifest.json" in message and "2.0" in message and "upgrade dataspoc-pipe" in message

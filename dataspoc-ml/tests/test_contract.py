"""The contract examples against the vendored schemas and ML's Pydantic models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from dataspoc_ml.contract.models import MODELS
from lake import VENDORED, schema_validator

CONTRACT = Path(__file__).resolve().parents[2] / "contract"
VALID = sorted((CONTRACT / "examples" / "valid").glob("*.json"))
INVALID = sorted((CONTRACT / "examples" / "invalid").glob("*.json"))


def kind_of(path: Path) -> str:
    return path.name.split(".")[0]


def test_examples_exist():
    assert VALID and INVALID
    assert {kind_of(p) for p in VALID} >= set(MODELS)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_example_passes(path):
    document = json.loads(path.read_text())
    errors = list(schema_validator(kind_of(path)).iter_errors(document))
    assert not errors, [e.message for e in errors]
    if kind_of(path) in MODELS:
        MODELS[kind_of(path)].model_validate(document)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_example_fails(path):
    document = json.loads(path.read_text())
    assert list(schema_validator(kind_of(path)).iter_errors(document)), "jsonschema accepted it"
    if kind_of(path) in MODELS:
        with pytest.raises(ValidationError):
            MODELS[kind_of(path)].model_validate(document)


def test_vendored_schemas_match_contract():
    source = {p.name: p.read_bytes() for p in (CONTRACT / "schemas").glob("*.json")}
    vendored = {p.name: p.read_bytes() for p in VENDORED.glob("*.json")}
    assert vendored == source, (
        "the vendored schemas drifted from contract/schemas; run "
        "`python3 contract/tools/contract_sync.py sync` (make contract-sync) from the repository root"
    )

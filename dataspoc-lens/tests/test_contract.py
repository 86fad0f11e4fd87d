"""The contract's examples: valid ones pass jsonschema and Lens's models, invalid ones fail both."""

import json
from pathlib import Path

import jsonschema
import pytest

from dataspoc_lens.contract import SCHEMAS
from dataspoc_lens.contract.models import MODELS, parse
from dataspoc_lens.errors import ContractError

CONTRACT = Path(__file__).resolve().parents[2] / "contract"
VALID = sorted((CONTRACT / "examples" / "valid").glob("*.json"))
INVALID = sorted((CONTRACT / "examples" / "invalid").glob("*.json"))


def kind_of(path: Path) -> str:
    return path.name.split(".")[0]


def validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{kind}.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_examples_exist():
    assert VALID and INVALID
    assert {kind_of(p) for p in VALID} >= set(MODELS)


def test_vendored_schemas_match_the_contract():
    source = {p.name: p.read_bytes() for p in (CONTRACT / "schemas").glob("*.json")}
    vendored = {p.name: p.read_bytes() for p in SCHEMAS.glob("*.json")}
    assert vendored.keys() == source.keys(), "run: python3 contract/tools/contract_sync.py sync"
    for name in source:
        assert vendored[name] == source[name], f"{name} drifted; run: python3 contract/tools/contract_sync.py sync"


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_example_passes(path):
    document = json.loads(path.read_text())
    validator(kind_of(path)).validate(document)
    if kind_of(path) in MODELS:
        parse(kind_of(path), document, path.name)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_example_fails(path):
    document = json.loads(path.read_text())
    assert list(validator(kind_of(path)).iter_errors(document)), f"{path.name} passed the schema"
    if kind_of(path) in MODELS:
        with pytest.raises(ContractError) as caught:
            parse(kind_of(path), document, path.name)
        assert path.name in str(caught.value)

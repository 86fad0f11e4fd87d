"""The bucket contract as dataspoc-ml sees it: vendored schemas and Pydantic models."""

from __future__ import annotations

from pathlib import Path

CONTRACT_VERSION = "1.5"
SUPPORTED_MAJOR = 1
SCHEMAS = Path(__file__).parent / "schemas"

MANIFEST_PATH = ".dataspoc/manifest.json"
MANIFEST_LOCK = ".dataspoc/manifest.lock"
MODELS_DIR = "ml/models"
PREDICTIONS_DIR = "ml/predictions"


def model_dir(model: str) -> str:
    return f"{MODELS_DIR}/{model}"


def predictions_location(model: str) -> str:
    return f"{PREDICTIONS_DIR}/{model}"

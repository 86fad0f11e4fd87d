"""The bucket contract as dataspoc-lens sees it: vendored schemas and Pydantic models."""

from __future__ import annotations

from pathlib import Path

CONTRACT_VERSION = "1.0"
SUPPORTED_MAJOR = 1
SCHEMAS = Path(__file__).parent / "schemas"

MANIFEST_PATH = ".dataspoc/manifest.json"
MANIFEST_LOCK = ".dataspoc/manifest.lock"


def features_path(model: str) -> str:
    return f"ml/models/{model}/features.json"


def metrics_path(model: str) -> str:
    return f"ml/models/{model}/metrics.json"

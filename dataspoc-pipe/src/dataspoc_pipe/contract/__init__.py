"""The bucket contract as dataspoc-pipe sees it: vendored schemas and Pydantic models."""

from __future__ import annotations

from pathlib import Path

CONTRACT_VERSION = "1.4"
SUPPORTED_MAJOR = 1
SCHEMAS = Path(__file__).parent / "schemas"

MANIFEST_PATH = ".dataspoc/manifest.json"
MANIFEST_LOCK = ".dataspoc/manifest.lock"


def state_path(pipeline: str) -> str:
    return f".dataspoc/state/{pipeline}/state.json"


def run_lock_path(pipeline: str) -> str:
    """Held by a run of the pipeline, so two runs never read the same new rows."""
    return f".dataspoc/state/{pipeline}/run.lock"


LOGS_DIR = ".dataspoc/logs"


def log_dir(pipeline: str) -> str:
    return f"{LOGS_DIR}/{pipeline}"


def log_path(pipeline: str, run_id: str) -> str:
    return f"{log_dir(pipeline)}/{run_id}.json"

"""Lens's own settings: named buckets, in ~/.dataspoc-lens/config.yaml.

`DATASPOC_LENS_HOME` names another folder. Only names and URIs are kept: a URI holding
credentials (`s3://key:secret@...`) is refused, since credentials come from the environment or
the cloud's IAM. `--bucket NAME` on any command uses the URI saved under NAME.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from dataspoc_lens.errors import UsageError

HOME_ENV = "DATASPOC_LENS_HOME"
NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def home() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".dataspoc-lens").expanduser()


def path() -> Path:
    return home() / "config.yaml"


def load_all() -> dict:
    """The whole settings file ({} when there is none)."""
    import yaml

    file = path()
    if not file.exists():
        return {}
    try:
        document = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{file} is not valid YAML ({getattr(exc, 'problem', exc)}); fix or delete it") from None
    return document if isinstance(document, dict) else {}


def load() -> dict[str, str]:
    """The named buckets."""
    file = path()
    document = load_all()
    buckets = document.get("buckets")
    if buckets is None:
        return {}
    if not isinstance(buckets, dict) or not all(isinstance(v, str) for v in buckets.values()):
        raise UsageError(f"{file}: buckets must map names to URIs")
    return {str(k): v for k, v in buckets.items()}


def save(buckets: dict[str, str]) -> None:
    import yaml

    file = path()
    file.parent.mkdir(parents=True, exist_ok=True)
    document = {**load_all(), "buckets": buckets}  # other settings (cache_max_bytes) are kept
    tmp = file.with_name(f".{file.name}.tmp")
    tmp.write_text("# dataspoc-lens settings: named buckets (no credentials)\n" + yaml.safe_dump(document))
    os.replace(tmp, file)


def check(name: str, uri: str) -> None:
    if not NAME.match(name):
        raise UsageError(f"bucket name '{name}': use a lowercase letter, then lowercase letters, digits or underscores")
    parts = urlsplit(uri)
    if "@" in parts.netloc or parts.password or parts.query:
        raise UsageError(
            "a bucket URI may not hold credentials or query settings; give them through the environment or IAM"
        )


def resolve(value: str) -> str:
    """A bucket name saved with `buckets add`, as its URI; anything else as it is."""
    if NAME.match(value) and not Path(value).exists():
        saved = load()
        if value in saved:
            return saved[value]
    return value

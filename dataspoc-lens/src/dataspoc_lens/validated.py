"""The manifests Lens has validated in full, by SHA-256: a query over the same bytes may skip pydantic.

A query (`catalog.for_query`) that validates a manifest with the contract's models and checks
every path in it (catalog.py) notes the bytes' digest in <home>/validated-manifests.json (the
last 32) when that passes. The digest also covers Lens's version and the size and time of the
modules that validate, so a Lens whose rules changed validates every manifest again. The file
is a speed-up only: when it cannot be read or written, manifests are validated in full.
"""

from __future__ import annotations

import json
import os
from contextlib import suppress
from pathlib import Path

from dataspoc_lens import settings

FILE = "validated-manifests.json"
KEEP = 32
RULES = ("contract/models.py", "catalog.py")  # the modules whose checks a known digest stands for


def digest(raw: bytes) -> str | None:
    """The bytes' digest under the current rules; None when those cannot be told."""
    import hashlib

    from dataspoc_lens import __version__

    here = Path(__file__).parent
    stamps = [__version__]
    try:
        for module in RULES:
            stat = os.stat(here / module)
            stamps.append(f"{module}:{stat.st_size}:{stat.st_mtime_ns}")
    except OSError:
        return None
    return hashlib.sha256("\n".join(stamps).encode() + b"\n" + raw).hexdigest()


def _path() -> Path:
    return settings.home() / FILE


def _known() -> list[str]:
    try:
        found = json.loads(_path().read_bytes())
    except (OSError, ValueError):
        return []
    return [d for d in found if isinstance(d, str)] if isinstance(found, list) else []


def known(raw: bytes) -> bool:
    found = digest(raw)
    return found is not None and found in _known()


def remember(raw: bytes) -> None:
    """Note these bytes as validated. Written whole and moved into place, so a reader never
    sees half a file; two writers at once may lose one digest, which costs one validation."""
    new = digest(raw)
    kept = _known()
    if new is None or new in kept:
        return
    path = _path()
    tmp = path.with_name(f".{FILE}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps([*kept, new][-KEEP:]))
        os.replace(tmp, path)
    except OSError:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)

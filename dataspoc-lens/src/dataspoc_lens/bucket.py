"""The bucket as dataspoc-lens uses it: a local folder (default), s3://, gs://, az:// or memory://, over fsspec.

Every path the rest of the package passes in is relative to the bucket root, e.g.
`raw/shop/orders/dt=2026-11-22/part-....parquet`. Credentials never pass through here: each
backend finds them in the environment or the cloud's IAM.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit, urlunsplit

from dataspoc_lens.errors import BucketUnreachable, ContractError, MissingBackend, StorageError

T = TypeVar("T")

# scheme -> (fsspec protocol, module that provides it, extra to install)
BACKENDS = {
    "s3": ("s3", "s3fs", "s3"),
    "gs": ("gcs", "gcsfs", "gcs"),
    "gcs": ("gcs", "gcsfs", "gcs"),
    "az": ("abfs", "adlfs", "azure"),
    "abfs": ("abfs", "adlfs", "azure"),
    "abfss": ("abfs", "adlfs", "azure"),
    "memory": ("memory", "fsspec", ""),
}
PACKAGE = "dataspoc-lens"
RETRIES = 3


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, (ConnectionError, TimeoutError, socket.timeout))


def retrying(action: Callable[[], T], what: str) -> T:
    """Run a storage call, retrying transient failures with a short backoff."""
    for attempt in range(RETRIES):
        try:
            return action()
        except Exception as exc:  # noqa: BLE001 - classified below
            if not _transient(exc) or attempt == RETRIES - 1:
                raise _as_storage_error(exc, what) from exc
            time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


def _as_storage_error(exc: BaseException, what: str) -> Exception:
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, FileNotFoundError):
        return exc
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if _transient(exc) or "Could not connect" in reason or "Connect timeout" in reason:
        return BucketUnreachable(f"cannot reach the bucket while trying to {what}: {reason}")
    if isinstance(exc, PermissionError):
        return StorageError(f"permission denied while trying to {what}: {reason}")
    return StorageError(f"storage error while trying to {what}: {reason}")


def _without_userinfo(url: str) -> str:
    """The URL with any user:password@ removed, safe to show in a message."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the given URL"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class Bucket:
    """One bucket, addressed by URL. Cheap to create; the backend is imported on first use."""

    def __init__(self, url: str):
        self.url = url.rstrip("/") or url
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt"):
            local = parts.path if scheme == "file" else url
            self.scheme = "file"
            self.root = str(Path(local).expanduser().resolve())
        elif scheme in BACKENDS:
            self.scheme = scheme
            self.root = (parts.netloc + parts.path).rstrip("/")
            if parts.username or parts.password:
                raise StorageError("bucket URLs must not carry credentials; use environment variables or IAM")
        else:
            known = ", ".join(["a local path", "file://"] + [f"{s}://" for s in BACKENDS])
            raise MissingBackend(f"unknown bucket scheme '{scheme}://' in {_without_userinfo(url)}; use {known}")
        self._fs = None

    @property
    def is_local(self) -> bool:
        return self.scheme == "file"

    @property
    def fs(self):
        if self._fs is None:
            self._fs = self._make_fs()
        return self._fs

    def _make_fs(self):
        import fsspec

        if self.is_local:
            return fsspec.filesystem("file", auto_mkdir=True)
        protocol, module, extra = BACKENDS[self.scheme]
        try:
            __import__(module)
        except ImportError:
            raise MissingBackend(
                f"{self.scheme}:// buckets need {module}: pip install '{PACKAGE}[{extra}]'"
            ) from None
        options: dict[str, Any] = {}
        if protocol == "s3":
            options["config_kwargs"] = {"connect_timeout": 5, "read_timeout": 60, "retries": {"max_attempts": 2}}
        return fsspec.filesystem(protocol, **options)

    def full(self, rel: str) -> str:
        """The backend path of a bucket-relative path."""
        rel = rel.strip("/")
        return f"{self.root}/{rel}" if rel else self.root

    def display(self, rel: str = "") -> str:
        base = self.root if self.is_local else f"{self.scheme}://{self.root}"
        rel = rel.strip("/")
        return f"{base}/{rel}" if rel else base

    # reading -----------------------------------------------------------------------------
    def exists(self, rel: str) -> bool:
        return retrying(lambda: self.fs.exists(self.full(rel)), f"check {self.display(rel)}")

    def read_bytes(self, rel: str) -> bytes | None:
        """The object's bytes, or None when it does not exist."""

        def read() -> bytes | None:
            try:
                return self.fs.cat_file(self.full(rel))
            except FileNotFoundError:
                return None

        return retrying(read, f"read {self.display(rel)}")

    def read_json(self, rel: str) -> Any | None:
        data = self.read_bytes(rel)
        if data is None:
            return None
        try:
            return json.loads(data)
        except ValueError as exc:
            # The bucket answered; the document itself is broken: a data problem, not a retryable one.
            raise ContractError(
                f"{self.display(rel)} is not valid JSON ({exc}); restore it from a backup"
            ) from None

    def list(self, rel: str) -> list[str]:
        """Bucket-relative paths of the objects directly under a prefix ([] when absent)."""

        def ls() -> list[str]:
            try:
                entries = self.fs.ls(self.full(rel), detail=False)
            except FileNotFoundError:
                return []
            prefix = self.root.rstrip("/") + "/"
            return sorted(str(e)[len(prefix):] if str(e).startswith(prefix) else str(e) for e in entries)

        return retrying(ls, f"list {self.display(rel)}")

    def check_reachable(self) -> None:
        """Fail fast with a clear error when the bucket itself cannot be used."""
        if self.is_local:
            root = Path(self.root)
            if root.exists() and not root.is_dir():
                raise StorageError(f"bucket {self.root} is a file, not a folder")
            return
        retrying(lambda: self.fs.ls(self.root, detail=False), f"open bucket {self.display()}")

    # writing -----------------------------------------------------------------------------
    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write an object whole: readers see the old content or the new, never a part."""
        if self.is_local:
            target = Path(self.full(rel))
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            return
        # A single PUT is atomic on object stores: the object appears whole or not at all.
        retrying(lambda: self.fs.pipe_file(self.full(rel), data), f"write {self.display(rel)}")

    def write_json(self, rel: str, document: Any) -> None:
        self.write_bytes(rel, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode())

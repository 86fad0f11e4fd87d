"""The bucket: a local folder (default), s3://, gs://, az:// or memory://, over fsspec.

Every path the rest of the package passes in is relative to the bucket root, e.g.
`raw/shop/orders/dt=2026-11-22/part-....parquet`. Credentials never pass through here: each
backend finds them in the environment or the cloud's IAM.

The three packages hold this same file, each with its own names: `make contract-sync` copies
it from the reference package (contract/tools/contract_sync.py) and `make contract-check` fails
when a copy drifts.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from dataspoc_lens import errors
from dataspoc_lens.errors import (
    AccessDenied,
    BucketNotFound,
    BucketUnreachable,
    ContractError,
    LockTimeout,
    MissingBackend,
    StorageError,
    UsageError,
)

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
# Where each cloud's client looks for credentials: named when they are missing or refused.
CREDENTIALS_HELP = {
    "s3": "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE",
    "gcs": "GOOGLE_APPLICATION_CREDENTIALS",
    "abfs": "AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY",
}
# Exceptions the cloud clients raise when no credentials can be found (matched by name, so the
# clients need not be imported to recognise them).
NO_CREDENTIALS = {
    "NoCredentialsError",
    "PartialCredentialsError",
    "DefaultCredentialsError",
    "RefreshError",
    "ClientAuthenticationError",
    "CredentialUnavailableError",
}
# Exceptions that say the store could not be reached at all (Azure's ServiceRequestError: the
# request never reached the service; aiohttp's ClientConnectorError, under gcsfs and adlfs).
# The clients have retried these already.
UNREACHABLE = {"ServiceRequestError", "ClientConnectorError", "EndpointConnectionError", "ConnectTimeoutError"}
PACKAGE = "dataspoc-lens"
LOCK_STALE_SECONDS = 600
LOCK_WRITE_GRACE = 60.0  # seconds a local lock may be seen empty while its writer fills it (no hard links)
RETRIES = 3


def _create_local_lock(target: Path, body: bytes) -> bool:
    """Create the lock file whole, or not at all: the body goes to a file of its own, which is
    then hard-linked to the lock's name (a link fails when the name exists). An exclusive create
    followed by a write leaves an empty lock when the writer is killed between the two, and the
    next writer cannot tell it from one being written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    draft = _aside(target, "draft")
    try:
        draft.write_bytes(body)
        try:
            os.link(draft, target)
            return True
        except FileExistsError:
            return False
        except OSError:  # a disk without hard links: exclusive create, then write
            try:
                fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
            return True
    finally:
        draft.unlink(missing_ok=True)


def _break_local_lock(target: Path, held: bytes) -> None:
    """Remove the stale lock `held`, and only it: it is renamed aside (one writer wins the
    rename) and put back when what was moved is another writer's fresh lock, taken since
    `held` was read, as happens when two writers find the same stale lock at once."""
    aside = _aside(target, "broken")
    try:
        os.rename(target, aside)
    except FileNotFoundError:
        return  # broken, or freed, by someone else
    try:
        if aside.read_bytes() != held:
            try:
                os.link(aside, target)
            except FileExistsError:
                pass  # a third writer holds it now; the one moved aside will find its lock gone
            except OSError:  # a disk without hard links
                if not target.exists():
                    os.rename(aside, target)
    finally:
        aside.unlink(missing_ok=True)


def _aside(target: Path, what: str) -> Path:
    """A dot-file name of this process's own beside the lock; a kill at the wrong moment can
    leave one behind, which no lock or listing of tables reads."""
    return target.with_name(f".{target.name}.{what}.{os.getpid()}.{time.monotonic_ns()}")


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, (ConnectionError, TimeoutError, socket.timeout))


def retrying(action: Callable[[], T], what: str, scheme: str = "") -> T:
    """Run a storage call, retrying transient failures with a short backoff."""
    for attempt in range(RETRIES):
        try:
            return action()
        except Exception as exc:
            if not _transient(exc) or attempt == RETRIES - 1:
                raise _as_storage_error(exc, what, scheme) from exc
            time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


def _as_storage_error(exc: BaseException, what: str, scheme: str = "") -> BaseException:
    if isinstance(exc, (errors.LensError, FileNotFoundError)):
        return exc
    if type(exc).__module__.startswith("pyarrow") and not isinstance(exc, OSError):
        return exc  # ArrowInvalid & co: bad data, not storage; the caller names the file
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    where = CREDENTIALS_HELP.get(BACKENDS.get(scheme, ("",))[0])
    if where:
        settings = f"set {where}, or run where the cloud's IAM grants access"
    else:
        settings = "check the folder's permissions" if scheme in ("", "file") else "check the credentials"
    names = {cls.__name__ for cls in type(exc).__mro__}
    if NO_CREDENTIALS & names:
        return AccessDenied(f"no credentials to {what} ({reason}); {settings}")
    if isinstance(exc, PermissionError) or _refused(exc, reason):
        return AccessDenied(f"access denied while trying to {what} ({reason}); {settings}")
    if _transient(exc) or UNREACHABLE & names or "Could not connect" in reason or "Connect timeout" in reason:
        return BucketUnreachable(f"cannot reach the bucket while trying to {what}: {reason}")
    return StorageError(f"storage error while trying to {what}: {reason}")


def _refused(exc: BaseException, reason: str) -> bool:
    """A store's answer 401 or 403 as its client reports it: Azure's HttpResponseError carries
    `status_code`, gcsfs's HttpError `code`, and gcsfs raises a plain OSError for a 403."""
    status = getattr(exc, "status_code", None) or getattr(exc, "code", None)
    if isinstance(status, int) and status in (401, 403):
        return True
    return type(exc) is OSError and reason.startswith("Forbidden")


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
            if "@" in parts.netloc:
                raise UsageError(
                    f"bucket URLs must not carry credentials ({_without_userinfo(url)}); "
                    "use environment variables or the cloud's IAM"
                )
        else:
            known = ", ".join(["a local path", "file://"] + [f"{s}://" for s in BACKENDS])
            raise MissingBackend(f"unknown bucket scheme '{scheme}://' in {_without_userinfo(url)}; use {known}")
        self._fs = None

    def _retrying(self, action: Callable[[], T], what: str) -> T:
        return retrying(action, what, self.scheme)

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
            raise MissingBackend(f"{self.scheme}:// buckets need {module}: pip install '{PACKAGE}[{extra}]'") from None
        options: dict[str, Any] = {}
        if protocol == "s3":
            options["config_kwargs"] = {"connect_timeout": 5, "read_timeout": 60, "retries": {"max_attempts": 2}}
        try:
            return fsspec.filesystem(protocol, **options)
        except ValueError as exc:
            if protocol != "abfs":
                raise
            # adlfs with neither a connection string nor an account name in the environment
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise AccessDenied(
                f"no credentials to open {self.display()} ({reason}); set {CREDENTIALS_HELP[protocol]}, "
                "or run where the cloud's IAM grants access"
            ) from None

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
        return self._retrying(lambda: self.fs.exists(self.full(rel)), f"check {self.display(rel)}")

    def read_bytes(self, rel: str) -> bytes | None:
        """The object's bytes, or None when it does not exist (a local file is read without
        fsspec, which a local read does not need: a command that only reads stays fast)."""

        def read() -> bytes | None:
            try:
                if self.is_local:
                    return Path(self.full(rel)).read_bytes()
                return self.fs.cat_file(self.full(rel))
            except (FileNotFoundError, NotADirectoryError):
                return None

        return self._retrying(read, f"read {self.display(rel)}")

    def read_json(self, rel: str) -> Any | None:
        data = self.read_bytes(rel)
        if data is None:
            return None
        try:
            return json.loads(data)
        except ValueError as exc:
            raise ContractError(f"{self.display(rel)} is not valid JSON ({exc}); restore it from a backup") from None

    def list(self, rel: str) -> list[str]:
        """Bucket-relative paths of the objects directly under a prefix ([] when absent)."""

        def ls() -> list[str]:
            try:
                entries = self.fs.ls(self.full(rel), detail=False)
            except FileNotFoundError:
                return []
            # Backends differ on a leading slash (memory:// adds one), so compare without it.
            prefix = self.root.strip("/") + "/"
            names = (str(e).lstrip("/") for e in entries)
            return sorted(n[len(prefix) :] if n.startswith(prefix) else n for n in names)

        return self._retrying(ls, f"list {self.display(rel)}")

    def check_reachable(self) -> None:
        """Fail fast with a clear error when the bucket itself cannot be used."""
        if self.is_local:
            root = Path(self.root)
            if root.exists() and not root.is_dir():
                raise BucketNotFound(f"bucket {self.root} is a file, not a folder; name a folder")
            return
        try:
            self._retrying(lambda: self.fs.ls(self.root, detail=False), f"open bucket {self.display()}")
        except FileNotFoundError:
            raise BucketNotFound(
                f"bucket {self.display()} does not exist or these credentials cannot see it; "
                "create it, or check its name and the credentials"
            ) from None

    def check_exists(self) -> None:
        """Fail with a clear error when the bucket is missing: a reader that finds no manifest
        calls it, so a mistyped bucket never looks like an empty one."""
        if self.is_local and not Path(self.root).exists():
            raise BucketNotFound(f"bucket {self.root} does not exist; check the path, or create the bucket first")
        self.check_reachable()

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
        self._retrying(lambda: self.fs.pipe_file(self.full(rel), data), f"write {self.display(rel)}")

    def write_json(self, rel: str, document: Any) -> None:
        self.write_bytes(rel, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode())

    def publish_file(self, local_path: str | Path, rel: str) -> None:
        """Move a finished local file to its final bucket path in one step."""
        if self.is_local:
            target = Path(self.full(rel))
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(local_path, target)
            return
        self._retrying(lambda: self.fs.put_file(str(local_path), self.full(rel)), f"upload {self.display(rel)}")
        Path(local_path).unlink(missing_ok=True)

    @contextmanager
    def staging_dir(self, run_id: str) -> Iterator[Path]:
        """A scratch folder for a run's files before they are published.

        For a local bucket it lives inside the bucket, so publishing is a rename on one disk.
        """
        if self.is_local:
            base = Path(self.root) / ".dataspoc" / "tmp"
            base.mkdir(parents=True, exist_ok=True)
            path = Path(tempfile.mkdtemp(prefix=f"{run_id}-", dir=base))
        else:
            path = Path(tempfile.mkdtemp(prefix=f"dataspoc-{run_id}-"))
        try:
            yield path
        finally:
            import shutil

            shutil.rmtree(path, ignore_errors=True)

    def delete(self, rel: str) -> None:
        def rm() -> None:
            try:
                self.fs.rm_file(self.full(rel))
            except FileNotFoundError:
                pass

        self._retrying(rm, f"delete {self.display(rel)}")

    @contextmanager
    def lock(
        self, rel: str, owner: str, timeout: float | None = None, stale_after: float = LOCK_STALE_SECONDS
    ) -> Iterator[None]:
        """Hold a lock object while a shared document is read-modified-written.

        The lock is taken by a create that fails when the object exists, atomic on every
        store: an exclusive create on a local disk, and each object store's conditional write
        (S3 `If-None-Match: *`, GCS `ifGenerationMatch=0`, Azure `If-None-Match: *`).
        A lock is taken to be left by a crash, and broken, when it is older than `stale_after`
        seconds, or when it names a process of this host that no longer runs.
        """
        body = json.dumps(
            {
                "owner": owner,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "at": datetime.now(timezone.utc).isoformat(),
            }
        ).encode()
        if timeout is None:  # how long to wait for another writer: DATASPOC_LOCK_TIMEOUT seconds, 60 by default
            timeout = float(os.environ.get("DATASPOC_LOCK_TIMEOUT") or 60)
        deadline = time.monotonic() + timeout
        while not self._try_lock(rel, body, stale_after):
            if time.monotonic() > deadline:
                raise LockTimeout(
                    f"{self.display(rel)} is held by another writer; wait for it to finish, "
                    "or delete the lock file if no DataSpoc tool is running"
                )
            time.sleep(0.1)
        try:
            yield
        finally:
            self.delete(rel)

    def _try_lock(self, rel: str, body: bytes, stale_after: float) -> bool:
        """Take the lock if free; a stale lock is broken and the lock taken in the same try."""
        if self._create_lock(rel, body, stale_after):
            return True
        held = self.read_bytes(rel)
        if held == body:
            # Our own create: its answer was lost and the client sent it again, which the store
            # refused because the first one had made the object.
            return True
        return self._break_if_stale(rel, held, stale_after) and self._create_lock(rel, body, stale_after)

    def _break_if_stale(self, rel: str, held: bytes | None, stale_after: float) -> bool:
        """True when the lock may be tried again at once: it is gone, or was stale and is broken."""
        if held is None:
            return True
        if not self._lock_is_stale(rel, held, stale_after):
            return False
        if self.is_local:
            _break_local_lock(Path(self.full(rel)), held)
        else:
            self.delete(rel)
        return True

    def _create_lock(self, rel: str, body: bytes, stale_after: float) -> bool:
        if self.is_local:
            return _create_local_lock(Path(self.full(rel)), body)

        # fsspec's mode="create" is the store's conditional write: s3fs sends If-None-Match: *,
        # gcsfs ifGenerationMatch=0, adlfs If-None-Match: * (upload_blob(overwrite=False)); each
        # raises FileExistsError when another writer's lock is there.
        def create() -> bool:
            try:
                self.fs.pipe_file(self.full(rel), body, mode="create")
                return True
            except FileExistsError:
                return False

        return self._retrying(create, f"take the lock {self.display(rel)}")

    def _lock_is_stale(self, rel: str, held: bytes, stale_after: float) -> bool:
        """True when the lock `held` is older than `stale_after` seconds or names a process of
        this host that has ended."""
        try:
            existing = json.loads(held)
        except ValueError:
            existing = None
        if not isinstance(existing, dict):
            if not self.is_local:
                return True  # object stores write whole objects: this one is corrupt
            # Whole too, unless the disk cannot link and the lock is being written this instant;
            # or it was cut short by a crash under an older version. A minute covers a slow write.
            try:
                return time.time() - Path(self.full(rel)).stat().st_mtime > min(stale_after, LOCK_WRITE_GRACE)
            except FileNotFoundError:
                return False
        if existing.get("host") == socket.gethostname() and isinstance(existing.get("pid"), int):
            try:
                os.kill(existing["pid"], 0)
            except ProcessLookupError:
                return True
            except OSError:
                pass  # it exists, under another user
        try:
            at = datetime.fromisoformat(str(existing.get("at")))
        except ValueError:
            at = datetime.fromtimestamp(0, timezone.utc)
        return (datetime.now(timezone.utc) - at).total_seconds() > stale_after

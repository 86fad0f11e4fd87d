"""A filesystem DuckDB can read a bucket through and never write: every write is refused.

DuckDB reaches remote buckets through a registered fsspec filesystem; Lens registers this
wrapper instead of the bucket's own, so a `COPY ... TO 's3://...'` fails in the filesystem
itself. Local buckets use it too when `--write` lets COPY write elsewhere: then the bucket's
files are read as `lensro:///path`, and only paths under the bucket's root can be opened.
"""

from __future__ import annotations

import posixpath
from typing import Any

from fsspec import AbstractFileSystem

LOCAL_PROTOCOL = "lensro"
WRITE_MODES = set("wax+")


class ReadOnly(AbstractFileSystem):
    cachable = False  # one per session, never shared through fsspec's instance cache

    def __init__(self, fs: Any, protocol: str | tuple[str, ...], root: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.fs = fs
        self.protocol = protocol
        self.roots = [root.rstrip("/")]  # a query over several buckets of one kind adds theirs

    def _inner(self, path: str) -> str:
        """The wrapped filesystem's path, refused when it leaves the bucket's root."""
        text = str(path)
        for protocol in (self.protocol,) if isinstance(self.protocol, str) else self.protocol:
            if text.startswith(f"{protocol}://"):
                text = text[len(protocol) + 3 :]
                break
        for root in self.roots:
            # remote roots have no leading slash, but fsspec may add one (memory://)
            if root.startswith("/"):
                normal = posixpath.normpath("/" + text.lstrip("/"))
            else:
                normal = posixpath.normpath(text.lstrip("/"))
            if normal == root or normal.startswith(root + "/"):
                return normal
        raise PermissionError(f"{path} is outside the bucket")

    def _strip_protocol(self, path: Any) -> str:
        return self._inner(path) if isinstance(path, str) else path

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if WRITE_MODES & set(mode):
            raise PermissionError(f"dataspoc-lens reads the bucket only; it cannot write {path}")
        return self.fs.open(self._inner(path), mode, **kwargs)

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> Any:
        return self.fs.ls(self._inner(path), detail=detail, **kwargs)

    def info(self, path: str, **kwargs: Any) -> Any:
        return self.fs.info(self._inner(path), **kwargs)

    def modified(self, path: str) -> Any:
        return self.fs.modified(self._inner(path))

    def size(self, path: str) -> Any:
        return self.fs.size(self._inner(path))

    def exists(self, path: str, **kwargs: Any) -> bool:
        try:
            return bool(self.fs.exists(self._inner(path), **kwargs))
        except PermissionError:
            return False

    def glob(self, path: str, **kwargs: Any) -> Any:
        return self.fs.glob(self._inner(path), **kwargs)

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("dataspoc-lens reads the bucket only; it cannot change it")

    rm = rm_file = _rm = mv = cp_file = copy = put = put_file = pipe = pipe_file = _refuse
    mkdir = makedirs = rmdir = touch = _refuse

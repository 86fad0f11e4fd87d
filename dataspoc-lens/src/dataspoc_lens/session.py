"""A Session: the catalog, one DuckDB connection, and the tables mounted on it so far.

`query`, the shell, the cache and `inspect` share it. Tables are mounted when a statement
first names them (references.py), so a query over one table of a large bucket reads one
table's footers. Remote buckets are reached through fsspec (`register_filesystem`), so no
DuckDB extension is ever downloaded. The connection is read-only by construction (safety.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from dataspoc_lens import execute, safety
from dataspoc_lens.catalog import Catalog
from dataspoc_lens.errors import UsageError
from dataspoc_lens.references import referenced
from dataspoc_lens.views import create_schemas, mount

if TYPE_CHECKING:
    import duckdb


class Queries:
    """What `query`, the shell and `output.run` need of a connection: `con`, `prepare(sql)`
    (refuse what a read-only query may not do, mount what it reads), run and stream."""

    con: duckdb.DuckDBPyConnection
    local_roots: tuple[Path, ...] = ()  # the local buckets' folders: no result file may land in them

    def prepare(self, sql: str | None) -> None:
        raise NotImplementedError

    def run(self, sql: str, max_rows: int | None) -> tuple[execute.Result | None, bool]:
        self.prepare(sql)
        return execute.run(self.con, sql, max_rows)

    def stream(self, sql: str, max_rows: int | None, arrow: bool = False) -> execute.Stream | None:
        self.prepare(sql)
        return execute.stream(self.con, sql, max_rows, arrow)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Queries:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Session(Queries):
    """`write_dir`: a local folder COPY may write into (`--write`); None: read-only."""

    def __init__(
        self,
        catalog: Catalog,
        extension_directory: str | None = None,
        write_dir: Path | None = None,
        locked: bool = True,
    ):
        self.catalog = catalog
        self.write = write_dir is not None
        self.local_roots = _local_roots([catalog])
        self.cached = _cached(catalog)
        self.con, self.path_of = open_connection(catalog, extension_directory, write_dir, locked, self.cached)
        self.mounted: set[str] = set()

    def prepare(self, sql: str | None) -> None:
        """Refuse what a read-only query may not do, then mount what `sql` names (everything
        when that is uncertain, or for None)."""
        if sql is not None:
            safety.check(self.con, sql, self.write)
        needed = referenced(self.con, self.catalog, sql) if sql is not None else None
        before = set(self.mounted)
        mount(self.con, self.catalog, needed, self.mounted, self.path_of)
        if self.cached:
            from dataspoc_lens import cache

            used = {t.qualified for t in self.catalog.tables if t.qualified in self.mounted - before}
            cache.touch(self.catalog.bucket, used)


def _local_roots(catalogs: list[Catalog]) -> tuple[Path, ...]:
    return tuple(Path(c.bucket.root) for c in catalogs if c.bucket.is_local)


def _cached(catalog: Catalog) -> dict[str, str]:
    """Local copies of a remote bucket's fresh cached tables (cache.py), by bucket path."""
    if catalog.bucket.is_local or not catalog.tables:
        return {}
    from dataspoc_lens import cache

    return cache.local_files(catalog.bucket, catalog)


@dataclass
class Access:
    """What a connection may read of one bucket, and how it names the bucket's files."""

    path_of: Callable[[str], str]
    directories: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


def _connect(extension_directory: str | None) -> duckdb.DuckDBPyConnection:
    import duckdb

    config: dict[str, Any] = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    if extension_directory:
        config["extension_directory"] = extension_directory
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET enable_progress_bar=false")
    return con


def _access(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    write_dir: Path | None,
    cached: dict[str, str] | None,
    registered: dict[str, Any],
) -> Access:
    """Register what DuckDB needs to read the bucket (read-only), and say what it may read.
    `registered`: the read-only filesystems registered so far, by protocol."""
    bucket = catalog.bucket
    files = [f.path for t in catalog.tables for f in t.files]

    def register(key: str, fs: Any, protocol: Any, root: str) -> None:
        from dataspoc_lens.readonly_fs import ReadOnly  # fsspec: not needed for a local bucket

        if key in registered:
            registered[key].roots.append(root.rstrip("/"))
        else:
            registered[key] = ReadOnly(fs, protocol, root)
            con.register_filesystem(registered[key])

    if not bucket.is_local:
        copies = cached or {}
        if any(f not in copies for f in files):
            register(bucket.scheme, bucket.fs, bucket.fs.protocol, bucket.root)

        def remote_path(rel: str) -> str:
            return copies.get(rel) or bucket.display(rel)

        # DuckDB names a globbed file by the filesystem's first protocol (abfs:// for an az://
        # bucket), and fsspec may hand it the paths with a leading slash (memory://)
        root = bucket.root.lstrip("/")
        return Access(
            remote_path,
            [f"{scheme}://{slash}{root}/" for scheme in _schemes(bucket.scheme) for slash in ("", "/")],
            list(copies.values()),
        )
    if write_dir is not None:
        from dataspoc_lens.readonly_fs import LOCAL_PROTOCOL

        # the bucket through the read-only layer, so that no path COPY may write reaches it
        register(LOCAL_PROTOCOL, _local_fs(), LOCAL_PROTOCOL, bucket.root)
        return Access(lambda rel: f"{LOCAL_PROTOCOL}://{bucket.full(rel)}", [f"{LOCAL_PROTOCOL}://{bucket.root}/"])
    return Access(bucket.full, [], [bucket.full(f) for f in files])


def _schemes(scheme: str) -> list[str]:
    """Every URL scheme that names the same backend as `scheme` (az, abfs, abfss), its fsspec
    protocol first."""
    from dataspoc_lens.bucket import BACKENDS

    protocol = BACKENDS[scheme][0]
    return [protocol, *sorted(s for s, (p, _, _) in BACKENDS.items() if p == protocol and s != protocol)]


def _write_folder(catalogs: list[Catalog], write_dir: Path) -> str:
    target = write_dir.resolve()
    for catalog in catalogs:
        bucket = catalog.bucket
        if bucket.is_local and (Path(bucket.root) == target or target in Path(bucket.root).parents):
            raise UsageError(
                f"--write lets COPY write under {target}, which holds the bucket; name another folder with --write-dir"
            )
        if bucket.is_local and Path(bucket.root) in target.parents:
            raise UsageError(f"--write-dir {target} is inside the bucket; name a folder outside it")
    return str(target) + "/"


def open_connection(
    catalog: Catalog,
    extension_directory: str | None = None,
    write_dir: Path | None = None,
    locked: bool = True,
    cached: dict[str, str] | None = None,
) -> tuple[duckdb.DuckDBPyConnection, Callable[[str], str]]:
    """An in-memory DuckDB with a database per layer and a schema per namespace, no views yet,
    allowed to read the bucket's files and nothing else (and to write into `write_dir`); with
    how it names a bucket file."""
    con = _connect(extension_directory)
    access = _access(con, catalog, write_dir, cached, {})
    if write_dir is not None:
        access.directories.append(_write_folder([catalog], write_dir))
    create_schemas(con, catalog)
    if locked:
        safety.lock(con, access.directories, access.paths)
    return con, access.path_of


class Several(Queries):
    """A query over several buckets, each a database named after it: `finance.gold.revenue`
    (a table name shared by two namespaces of one layer becomes `<namespace>_<name>`). Every
    table is mounted up front; the same read-only rules hold."""

    RESERVED: ClassVar[set[str]] = {"raw", "curated", "gold", "ml", "main", "memory", "system", "temp"}

    def __init__(self, named: dict[str, Catalog], write_dir: Path | None = None):
        from dataspoc_lens.views import mount_as

        bad = sorted(set(named) & self.RESERVED)
        if bad:
            raise UsageError(
                f"a bucket may not be named '{bad[0]}' in a query over several buckets; save it under another name"
            )
        self.write = write_dir is not None
        self.local_roots = _local_roots(list(named.values()))
        self.con = _connect(None)
        registered: dict[str, Any] = {}
        directories: list[str] = []
        paths: list[str] = []
        for name, catalog in named.items():
            access = _access(self.con, catalog, write_dir, _cached(catalog), registered)
            directories += access.directories
            paths += access.paths
            mount_as(self.con, catalog, name, access.path_of)
        if write_dir is not None:
            directories.append(_write_folder(list(named.values()), write_dir))
        safety.lock(self.con, directories, paths)

    def prepare(self, sql: str | None) -> None:
        if sql is not None:
            safety.check(self.con, sql, self.write)


def _local_fs() -> Any:
    from fsspec.implementations.local import LocalFileSystem

    return LocalFileSystem()


def connect(
    catalog: Catalog, extension_directory: str | None = None, sql: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the catalog's tables mounted as views: every table, or with
    `sql` only the tables it references (all of them when that cannot be known for sure)."""
    session = Session(catalog, extension_directory)
    session.prepare(sql)
    return session.con

"""The bucket's tables, as its manifest lists them, and how a table reference resolves.

Lens never lists the bucket: the manifest is the catalog. A reference is `layer.namespace.name`,
`namespace.name` or a bare `name`; the short forms work when exactly one table matches.

`load` validates the manifest with the contract's pydantic models. `for_query` gives a query
the same tables as plain objects (tables.py) when the manifest's bytes are ones a query
validated that way before (validated.py); the path checks below run on both.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from dataspoc_lens.bucket import Bucket
from dataspoc_lens.contract import MANIFEST_PATH
from dataspoc_lens.errors import AmbiguousTable, ContractError, UnknownTable

if TYPE_CHECKING:
    from dataspoc_lens.contract.models import Manifest, Table
    from dataspoc_lens.tables import Mountable

# The contract's pattern for a table's folder (contract/models.py LOCATION_PATTERN).
LOCATION = re.compile(r"(raw|curated|gold|ml)/[a-z][a-z0-9_]{0,62}/[a-z][a-z0-9_]{0,62}")

T = TypeVar("T", bound="Mountable", covariant=True)


@dataclass
class Catalog(Generic[T]):
    """The bucket's tables: the contract's `Table` models (`load`), or plain tables a query
    reads (`for_query`); `rows` and `schema` need the models."""

    bucket: Bucket
    tables: Sequence[T] = field(default_factory=list)
    found: bool = True  # False when the bucket has no manifest yet

    @property
    def aliases(self) -> dict[str, T]:
        """Bare name -> table, for the names that only one table in the bucket has."""
        counts = Counter(t.name for t in self.tables)
        return {t.name: t for t in self.tables if counts[t.name] == 1}

    def resolve(self, ref: str) -> T:
        parts = ref.strip().split(".")
        if not 1 <= len(parts) <= 3 or not all(parts):
            raise UnknownTable(f"'{ref}' is not a table reference; use layer.namespace.name, e.g. raw.shop.orders")
        width = len(parts)
        matches = [t for t in self.tables if t.qualified.split(".")[-width:] == parts]
        if len(matches) == 1:
            return matches[0]
        if matches:
            names = ", ".join(sorted(t.qualified for t in matches))
            raise AmbiguousTable(f"table '{ref}' is ambiguous: it could be {names}; use the full name")
        raise UnknownTable(
            f"unknown table '{ref}' in {self.bucket.display()}; run `dataspoc-lens catalog` to list tables"
        )

    def rows(self: Catalog[Table]) -> list[dict[str, Any]]:
        """One summary per table, for `dataspoc-lens catalog`."""
        aliases = self.aliases
        return [
            {
                "name": t.qualified,
                "layer": t.layer,
                "namespace": t.namespace,
                "table": t.name,
                "alias": t.name if aliases.get(t.name) is t else None,
                "rows": t.row_count,
                "files": t.file_count,
                "partitions": len(t.partitions),
                "columns": len(t.columns),
                "bytes": t.bytes,
                "last_run_id": t.last_run_id,
                "last_run_at": t.last_run_at.isoformat(),
                "writer": t.writer,
                "score": t.quality.score if t.quality else None,
            }
            for t in sorted(self.tables, key=lambda t: t.qualified)
        ]

    def schema(self: Catalog[Table], ref: str) -> dict[str, Any]:
        """One table in full, for `dataspoc-lens schema`."""
        t = self.resolve(ref)
        names = {c.name for c in t.columns}
        return {
            "name": t.qualified,
            "location": t.location,
            "columns": [
                {"name": c.name, "type": c.type, "nullable": c.nullable, "partition": c.name in t.partition_by}
                for c in t.columns
            ]
            + [
                {"name": p, "type": "date32[day]" if p == "dt" else "string", "nullable": False, "partition": True}
                for p in t.partition_by
                if p not in names
            ],
            "partition_by": t.partition_by,
            "primary_key": t.primary_key,
            "rows": t.row_count,
            "files": t.file_count,
            "bytes": t.bytes,
            "partitions": [{"values": p.values, "files": len(p.files), "rows": p.rows} for p in t.partitions],
            "last_run_id": t.last_run_id,
            "last_run_at": t.last_run_at.isoformat(),
            "writer": t.writer,
            "derived_from": t.derived_from,
            "prediction": t.prediction.model_dump(mode="json") if t.prediction else None,
            "quality": t.quality.model_dump(mode="json") if t.quality else None,
            "schema_history": [
                {
                    "version": h.version,
                    "run_id": h.run_id,
                    "at": h.at.isoformat(),
                    "change": h.change,
                    "columns": len(h.columns),
                }
                for h in t.schema_history
            ],
        }


def _unique(tables: list[Table], where: str) -> list[Table]:
    seen: dict[str, Table] = {}
    for table in tables:
        if table.qualified in seen:
            raise ContractError(
                f"{where}: folders {seen[table.qualified].location} and {table.location} both read as table "
                f"{table.qualified}; rename one"
            )
        seen[table.qualified] = table
    return tables


def _check_paths(table: Mountable, where: str) -> None:
    """The table's folder must be the one its names give, and every file the manifest lists
    must lie inside it."""
    if not LOCATION.fullmatch(table.location) or table.location != f"{table.layer}/{table.namespace}/{table.name}":
        raise ContractError(
            f"{where}: table {table.qualified} has location {table.location}; "
            f"expected {table.layer}/{table.namespace}/{table.name}"
        )
    for data_file in table.files:
        segments = data_file.path.split("/")
        if not data_file.path.startswith(table.location + "/") or ".." in segments or "" in segments:
            raise ContractError(f"{where}: file {data_file.path} lies outside table {table.qualified}'s folder")


def load(bucket: Bucket) -> Catalog[Table]:
    """Read and validate the bucket's manifest. A bucket without one, or with a manifest
    written by dataspoc-pipe 0.2.0, has its tables found by the contract's layout
    (discovery.py), and stderr says so once."""
    return _load(bucket, bucket.read_bytes(MANIFEST_PATH))


def for_query(bucket: Bucket) -> Catalog[Any]:
    """The catalog a query mounts: from a manifest whose bytes a query validated before, plain
    tables read by `json` alone; from any other, or at any doubt, `load`'s (and a manifest
    that passes is noted as validated)."""
    from dataspoc_lens import tables, validated

    raw = bucket.read_bytes(MANIFEST_PATH)
    if raw is not None and validated.known(raw):
        found = tables.read(raw)
        if found is not None:
            try:
                return _checked(bucket, found, bucket.display(MANIFEST_PATH))
            except ContractError:
                pass  # not what was validated: the full path names the problem
    return _load(bucket, raw, remember=True)


def summaries(bucket: Bucket) -> tuple[list[dict[str, Any]], bool]:
    """`dataspoc-lens catalog`'s rows, and whether the bucket has tables: from a manifest whose
    bytes were validated before, straight from its JSON (`Catalog.rows`'s values exactly); from
    any other, by `load`, noting it as validated when it passes."""
    from dataspoc_lens import validated

    raw = bucket.read_bytes(MANIFEST_PATH)
    if raw is not None and validated.known(raw):
        found = _plain_summaries(raw)
        if found is not None:
            return found, bool(found)
    catalog = _load(bucket, raw, remember=True)
    return catalog.rows(), bool(catalog.tables)


def _plain_summaries(raw: bytes) -> list[dict[str, Any]] | None:
    import json
    from datetime import datetime

    try:
        entries = json.loads(raw)["tables"]
        counts = Counter(e["name"] for e in entries)
        rows = []
        for e in entries:
            quality = e.get("quality")
            rows.append(
                {
                    "name": f"{e['layer']}.{e['namespace']}.{e['name']}",
                    "layer": e["layer"],
                    "namespace": e["namespace"],
                    "table": e["name"],
                    "alias": e["name"] if counts[e["name"]] == 1 else None,
                    "rows": e["row_count"],
                    "files": e["file_count"],
                    "partitions": len(e["partitions"]),
                    "columns": len(e["columns"]),
                    "bytes": e["bytes"],
                    "last_run_id": e["last_run_id"],
                    "last_run_at": datetime.fromisoformat(e["last_run_at"].replace("Z", "+00:00")).isoformat(),
                    "writer": e["writer"],
                    "score": float(quality["score"]) if quality else None,  # the model's float
                }
            )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # not the shape validation saw: the full path
    return sorted(rows, key=lambda r: r["name"])


def _load(bucket: Bucket, raw: bytes | None, remember: bool = False) -> Catalog[Table]:
    from dataspoc_lens import discovery
    from dataspoc_lens.console import warn
    from dataspoc_lens.contract.models import parse

    where = bucket.display(MANIFEST_PATH)
    if raw is not None and (manifest := _fast(raw)) is not None:  # the common case, parsed in one pass
        catalog = _checked(bucket, manifest.tables, where)
        if remember:
            from dataspoc_lens import validated

            validated.remember(raw)
        return catalog
    document = bucket.read_json(MANIFEST_PATH) if raw is not None else None
    if document is None:
        bucket.check_exists()
        found = discovery.from_layout(bucket)
        if found:
            warn(f"{bucket.display()} has no manifest: {len(found)} tables found by the bucket's layout")
        return Catalog(bucket, _unique(found, where), found=bool(found))
    if discovery.legacy_020(document):
        warn(f"{where} is in dataspoc-pipe 0.2 style (no file list): tables found by the bucket's layout")
        return Catalog(bucket, _unique(discovery.from_legacy(bucket, document), where))
    return _checked(bucket, parse("manifest", document, where).tables, where)


def _fast(raw: bytes) -> Manifest | None:
    """The manifest parsed and validated straight from its bytes by pydantic-core (measured: a
    1,000-table manifest in half the time of json.loads then validation); None for anything
    else, which the slow path reads and names the problem of."""
    from pydantic import ValidationError

    from dataspoc_lens.contract import SUPPORTED_MAJOR
    from dataspoc_lens.contract.models import Manifest

    try:
        manifest = Manifest.model_validate_json(raw)
    except (ValidationError, ValueError):
        return None
    return manifest if manifest.contract_version.split(".")[0] == str(SUPPORTED_MAJOR) else None


M = TypeVar("M", bound="Mountable")


def _checked(bucket: Bucket, tables: list[M], where: str) -> Catalog[M]:
    seen: set[str] = set()
    for table in tables:
        _check_paths(table, where)
        if table.qualified in seen:
            raise ContractError(f"{where} lists table {table.qualified} twice; the manifest is corrupt")
        seen.add(table.qualified)
    return Catalog(bucket, list(tables))

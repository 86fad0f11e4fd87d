"""Build small buckets the contract's way, without dataspoc-pipe.

Real Parquet files written with pyarrow, and a manifest.json validated against the vendored
schema, on a local folder or on S3 (moto) through s3fs.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq

SCHEMAS = Path(__file__).resolve().parents[1] / "src" / "dataspoc_lens" / "contract" / "schemas"
RUN_ID = "20261122T030000.000Z-a1b2c3"
RUN_AT = "2026-11-22T03:00:04+00:00"


def schema(kind: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{kind}.schema.json").read_text())


class Lake:
    """A bucket under construction. `url` is what to pass to --bucket."""

    def __init__(self, url: str, fs, root: str):
        self.url, self.fs, self.root = url, fs, root.rstrip("/")
        self.tables: list[dict[str, Any]] = []

    @classmethod
    def local(cls, path: Path) -> Lake:
        import fsspec

        path.mkdir(parents=True, exist_ok=True)
        return cls(str(path), fsspec.filesystem("file", auto_mkdir=True), str(path))

    @classmethod
    def s3(cls, bucket: str) -> Lake:
        import s3fs

        return cls(f"s3://{bucket}", s3fs.S3FileSystem(skip_instance_cache=True), bucket)

    def put(self, rel: str, data: bytes) -> None:
        self.fs.pipe_file(f"{self.root}/{rel}", data)

    def parquet(self, rel: str, table: pa.Table) -> int:
        sink = io.BytesIO()
        pq.write_table(table, sink)
        self.put(rel, sink.getvalue())
        return len(sink.getvalue())

    def add(
        self,
        layer: str,
        namespace: str,
        name: str,
        parts: dict[str | None, pa.Table],
        *,
        schema: pa.Schema | None = None,
        writer: str = "dataspoc-pipe/0.1.0",
        run_id: str = RUN_ID,
    ) -> dict[str, Any]:
        """A table: parts maps a dt value (None when unpartitioned) to its rows; {} for no files."""
        location = f"{layer}/{namespace}/{name}"
        partitioned = layer in ("raw", "curated") or any(k is not None for k in parts)
        partitions = []
        for dt, data in parts.items():
            folder = f"{location}/dt={dt}" if dt is not None else location
            path = f"{folder}/part-{run_id}-00000.parquet"
            size = self.parquet(path, data)
            partitions.append(
                {
                    "values": {"dt": dt} if dt is not None else {},
                    "files": [{"path": path, "rows": data.num_rows, "bytes": size, "run_id": run_id}],
                    "rows": data.num_rows,
                    "bytes": size,
                }
            )
        arrow_schema = schema if schema is not None else next(iter(parts.values())).schema
        columns = [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in arrow_schema]
        entry = {
            "layer": layer,
            "namespace": namespace,
            "name": name,
            "location": location,
            "format": "parquet",
            "partition_by": ["dt"] if partitioned else [],
            "partitions": partitions,
            "columns": columns,
            "row_count": sum(p["rows"] for p in partitions),
            "file_count": sum(len(p["files"]) for p in partitions),
            "bytes": sum(p["bytes"] for p in partitions),
            "last_run_id": run_id,
            "last_run_at": RUN_AT,
            "writer": writer,
            "schema_history": [{"version": 1, "run_id": run_id, "at": RUN_AT, "change": "created", "columns": columns}],
        }
        self.tables = [t for t in self.tables if t["location"] != location] + [entry]
        return entry

    def manifest(self, contract_version: str = "1.0", validate: bool = True) -> dict[str, Any]:
        document = {
            "contract_version": contract_version,
            "updated_at": datetime.now(timezone.utc).isoformat(),
            "tables": self.tables,
        }
        if validate:
            jsonschema.Draft202012Validator(schema("manifest")).validate(document)
        self.put(".dataspoc/manifest.json", json.dumps(document, indent=2).encode())
        return document


def orders(n: int = 3, start: int = 1) -> pa.Table:
    return pa.table(
        {
            "order_id": pa.array(range(start, start + n), pa.int64()),
            "customer_id": pa.array([100 + i % 2 for i in range(n)], pa.int64()),
            "amount": pa.array([10.5 * (i + 1) for i in range(n)], pa.float64()),
        }
    )


def shop(lake: Lake) -> Lake:
    """The standard test bucket: raw.shop.orders (2 days), raw.crm.customers, gold.sales.orders
    (so `orders` is ambiguous), and an empty curated.crm.events."""
    lake.add("raw", "shop", "orders", {"2026-11-21": orders(3, 1), "2026-11-22": orders(2, 4)})
    lake.add(
        "raw",
        "crm",
        "customers",
        {"2026-11-22": pa.table({"customer_id": pa.array([100, 101], pa.int64()), "country": ["BR", "PT"]})},
    )
    lake.add(
        "gold",
        "sales",
        "orders",
        {None: pa.table({"day": pa.array([1, 2], pa.int32()), "total": pa.array([31.5, 94.5])})},
        writer="dataspoc-lens/0.1.0",
    )
    lake.add(
        "curated",
        "crm",
        "events",
        {},
        schema=pa.schema([("event_id", pa.int64()), ("at", pa.timestamp("us")), ("kind", pa.string())]),
    )
    lake.manifest()
    return lake


STATUSES = ["paid", "paid", "paid", "paid", "pending", "pending", "pending", "refunded", "refunded", "cancelled"]


def varied(n: int, start: int = 0, copies: int = 0) -> pa.Table:
    """`n` rows with a column of every kind `inspect` profiles, nulls in most of them, then
    `copies` exact copies of the first rows (duplicate rows). Deterministic."""
    from datetime import date, timedelta
    from decimal import Decimal

    ids = list(range(start, start + n))
    ids += ids[:copies]
    base = datetime(2026, 1, 1)
    return pa.table(
        {
            "order_id": pa.array(ids, pa.int64()),
            "customer_id": pa.array([None if i % 11 == 0 else 100 + (i * 7) % 37 for i in ids], pa.int64()),
            "amount": pa.array([None if i % 13 == 0 else (i * 37) % 1000 / 8 for i in ids], pa.float64()),
            "price": pa.array([Decimal(i % 500) / 4 for i in ids], pa.decimal128(10, 2)),
            "quantity": pa.array([1 + (i * 5) % 6 for i in ids], pa.int32()),
            "status": pa.array([None if i % 17 == 0 else STATUSES[(i * 3) % 10] for i in ids], pa.string()),
            "email": pa.array([f"user{i % 700}@example.com" for i in ids], pa.string()),
            "note": pa.array([f"note {i % 9}" if i % 50 == 0 else None for i in ids], pa.string()),
            "created_at": pa.array([base + timedelta(minutes=(i * 97) % 100_000) for i in ids], pa.timestamp("us")),
            "shipped_on": pa.array(
                [None if i % 7 == 0 else date(2026, 2, 1) + timedelta(days=i % 90) for i in ids], pa.date32()
            ),
            "paid": pa.array([None if i % 19 == 0 else i % 3 != 0 for i in ids], pa.bool_()),
            "tags": pa.array([["a", "b"][: i % 3] for i in ids], pa.list_(pa.string())),
        }
    )


def varied_lake(lake: Lake) -> Lake:
    """raw.shop.sales: two days of varied() rows, 25 of them duplicated within the second day."""
    lake.add("raw", "shop", "sales", {"2026-11-21": varied(1500), "2026-11-22": varied(1200, 1500, copies=25)})
    lake.manifest()
    return lake

"""Build a small contract-conformant bucket for tests: real Parquet files and a manifest.

Deterministic synthetic customers with a learnable target (churned) and a learnable numeric
column (lifetime_value). Written through fsspec, so the same code fills a local folder or a
moto S3 bucket. Nothing here depends on dataspoc-pipe.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

RUN_ID = "20261122T030000.000Z-a1b2c3"
RUN_AT = "2026-11-22T03:00:04Z"
COUNTRIES = ["br", "us", "de", "fr", None]


def customers(rows: int, seed: int = 7) -> pa.Table:
    rnd = random.Random(seed)
    data: dict[str, list[Any]] = {
        k: []
        for k in (
            "customer_id",
            "age",
            "country",
            "total_spent",
            "is_member",
            "signup_date",
            "churned",
            "lifetime_value",
        )
    }
    for i in range(rows):
        age = rnd.randint(18, 80)
        country = rnd.choice(COUNTRIES)
        spent = round(rnd.uniform(0, 1000), 2)
        member = rnd.random() < 0.5
        churn = (age < 40 and spent < 500) or (country == "br" and not member)
        if rnd.random() < 0.05:
            churn = not churn
        data["customer_id"].append(i + 1)
        data["age"].append(None if i % 37 == 0 else age)
        data["country"].append(country)
        data["total_spent"].append(None if i % 41 == 0 else spent)
        data["is_member"].append(member)
        data["signup_date"].append(rnd.randint(18000, 20000))
        data["churned"].append(None if i % 53 == 0 else churn)
        data["lifetime_value"].append(round(3.0 * spent + 10 * age + (200 if member else 0) + rnd.gauss(0, 30), 2))
    schema = pa.schema(
        [
            ("customer_id", pa.int64()),
            ("age", pa.int64()),
            ("country", pa.string()),
            ("total_spent", pa.float64()),
            ("is_member", pa.bool_()),
            ("signup_date", pa.date32()),
            ("churned", pa.bool_()),
            ("lifetime_value", pa.float64()),
        ]
    )
    return pa.table(data, schema=schema)


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def columns_of(schema: pa.Schema) -> list[dict[str, Any]]:
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]


def table_entry(
    layer: str,
    namespace: str,
    name: str,
    partitions: list[tuple[dict[str, str], str, pa.Table, int]],
    schema: pa.Schema,
) -> dict[str, Any]:
    parts = []
    for values, path, data, size in partitions:
        parts.append(
            {
                "values": values,
                "files": [{"path": path, "rows": data.num_rows, "bytes": size, "run_id": RUN_ID}],
                "rows": data.num_rows,
                "bytes": size,
            }
        )
    columns = columns_of(schema)
    return {
        "layer": layer,
        "namespace": namespace,
        "name": name,
        "location": f"{layer}/{namespace}/{name}",
        "format": "parquet",
        "partition_by": sorted({k for values, *_ in partitions for k in values}),
        "partitions": parts,
        "columns": columns,
        "row_count": sum(p["rows"] for p in parts),
        "file_count": len(parts),
        "bytes": sum(p["bytes"] for p in parts),
        "last_run_id": RUN_ID,
        "last_run_at": RUN_AT,
        "writer": "dataspoc-pipe/0.1.0" if layer in ("raw", "curated") else "dataspoc-lens/0.1.0",
        "schema_history": [{"version": 1, "run_id": RUN_ID, "at": RUN_AT, "change": "created", "columns": columns}],
    }


def build(url: str, rows: int = 400) -> dict[str, Any]:
    """Fill the bucket at `url`; return the manifest written."""
    fs, root = fsspec.core.url_to_fs(url)
    root = root.rstrip("/")

    def put(rel: str, data: bytes) -> int:
        if fs.protocol in ("file", ("file", "local")) or "file" in fs.protocol:
            fs.makedirs(f"{root}/{rel}".rsplit("/", 1)[0], exist_ok=True)
        fs.pipe_file(f"{root}/{rel}", data)
        return len(data)

    tables = []
    data = customers(rows)
    half = rows // 2
    partitions = []
    for dt, chunk in (("2026-11-21", data.slice(0, half)), ("2026-11-22", data.slice(half))):
        path = f"raw/crm/customers/dt={dt}/part-{RUN_ID}-00000.parquet"
        partitions.append(({"dt": dt}, path, chunk, put(path, parquet_bytes(chunk))))
    tables.append(table_entry("raw", "crm", "customers", partitions, data.schema))
    # A file a crashed run left behind: not in the manifest, so readers must not see it.
    put("raw/crm/customers/dt=2026-11-22/part-20261122T040000.000Z-dead00-00000.parquet", b"not parquet at all")

    prospects = customers(60, seed=11).drop_columns(["total_spent", "churned", "lifetime_value"])
    path = f"raw/crm/prospects/dt=2026-11-22/part-{RUN_ID}-00000.parquet"
    tables.append(
        table_entry(
            "raw",
            "crm",
            "prospects",
            [({"dt": "2026-11-22"}, path, prospects, put(path, parquet_bytes(prospects)))],
            prospects.schema,
        )
    )

    gold = pa.table({"country": ["br", "us"], "customers": pa.array([10, 20], pa.int64())})
    path = f"gold/sales/customers/part-{RUN_ID}-00000.parquet"
    tables.append(
        table_entry("gold", "sales", "customers", [({}, path, gold, put(path, parquet_bytes(gold)))], gold.schema)
    )

    tiny = customers(5, seed=3)
    path = f"raw/crm/tiny/dt=2026-11-22/part-{RUN_ID}-00000.parquet"
    tables.append(
        table_entry(
            "raw", "crm", "tiny", [({"dt": "2026-11-22"}, path, tiny, put(path, parquet_bytes(tiny)))], tiny.schema
        )
    )

    loyal = customers(30, seed=5).set_column(6, "churned", pa.array([False] * 30, pa.bool_()))
    path = f"raw/crm/loyal/dt=2026-11-22/part-{RUN_ID}-00000.parquet"
    tables.append(
        table_entry(
            "raw", "crm", "loyal", [({"dt": "2026-11-22"}, path, loyal, put(path, parquet_bytes(loyal)))], loyal.schema
        )
    )

    manifest = {"contract_version": "1.0", "updated_at": RUN_AT, "tables": tables}
    put(".dataspoc/manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def read_json(url: str, rel: str) -> Any:
    fs, root = fsspec.core.url_to_fs(url)
    return json.loads(fs.cat_file(f"{root.rstrip('/')}/{rel}"))


def exists(url: str, rel: str) -> bool:
    fs, root = fsspec.core.url_to_fs(url)
    fs.invalidate_cache()
    return fs.exists(f"{root.rstrip('/')}/{rel}")


def read_parquet(url: str, rel: str) -> pa.Table:
    fs, root = fsspec.core.url_to_fs(url)
    with fs.open(f"{root.rstrip('/')}/{rel}", "rb") as handle:
        return pq.read_table(handle)


VENDORED = Path(__file__).resolve().parents[1] / "src" / "dataspoc_ml" / "contract" / "schemas"


def schema_validator(kind: str):
    from jsonschema import Draft202012Validator

    schema = json.loads((VENDORED / f"{kind}.schema.json").read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def assert_valid(kind: str, document: Any) -> None:
    errors = sorted(schema_validator(kind).iter_errors(document), key=str)
    assert not errors, f"{kind} breaks the schema: " + "; ".join(e.message for e in errors[:5])


def add_table(url: str, ref: str, data: pa.Table, dt: str = "2026-11-22") -> dict[str, Any]:
    """Publish `data` as the table `ref` (layer.namespace.name) of the bucket at `url`, local or
    S3: one file (in a dt partition for raw and curated tables) and its manifest entry, which
    replaces one at the same location; the manifest is created when the bucket has none."""
    layer, namespace, name = ref.split(".")
    fs, root = fsspec.core.url_to_fs(url)
    root = root.rstrip("/")
    partitioned = layer in ("raw", "curated")
    folder = f"{layer}/{namespace}/{name}" + (f"/dt={dt}" if partitioned else "")
    rel = f"{folder}/part-{RUN_ID}-00000.parquet"
    blob = parquet_bytes(data)
    if "file" in fs.protocol:
        fs.makedirs(f"{root}/{folder}", exist_ok=True)
        fs.makedirs(f"{root}/.dataspoc", exist_ok=True)
    fs.pipe_file(f"{root}/{rel}", blob)
    values = {"dt": dt} if partitioned else {}
    entry = table_entry(layer, namespace, name, [(values, rel, data, len(blob))], data.schema)
    manifest_rel = f"{root}/.dataspoc/manifest.json"
    fs.invalidate_cache()
    manifest = (
        json.loads(fs.cat_file(manifest_rel))
        if fs.exists(manifest_rel)
        else {"contract_version": "1.0", "updated_at": RUN_AT, "tables": []}
    )
    manifest["tables"] = [t for t in manifest["tables"] if t["location"] != entry["location"]] + [entry]
    fs.pipe_file(manifest_rel, (json.dumps(manifest, indent=2) + "\n").encode())
    return entry


def sales(days: int = 364, stores: int = 3, seed: int = 1, start: str = "2025-01-01") -> pa.Table:
    """Daily sales of a few stores from `start`: each store's level, a gentle trend, a weekly
    pattern scaled to the store and Gaussian noise (sd 4). Columns: day (date32), store_id, sales."""
    import numpy as np

    rng = np.random.default_rng(seed)
    calendar = np.arange(np.datetime64(start), np.datetime64(start) + days)
    weekly = np.array([0.0, 5, 10, 12, 20, 40, 30])
    t = np.arange(days)
    day, store, value = [], [], []
    for number in range(1, stores + 1):
        day.append(calendar)
        store.append(np.full(days, number))
        value.append(100 * number + 0.05 * t + weekly[(t + 2) % 7] * number + rng.normal(0, 4, days))
    return pa.table(
        {
            "day": pa.array(np.concatenate(day)),
            "store_id": pa.array(np.concatenate(store), pa.int64()),
            "sales": pa.array(np.concatenate(value), pa.float64()),
        }
    )


def sklearn_table(loader: Any) -> tuple[pa.Table, Any, Any]:
    """A scikit-learn dataset (load_breast_cancer, load_diabetes, load_wine) as a table whose
    last column is `target`; with its X and y as numpy arrays."""
    bunch = loader()
    names = [str(n) for n in bunch.feature_names]
    columns = {name: pa.array(bunch.data[:, i], pa.float64()) for i, name in enumerate(names)}
    target = bunch.target
    columns["target"] = pa.array(target, pa.int64() if target.dtype.kind == "i" else pa.float64())
    return pa.table(columns), bunch.data, target


def snapshot(url: str) -> dict[str, bytes]:
    """Every object of the bucket at `url` with its bytes, to show a refused command changed nothing."""
    fs, root = fsspec.core.url_to_fs(url)
    fs.invalidate_cache()
    return {path: fs.cat_file(path) for path in fs.find(root)}


def write_json(url: str, rel: str, document: Any) -> None:
    fs, root = fsspec.core.url_to_fs(url)
    fs.pipe_file(f"{root.rstrip('/')}/{rel}", (json.dumps(document, indent=2) + "\n").encode())

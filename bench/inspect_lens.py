"""dataspoc-lens inspect (the whole process) against DuckDB's SUMMARIZE in a plain Python script.

    make bench                             # 10,000,000 rows x 20 columns, median of 3
    uv run python inspect_lens.py --rows 1000000 --repeats 3

A 20-column table (integers, doubles, a decimal, text of 3 to 10M distinct values, dates,
timestamps, booleans, nulls from none to 99%) is generated once into .work/ and published in a
local bucket with a manifest as gold.bench.wide. Then `dataspoc-lens inspect gold.bench.wide
--json` runs against `python -c "import duckdb; duckdb.sql('SUMMARIZE ...')"` over the same
file, both whole processes. Inspect computes more than SUMMARIZE (exact quartiles, top values,
histograms, duplicate rows); the goal is at most 1.5x its time. The table has unique columns,
which lets inspect skip its duplicate-rows scan; `--key` on 16 columns none of which is unique
measures the case where it cannot. Also measured, without a baseline: `--sample 1000000`,
`--html`, and `inspect --all` over the same bucket.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from common import HERE, WORK, measure

LENS = HERE.parent / "dataspoc-lens" / ".venv" / "bin" / "dataspoc-lens"
PYTHON = HERE.parent / "dataspoc-lens" / ".venv" / "bin" / "python"
RUN_ID = "20261124T030000.000Z-b3e7c1"
RUN_AT = "2026-11-24T03:00:00+00:00"


def generate(path: Path, rows: int, marker: Path) -> None:
    if path.exists() and marker.exists() and marker.read_text() == str(rows):
        return
    import duckdb

    print(f"generating {rows:,} rows x 20 columns into {path} ...", file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.sql(
        f"""
        COPY (
          SELECT i AS id,
                 (i * 7919) % 100000 AS customer_id,
                 CASE WHEN i % 20 = 0 THEN NULL ELSE round(((i * 31) % 100000) / 100.0, 2) END AS amount,
                 CAST(1 + (i * 13) % 9 AS INTEGER) AS quantity,
                 CASE WHEN i % 2 = 0 THEN NULL ELSE ((i * 17) % 50) / 100.0 END AS discount,
                 sin(i) * 10 + cos(i / 7.0) * 3 AS score,
                 CAST(((i * 101) % 1000000) / 100.0 AS DECIMAL(12, 2)) AS price,
                 ['paid', 'pending', 'refunded', 'cancelled'][1 + i % 4] AS status,
                 'C' || lpad(CAST((i * 7) % 50 AS VARCHAR), 2, '0') AS country,
                 'user' || CAST(i AS VARCHAR) || '@example.com' AS email,
                 CASE WHEN i % 10 = 3 THEN NULL ELSE 'city-' || CAST((i * 37) % 1000 AS VARCHAR) END AS city,
                 CASE WHEN i % 100 = 0 THEN 'note ' || CAST(i % 977 AS VARCHAR) END AS note,
                 TIMESTAMP '2026-01-01' + to_seconds(i % 31536000) AS created_at,
                 DATE '2025-01-01' + CAST(i % 700 AS INTEGER) AS order_date,
                 CASE WHEN i % 5 = 0 THEN NULL ELSE TIMESTAMP '2026-01-02' + to_seconds((i * 3) % 31536000) END AS shipped_at,
                 i % 7 = 0 AS is_gift,
                 ['web', 'app', 'store'][1 + i % 3] AS channel,
                 CASE WHEN i % 9 = 0 THEN NULL ELSE CAST(1 + i % 5 AS SMALLINT) END AS rating,
                 CAST(((i * 53) % 10000) / 10.0 AS FLOAT) AS weight,
                 'SKU-' || CAST((i * 11) % 10000 AS VARCHAR) AS sku
          FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT parquet, COMPRESSION zstd)
        """
    )
    marker.write_text(str(rows))


def bucket(rows: int) -> tuple[Path, Path]:
    """The bucket holding gold.bench.wide (its one file generated in place), and that file."""
    import pyarrow.parquet as pq

    root = WORK / f"lens-inspect-{rows}" / "bucket"
    rel = f"gold/bench/wide/part-{RUN_ID}-00000.parquet"
    path = root / rel
    generate(path, rows, root.parent / "generated-rows")  # outside the bucket
    size = path.stat().st_size
    columns = [{"name": f.name, "type": str(f.type), "nullable": True} for f in pq.read_schema(path)]
    table = {
        "layer": "gold", "namespace": "bench", "name": "wide", "location": "gold/bench/wide", "format": "parquet",
        "partition_by": [],
        "partitions": [{"values": {}, "files": [{"path": rel, "rows": rows, "bytes": size, "run_id": RUN_ID}],
                        "rows": rows, "bytes": size}],
        "columns": columns, "row_count": rows, "file_count": 1, "bytes": size,
        "last_run_id": RUN_ID, "last_run_at": RUN_AT, "writer": "dataspoc-lens/0.1.0",
        "schema_history": [{"version": 1, "run_id": RUN_ID, "at": RUN_AT, "change": "created", "columns": columns}],
    }
    (root / ".dataspoc").mkdir(parents=True, exist_ok=True)
    document = {"contract_version": "1.2", "updated_at": RUN_AT, "tables": [table]}
    (root / ".dataspoc" / "manifest.json").write_text(json.dumps(document, indent=2))
    return root, path


def median(argv: list[str], repeats: int) -> float:
    return statistics.median(measure(argv, WORK)[0] for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root, path = bucket(args.rows)
    lens = [str(LENS), "inspect", "gold.bench.wide", "--bucket", str(root)]
    summarize = f"import duckdb; duckdb.sql(\"SUMMARIZE SELECT * FROM read_parquet('{path}')\").fetchall()"
    report: dict = {"rows": args.rows, "columns": 20, "repeats": args.repeats}
    # The worst case for the duplicate-rows scan: duplicates on 16 columns none of which is
    # unique (id, email, score and created_at are, which lets inspect skip that scan).
    key = "customer_id,amount,quantity,discount,price,status,country,city,note,order_date,shipped_at,is_gift,channel,rating,weight,sku"
    # interleaved, so that a noisy moment on the machine weighs on every side alike
    lens_runs, key_runs, plain_runs = [], [], []
    for _ in range(args.repeats):
        lens_runs.append(measure([*lens, "--json"], WORK)[0])
        key_runs.append(measure([*lens, "--json", "--key", key], WORK)[0])
        plain_runs.append(measure([str(PYTHON), "-c", summarize], WORK)[0])
    lens_s, worst, plain_s = (statistics.median(r) for r in (lens_runs, key_runs, plain_runs))
    report["inspect_json"] = {"lens_seconds": round(lens_s, 2), "summarize_seconds": round(plain_s, 2),
                              "ratio": round(lens_s / plain_s, 2)}
    report["inspect_key_16_columns"] = {"lens_seconds": round(worst, 2), "ratio": round(worst / plain_s, 2)}
    html = WORK / "inspect-wide.html"
    report["sample_1m_seconds"] = round(median([*lens, "--json", "--sample", "1000000"], args.repeats), 2)
    report["html_seconds"] = round(median([*lens, "--html", str(html)], args.repeats), 2)
    report["all_seconds"] = round(median([str(LENS), "inspect", "--all", "--bucket", str(root)], args.repeats), 2)

    print(f"\ndataspoc-lens inspect against DuckDB SUMMARIZE (Python), {args.rows:,} rows x 20 columns, "
          f"median of {args.repeats}")
    print(f"{'':32}{'lens s':>10}{'SUMMARIZE s':>13}{'ratio':>8}")
    print(f"{'inspect --json':32}{lens_s:>10.2f}{plain_s:>13.2f}{lens_s / plain_s:>7.2f}x  (goal <= 1.5x)")
    print(f"{'inspect --json --key (16 cols)':32}{worst:>10.2f}{plain_s:>13.2f}{worst / plain_s:>7.2f}x  (no unique column)")
    print(f"inspect --json --sample 1000000: {report['sample_1m_seconds']} s")
    print(f"inspect --html: {report['html_seconds']} s ({html.stat().st_size:,} bytes)")
    print(f"inspect --all: {report['all_seconds']} s")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "inspect_lens.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

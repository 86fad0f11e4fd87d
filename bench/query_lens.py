"""dataspoc-lens query (the whole process) against DuckDB in a plain Python script, same files.

    make bench                          # 5,000,000 rows, 5 repeats
    uv run python query_lens.py --rows 1000000 --repeats 3

A table of N rows is written by dataspoc-pipe into a local bucket; then a GROUP BY and a
selective filter run through `dataspoc-lens query --format csv` and through
`python -c "import duckdb; duckdb.sql(...)"` over the files the manifest lists. Both are whole
processes, so start-up counts on both sides. Also: `catalog` over a 1,000-table manifest, and
every command's `--help`.

Lens is installed editable, from its sources: they are compiled to bytecode first, as an
install from a wheel has them (where PYTHONDONTWRITEBYTECODE is set, nothing else would).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from common import HERE, PIPE, WORK, measure, pipe_project, run_pipe

LENS = HERE.parent / "dataspoc-lens" / ".venv" / "bin" / "dataspoc-lens"
PYTHON = HERE.parent / "dataspoc-lens" / ".venv" / "bin" / "python"
SOURCES = HERE.parent / "dataspoc-lens" / "src"
QUERIES = {
    "group_by": "SELECT status, count(*) AS n, sum(amount) AS total FROM {t} GROUP BY status ORDER BY status",
    "filter": "SELECT * FROM {t} WHERE order_id = 4242",
}


def generate(path: Path, rows: int) -> None:
    if path.exists() and path.with_suffix(".rows").read_text() == str(rows):
        return
    import duckdb

    print(f"generating {rows:,} rows into {path} ...", file=sys.stderr)
    duckdb.sql(
        f"""
        COPY (
          SELECT i AS order_id, (i * 7919) % 100000 AS customer_id,
                 round(((i * 31) % 100000) / 100.0, 2) AS amount,
                 CASE i % 4 WHEN 0 THEN 'paid' WHEN 1 THEN 'pending' WHEN 2 THEN 'refunded' ELSE 'paid' END AS status,
                 TIMESTAMP '2026-01-01' + to_seconds(i % 31536000) AS ordered_at
          FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT parquet, COMPRESSION zstd)
        """
    )
    path.with_suffix(".rows").write_text(str(rows))


def lake(rows: int) -> tuple[Path, list[str]]:
    source = WORK / f"orders-{rows}.parquet"
    generate(source, rows)
    project = pipe_project("lens-query", {"orders": {"source": {"kind": "parquet", "path": str(source)}, "target": {"namespace": "shop"}}})
    run_pipe(project, "orders")
    manifest = json.loads((project / "bucket" / ".dataspoc" / "manifest.json").read_text())
    [table] = manifest["tables"]
    files = [str(project / "bucket" / f["path"]) for p in table["partitions"] for f in p["files"]]
    return project, files


def wide_manifest(tables: int) -> Path:
    """A bucket whose manifest lists `tables` tables (catalog reads the manifest only)."""
    bucket = WORK / f"catalog-{tables}"
    (bucket / ".dataspoc").mkdir(parents=True, exist_ok=True)
    columns = [{"name": f"c{i}", "type": "int64", "nullable": True} for i in range(12)]
    entries = []
    for n in range(tables):
        location = f"raw/ns{n % 20}/t{n}"
        files = [{"path": f"{location}/dt=2026-11-2{d}/part-20261124T030000.000Z-a1b2c3-00000.parquet", "rows": 100, "bytes": 4096}
                 for d in range(3)]
        entries.append({
            "layer": "raw", "namespace": f"ns{n % 20}", "name": f"t{n}", "location": location, "format": "parquet",
            "partition_by": ["dt"],
            "partitions": [{"values": {"dt": f["path"].split("dt=")[1][:10]}, "files": [f], "rows": 100, "bytes": 4096} for f in files],
            "columns": columns, "row_count": 300, "file_count": 3, "bytes": 12288,
            "last_run_id": "20261124T030000.000Z-a1b2c3", "last_run_at": "2026-11-24T03:00:00Z",
            "writer": "dataspoc-pipe/0.1.0",
            "schema_history": [{"version": 1, "run_id": "20261124T030000.000Z-a1b2c3", "at": "2026-11-24T03:00:00Z",
                                "change": "created", "columns": columns}],
        })
    document = {"contract_version": "1.2", "updated_at": "2026-11-24T03:00:00Z", "tables": entries}
    (bucket / ".dataspoc" / "manifest.json").write_text(json.dumps(document))
    return bucket


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    subprocess.run([str(PYTHON), "-m", "compileall", "-q", str(SOURCES)], check=True)
    project, files = lake(args.rows)
    bucket = str(project / "bucket")
    report: dict = {"rows": args.rows}
    print(f"\ndataspoc-lens query against plain DuckDB (Python), {args.rows:,} rows, median of {args.repeats}")
    print(f"{'':22}{'lens s':>10}{'duckdb s':>10}{'ratio':>8}")
    for name, sql in QUERIES.items():
        lens_sql = sql.format(t="raw.shop.orders")
        plain_sql = sql.format(t=f"read_parquet({files}, hive_partitioning=true)")
        script = f"import duckdb, sys; duckdb.sql({plain_sql!r}).write_csv('/dev/stdout')"
        lens_runs, plain_runs = [], []
        for _ in range(args.repeats):
            lens_runs.append(measure([str(LENS), "query", lens_sql, "--bucket", bucket, "--format", "csv"], project)[0])
            plain_runs.append(measure([str(PYTHON), "-c", script], project)[0])
        lens_s, plain_s = statistics.median(lens_runs), statistics.median(plain_runs)
        report[name] = {"lens_seconds": round(lens_s, 3), "duckdb_seconds": round(plain_s, 3), "ratio": round(lens_s / plain_s, 2)}
        print(f"{name:22}{lens_s:>10.3f}{plain_s:>10.3f}{lens_s / plain_s:>7.2f}x")

    wide = wide_manifest(1000)
    catalog = statistics.median(
        measure([str(LENS), "catalog", "--bucket", str(wide), "--json"], WORK)[0] for _ in range(args.repeats)
    )
    report["catalog_1000_tables_seconds"] = round(catalog, 3)
    print(f"catalog, 1,000 tables: {catalog:.3f} s (target < 0.3 s)")
    helps = {}
    for command in ([], ["query"], ["catalog"], ["schema"], ["ml", "predict"]):
        helps[" ".join(command) or "(root)"] = round(
            statistics.median(measure([str(LENS), *command, "--help"], WORK)[0] for _ in range(args.repeats)), 3
        )
    report["help_seconds"] = helps
    print(f"--help: {helps} (target < 0.3 s each)")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "query_lens.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""dataspoc-pipe CSV ingestion against DuckDB's own COPY, on the same file, in the same run.

    make bench                      # 5,000,000 rows, 3 repeats
    uv run python ingest_csv.py --rows 1000000 --repeats 1

Both sides run as separate processes; wall time and peak RSS (ru_maxrss of that process)
are measured the same way, and the medians are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from common import HERE, PIPE, WORK, measure


def generate(path: Path, rows: int) -> None:
    """A CSV shaped like an orders export: ints, decimals, text, timestamps, a few nulls."""
    if path.exists() and path.with_suffix(".rows").read_text() == str(rows):
        return
    import duckdb

    print(f"generating {rows:,} rows into {path} ...", file=sys.stderr)
    duckdb.sql(
        f"""
        COPY (
          SELECT i AS order_id,
                 (i * 7919) % 100000 AS customer_id,
                 round(((i * 31) % 100000) / 100.0, 2) AS amount,
                 CASE i % 4 WHEN 0 THEN 'paid' WHEN 1 THEN 'pending' WHEN 2 THEN 'refunded' ELSE 'paid' END AS status,
                 CASE WHEN i % 50 = 0 THEN NULL ELSE 'BR-' || (i % 27) END AS region,
                 TIMESTAMP '2026-01-01' + to_seconds(i % 31536000) AS ordered_at
          FROM range({rows}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')
        """
    )
    path.with_suffix(".rows").write_text(str(rows))


def run_pipe(csv_path: Path) -> tuple[float, float]:
    project = WORK / "pipe"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    for args in (["init", "--bucket", "bucket"], ["add", "bench", "--path", str(csv_path), "--namespace", "bench"]):
        subprocess.run([str(PIPE), *args], cwd=project, check=True, capture_output=True)
    return measure([str(PIPE), "run", "bench"], project)


def run_duckdb(csv_path: Path) -> tuple[float, float]:
    out = WORK / "duckdb.parquet"
    out.unlink(missing_ok=True)
    code = (
        "import duckdb; duckdb.sql(\"COPY (SELECT * FROM read_csv('%s')) TO '%s' "
        '(FORMAT parquet, COMPRESSION zstd)")' % (csv_path, out)
    )
    return measure([sys.executable, "-c", code], WORK)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not PIPE.exists():
        raise SystemExit(f"{PIPE} is missing: run `make sync` first")
    WORK.mkdir(exist_ok=True)
    csv_path = WORK / f"orders-{args.rows}.csv"
    generate(csv_path, args.rows)

    import duckdb

    results = {"pipe": [], "duckdb": []}
    for _ in range(args.repeats):
        results["duckdb"].append(run_duckdb(csv_path))
        results["pipe"].append(run_pipe(csv_path))

    summary = {}
    for name, runs in results.items():
        seconds = statistics.median(r[0] for r in runs)
        summary[name] = {
            "seconds": round(seconds, 2),
            "rows_per_second": round(args.rows / seconds),
            "peak_rss_mb": round(statistics.median(r[1] for r in runs)),
        }
    ratio = summary["pipe"]["rows_per_second"] / summary["duckdb"]["rows_per_second"]
    report = {
        "rows": args.rows,
        "csv_mb": round(csv_path.stat().st_size / 1e6),
        "repeats": args.repeats,
        "duckdb_version": duckdb.__version__,
        "cores": os.cpu_count(),
        "results": summary,
        "speed_ratio_pipe_vs_duckdb": round(ratio, 2),
        "memory_ratio_pipe_vs_duckdb": round(summary["pipe"]["peak_rss_mb"] / summary["duckdb"]["peak_rss_mb"], 2),
    }
    print(f"\nCSV -> Parquet (zstd), {args.rows:,} rows, {report['csv_mb']} MB, median of {args.repeats}")
    print(f"{'':16}{'seconds':>10}{'rows/s':>14}{'peak RSS MB':>14}")
    for name, label in (("duckdb", "DuckDB COPY"), ("pipe", "dataspoc-pipe")):
        s = summary[name]
        print(f"{label:16}{s['seconds']:>10}{s['rows_per_second']:>14,}{s['peak_rss_mb']:>14}")
    print(f"speed ratio pipe/duckdb: {ratio:.2f}x (target >= 0.8x)")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "ingest_csv.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

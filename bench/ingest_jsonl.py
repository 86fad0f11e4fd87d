"""dataspoc-pipe JSON Lines ingestion against DuckDB's read_json COPY, same file, same run.

uv run python ingest_jsonl.py [--rows 5000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys

from common import PIPE, WORK, measure, pipe_project, report, run_pipe, summarize


def generate(path, rows: int) -> None:
    """JSON Lines shaped like an event export: ints, doubles, text, a nested object, a list."""
    if path.exists() and path.with_suffix(".rows").read_text() == str(rows):
        return
    import duckdb

    print(f"generating {rows:,} rows into {path} ...", file=sys.stderr)
    duckdb.sql(
        f"""
        COPY (
          SELECT i AS event_id,
                 (i * 7919) % 100000 AS user_id,
                 round(((i * 31) % 100000) / 100.0, 2) AS amount,
                 CASE i % 3 WHEN 0 THEN 'click' WHEN 1 THEN 'view' ELSE 'buy' END AS kind,
                 {{'country': 'BR-' || (i % 27), 'mobile': i % 2 = 0}} AS device,
                 [i % 5, i % 7] AS tags
          FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT json)
        """
    )
    path.with_suffix(".rows").write_text(str(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not PIPE.exists():
        raise SystemExit(f"{PIPE} is missing: run `make sync` first")
    WORK.mkdir(exist_ok=True)
    source = WORK / f"events-{args.rows}.jsonl"
    generate(source, args.rows)
    project = pipe_project(
        "jsonl", {"bench": {"source": {"kind": "jsonl", "path": str(source)}, "target": {"namespace": "bench"}}}
    )
    out = WORK / "duckdb-jsonl.parquet"
    copy = "import duckdb; duckdb.sql(\"COPY (FROM read_json('%s'%s)) TO '%s' (FORMAT parquet, COMPRESSION zstd)\")"
    # read_json's default infers the columns from the first 20,480 records and fails on a key
    # first seen later ("unknown key"); sample_size=-1 reads every record first, as dataspoc-pipe
    # (which adds such a column) must: the like-for-like baseline, measured beside the target's.
    codes = {"duckdb": copy % (source, "", out), "duckdb_all": copy % (source, ", sample_size=-1", out)}
    results: dict[str, list] = {"pipe": [], "duckdb": [], "duckdb_all": []}
    for _ in range(args.repeats):
        for name, code in codes.items():
            results[name].append(measure([sys.executable, "-c", code], WORK))
        results["pipe"].append(run_pipe(project, "bench"))
    summary = summarize(results, args.rows)
    ratio = summary["pipe"]["rows_per_second"] / summary["duckdb"]["rows_per_second"]
    like = summary["pipe"]["rows_per_second"] / summary["duckdb_all"]["rows_per_second"]
    report(
        f"JSON Lines -> Parquet (zstd), {args.rows:,} rows, {source.stat().st_size >> 20} MiB, median of {args.repeats}",
        "ingest_jsonl",
        summary,
        {
            "duckdb": "DuckDB COPY FROM read_json",
            "duckdb_all": "  ... sample_size=-1",
            "pipe": "dataspoc-pipe",
        },
        {
            "rows": args.rows,
            "speed_ratio_pipe_vs_duckdb": round(ratio, 2),
            "target": ">= 0.8x",
            "speed_ratio_pipe_vs_duckdb_every_record": round(like, 2),
        },
    )


if __name__ == "__main__":
    main()

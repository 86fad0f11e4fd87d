"""dataspoc-pipe against the public dataspoc-pipe 0.2.0 on the same Singer tap output.

    uv run python ingest_singer.py [--rows 1000000] [--repeats 3]

The tap is `cat` of a file of Singer messages as singer-python writes them (one SCHEMA, RECORDs,
a STATE every 100,000 records), so both tools read the same bytes at the same speed. 0.2.0 is
installed from PyPI into a throwaway venv under .work/. Its date-time parsing fails on values
with a zone offset or fractions (a bug of 0.2.0), so the timestamps here have neither.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from common import WORK, measure, pipe_project, report, run_pipe, summarize

UV = os.environ.get("UV", "uv")


def generate(path, rows: int) -> None:
    if path.exists() and path.with_suffix(".rows").read_text() == str(rows):
        return
    print(f"generating {rows:,} Singer records into {path} ...", file=sys.stderr)
    schema = {
        "properties": {
            "id": {"type": "integer"},
            "user": {"type": ["null", "string"]},
            "amount": {"type": ["null", "number"]},
            "status": {"type": ["null", "string"]},
            "ok": {"type": ["null", "boolean"]},
            "at": {"type": ["null", "string"], "format": "date-time"},
        }
    }
    with open(path, "w") as out:
        out.write(json.dumps({"type": "SCHEMA", "stream": "orders", "schema": schema, "key_properties": ["id"]}) + "\n")
        for i in range(rows):
            record = {
                "id": i,
                "user": f"u{i % 1000}",
                "amount": round(i * 0.25, 2),
                "status": ("paid", "open", "void")[i % 3],
                "ok": i % 2 == 0,
                "at": f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00",
            }
            out.write(json.dumps({"type": "RECORD", "stream": "orders", "record": record}) + "\n")
            if i % 100_000 == 99_999:
                out.write(json.dumps({"type": "STATE", "value": {"bookmarks": {"orders": {"id": i}}}}) + "\n")
    path.with_suffix(".rows").write_text(str(rows))


def old_pipe() -> str:
    venv = WORK / "dataspoc-pipe-0.2.0"
    exe = venv / "bin" / "dataspoc-pipe"
    if not exe.exists():
        subprocess.run([UV, "venv", "--quiet", str(venv)], check=True)
        subprocess.run(
            [UV, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), "dataspoc-pipe==0.2.0"],
            check=True,
        )
    return str(exe)


def run_old(exe: str, tap, name: str) -> tuple[float, float]:
    home = WORK / "home-0.2.0"
    bucket = WORK / "bucket-0.2.0"
    import shutil

    shutil.rmtree(bucket, ignore_errors=True)
    bucket.mkdir(parents=True)
    (home / ".dataspoc-pipe" / "pipelines").mkdir(parents=True, exist_ok=True)
    (home / "tmp").mkdir(exist_ok=True)
    (home / ".dataspoc-pipe" / "pipelines" / f"{name}.yaml").write_text(
        f"source:\n  tap: {tap}\n  config: ''\ndestination:\n  bucket: file://{bucket}\n  path: raw\n"
        "  compression: zstd\nincremental:\n  enabled: false\n"
    )
    return measure([exe, "run", name], WORK, env={"HOME": str(home), "TMPDIR": str(home / "tmp")})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-old", action="store_true", help="Measure dataspoc-pipe and the tap only.")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    output = WORK / f"singer-{args.rows}.jsonl"
    generate(output, args.rows)
    tap = WORK / "tap-bench"
    tap.write_text(f"#!/bin/sh\nexec cat {output}\n")
    tap.chmod(0o755)
    project = pipe_project(
        "singer",
        {"bench": {"source": {"kind": "singer", "tap": str(tap), "discover": False}, "target": {"namespace": "bench"}}},
    )
    results: dict[str, list] = {"tap": [], "pipe": []}
    exe = None if args.skip_old else old_pipe()
    if exe:
        results["old"] = []
    for _ in range(args.repeats):
        results["tap"].append(measure([f"{tap} > /dev/null"], WORK, shell=True))
        results["pipe"].append(run_pipe(project, "bench"))
        if exe:
            results["old"].append(run_old(exe, tap, "bench"))
    summary = summarize(results, args.rows)
    labels = {"tap": "the tap alone (cat)", "pipe": "dataspoc-pipe"}
    extra: dict = {"rows": args.rows}
    if exe:
        labels["old"] = "dataspoc-pipe 0.2.0"
        extra["speed_ratio_pipe_vs_0.2.0"] = round(
            summary["pipe"]["rows_per_second"] / summary["old"]["rows_per_second"], 2
        )
        extra["target"] = ">= 4x"
    report(
        f"Singer tap -> Parquet, {args.rows:,} records, median of {args.repeats}",
        "ingest_singer",
        summary,
        labels,
        extra,
    )


if __name__ == "__main__":
    main()

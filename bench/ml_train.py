"""dataspoc-ml train (the whole process) against a plain scikit-learn script, same rows, same model.

    make bench                              # 1,000,000 rows, median of 3
    uv run python ml_train.py --threads 1   # both sides in one thread: far less noise on a busy machine
    uv run python ml_train.py --rows 200000 --repeats 1

A table of customers (six numbers, three text columns, a flag, a binary target `churned` and a
numeric one `lifetime_value`, both with signal) is generated once into .work/ and published by
`dataspoc-pipe run` (parquet kind) into a local bucket. Then, for classification and for
regression, `dataspoc-ml train` with its defaults (hgb) against plain_ml_train.py: the same
Parquet files read with pyarrow, the same ColumnTransformer and HistGradientBoosting parameters
as preprocess.py and tasks/ build, fitted on the same holdout split and pickled with joblib.
Both are whole processes. The CLI does more on top (see README.md): holdout metrics against a
baseline, permutation importance, the model card and the registry.

dataspoc-ml is installed editable: its sources are compiled to bytecode first, as a wheel has them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from common import HERE, PIPE, WORK, measure

ML_ROOT = HERE.parent / "dataspoc-ml"
ML = ML_ROOT / ".venv" / "bin" / "dataspoc-ml"
PYTHON = ML_ROOT / ".venv" / "bin" / "python"
PROJECT = WORK / "ml"
BUCKET = PROJECT / "bucket"
# (target, the other target: left out of the features)
TASKS = {"classification": ("churned", "lifetime_value"), "regression": ("lifetime_value", "churned")}


def generate(path: Path, rows: int) -> None:
    """Deterministic rows (hash-based draws, so any thread count gives the same file)."""
    if path.exists() and path.with_suffix(".rows").read_text() == str(rows):
        return
    import duckdb

    print(f"generating {rows:,} rows into {path} ...", file=sys.stderr)
    draws = ", ".join(f"(hash(i, {k}) % 1000000) / 1e6 AS u{k}" for k in range(1, 13))
    duckdb.sql(
        f"""
        COPY (
          WITH d AS (SELECT i, {draws} FROM range({rows}) t(i)),
          c AS (
            SELECT i, u10, u11,
              CASE WHEN i % 37 = 0 THEN NULL ELSE 18 + (u1 * 62)::INT END AS age,
              round(20000 + u2 * 130000, 2) AS income,
              (u3 * 120)::INT AS tenure_months,
              CASE WHEN i % 41 = 0 THEN NULL ELSE round(u4 * u4 * 50000, 2) END AS balance,
              (u5 * 40)::INT AS orders,
              round(u6, 4) AS satisfaction,
              CASE WHEN u7 < 0.05 THEN NULL ELSE ['br', 'us', 'de', 'fr', 'in', 'jp', 'mx', 'uk'][1 + (u7 * 8)::INT % 8] END AS country,
              ['free', 'basic', 'pro', 'enterprise'][1 + (u8 * 4)::INT % 4] AS plan,
              ['web', 'ios', 'android', 'partner', 'store', 'phone'][1 + (u9 * 6)::INT % 6] AS channel,
              u12 < 0.5 AS is_member
            FROM d
          )
          SELECT age, income, tenure_months, balance, orders, satisfaction, country, plan, channel, is_member,
            u10 < 1 / (1 + exp(-(-0.5 + 0.9 * (plan = 'free')::INT - tenure_months / 40 + 0.7 * (coalesce(age, 50) < 30)::INT
                                 + 1.2 * (coalesce(country, '') = 'br' AND NOT is_member)::INT + 1.0 * (satisfaction < 0.3)::INT
                                 - orders / 20))) AS churned,
            round(income * 0.01 + tenure_months * 12 + orders * 25
                  + CASE plan WHEN 'pro' THEN 400 WHEN 'enterprise' THEN 1500 ELSE 0 END
                  + (u11 - 0.5) * 400, 2) AS lifetime_value
          FROM c
        ) TO '{path}' (FORMAT parquet, COMPRESSION zstd)
        """
    )
    path.with_suffix(".rows").write_text(str(rows))


def lake(rows: int) -> tuple[str, list[str]]:
    """raw.bench.customers_<rows> in the bench bucket (published once, then reused): its
    reference and the Parquet files its manifest entry lists."""
    import yaml

    name = f"customers_{rows}"
    manifest_path = BUCKET / ".dataspoc" / "manifest.json"

    def listed() -> dict | None:
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"tables": []}
        return next((t for t in manifest["tables"] if t["name"] == name and t["row_count"] == rows), None)

    table = listed()
    if table is None:
        source = WORK / f"customers-{rows}.parquet"
        generate(source, rows)
        BUCKET.mkdir(parents=True, exist_ok=True)
        config = PROJECT / "dataspoc-pipe.yaml"
        pipelines = yaml.safe_load(config.read_text())["pipelines"] if config.exists() else {}
        pipelines[name] = {"source": {"kind": "parquet", "path": str(source)}, "target": {"namespace": "bench"}}
        config.write_text(yaml.safe_dump({"version": 1, "bucket": "./bucket", "pipelines": pipelines}))
        print(f"publishing raw.bench.{name} with dataspoc-pipe ...", file=sys.stderr)
        measure([str(PIPE), "run", name], PROJECT)
        table = listed()
        assert table is not None, f"dataspoc-pipe did not publish {name}"
    files = [str(BUCKET / f["path"]) for p in table["partitions"] for f in p["files"]]
    return f"raw.bench.{name}", files


def compile_sources() -> None:
    subprocess.run([str(PYTHON), "-m", "compileall", "-q", str(ML_ROOT / "src")], check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", default="classification,regression")
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS of both sides (default: every core)")
    args = parser.parse_args()
    env = {"OMP_NUM_THREADS": str(args.threads)} if args.threads else {}
    compile_sources()
    ref, files = lake(args.rows)
    report: dict = {"rows": args.rows, "repeats": args.repeats, "threads": args.threads or "all"}
    print(f"\ndataspoc-ml train against a plain scikit-learn script, {args.rows:,} rows, median of {args.repeats}"
          f"{f', {args.threads} thread(s)' if args.threads else ''}")
    print(f"{'':16}{'CLI s':>9}{'plain s':>9}{'ratio':>8}{'CLI MB':>9}{'plain MB':>10}")
    for task in args.tasks.split(","):
        target, other = TASKS[task]
        cli = [str(ML), "train", f"bench_{task}", "--table", ref, "--target", target, "--exclude", other,
               "--bucket", str(BUCKET)]
        plain = [str(PYTHON), str(HERE / "plain_ml_train.py"), task, target, other, str(WORK / f"plain-{task}.pkl"), *files]
        cli_runs, plain_runs = [], []
        for _ in range(args.repeats):  # interleaved, so that a busy minute hits both sides
            cli_runs.append(measure(cli, WORK, env))
            plain_runs.append(measure(plain, WORK, env))
        cli_s, plain_s = (statistics.median(r[0] for r in runs) for runs in (cli_runs, plain_runs))
        cli_mb, plain_mb = (statistics.median(r[1] for r in runs) for runs in (cli_runs, plain_runs))
        report[task] = {
            "cli_seconds": round(cli_s, 2), "plain_seconds": round(plain_s, 2), "ratio": round(cli_s / plain_s, 3),
            "cli_peak_rss_mb": round(cli_mb), "plain_peak_rss_mb": round(plain_mb),
            "cli_runs": [round(r[0], 2) for r in cli_runs], "plain_runs": [round(r[0], 2) for r in plain_runs],
        }
        print(f"{task:16}{cli_s:>9.2f}{plain_s:>9.2f}{cli_s / plain_s:>7.2f}x{cli_mb:>9.0f}{plain_mb:>10.0f}")
    print("target: at most 1.2x the plain script's wall time")

    helps = {}
    for command in ([], ["train"]):
        runs = [measure([str(ML), *command, "--help"], WORK)[0] for _ in range(5)]
        helps[" ".join(["dataspoc-ml", *command, "--help"])] = round(statistics.median(runs), 3)
    report["help_seconds"] = helps
    print(f"--help, median of 5: {helps} (target < 0.3 s each)")
    (HERE / "results").mkdir(exist_ok=True)
    name = f"ml_train-{args.threads}-threads" if args.threads else "ml_train"
    (HERE / "results" / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""dataspoc-ml predict (the whole process) on 10,000,000 rows: peak memory and time, against a
plain script scoring the same files with the same pickled model.

    make bench                              # 10,000,000 rows, median of 3
    uv run python ml_predict.py --rows 1000000 --repeats 1

The table is ml_train.py's, generated once into .work/ and published by `dataspoc-pipe run`;
the model is `dataspoc-ml train` with its defaults on the 1,000,000-row table (trained once,
then reused). `dataspoc-ml predict MODEL --table T` against plain_ml_predict.py: the same Parquet
files streamed with pyarrow in batches, through the model.pkl the registry holds, written with
the prediction and probability to zstd Parquet. Peak RSS is ru_maxrss of each process.
Target: the CLI's peak under 1 GB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics

from common import HERE, WORK, measure
from ml_train import BUCKET, ML, PYTHON, compile_sources, lake

MODEL = "bench_predict"
TARGET_MB = 1024


def model(train_rows: int) -> None:
    """The model scored with: trained once by the CLI, with its defaults."""
    if (BUCKET / "ml" / "models" / MODEL / "features.json").exists():
        return
    ref, _ = lake(train_rows)
    print(f"training {MODEL} on {ref} ...")
    measure([str(ML), "train", MODEL, "--table", ref, "--target", "churned", "--exclude", "lifetime_value",
             "--bucket", str(BUCKET)], WORK)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--train-rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    compile_sources()
    ref, files = lake(args.rows)
    model(args.train_rows)
    cli = [str(ML), "predict", MODEL, "--table", ref, "--bucket", str(BUCKET), "--json"]
    plain = [str(PYTHON), str(HERE / "plain_ml_predict.py"), str(BUCKET / "ml" / "models" / MODEL / "model.pkl"),
             str(WORK / "plain-predictions.parquet"), *files]
    runs: dict[str, list[tuple[float, float]]] = {"cli": [], "plain": []}
    for _ in range(args.repeats):  # interleaved, so that a busy minute hits both sides
        runs["cli"].append(measure(cli, WORK))
        shutil.rmtree(BUCKET / "ml" / "predictions", ignore_errors=True)  # each run's 10M rows, not kept
        runs["plain"].append(measure(plain, WORK))
    report: dict = {"rows": args.rows, "repeats": args.repeats}
    print(f"\ndataspoc-ml predict against a plain pyarrow + scikit-learn script, {args.rows:,} rows, median of {args.repeats}")
    print(f"{'':10}{'seconds':>10}{'rows/s':>12}{'peak RSS MB':>14}")
    for name, label in (("cli", "CLI"), ("plain", "plain")):
        seconds = statistics.median(r[0] for r in runs[name])
        peak = statistics.median(r[1] for r in runs[name])
        report[name] = {"seconds": round(seconds, 2), "rows_per_second": round(args.rows / seconds),
                        "peak_rss_mb": round(peak), "runs": [[round(s, 2), round(m)] for s, m in runs[name]]}
        print(f"{label:10}{seconds:>10.2f}{args.rows / seconds:>12,.0f}{peak:>14.0f}")
    report["time_ratio"] = round(report["cli"]["seconds"] / report["plain"]["seconds"], 3)
    report["peak_under_target"] = report["cli"]["peak_rss_mb"] < TARGET_MB
    print(f"ratio CLI / plain: {report['time_ratio']}x time; CLI peak RSS target < {TARGET_MB} MB: "
          f"{'met' if report['peak_under_target'] else 'NOT met'}")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "ml_predict.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""dataspoc-pipe reading a PostgreSQL table against psql's \\copy of the same query, same server.

    uv run python ingest_postgres.py [--rows 5000000] [--repeats 3]

A throwaway server (Debian's postgresql binaries, `make system-deps`) is started on 127.0.0.1
with its data under .work/, loaded once, and stopped at the end.
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

from common import WORK, measure, pipe_project, report, run_pipe, summarize

QUERY = "SELECT * FROM orders"


def server() -> tuple[list[str], Path, int]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise SystemExit("PostgreSQL is not installed: run `make system-deps`")
    bin_dir = Path(found[-1]).parent
    home = WORK / "pg"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    as_user: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (WORK, home):
            os.chown(path, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(home / "data"), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c shared_buffers=256MB"
    subprocess.run(
        [
            *as_user,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(home / "data"),
            "-o",
            options,
            "-l",
            str(home / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    return as_user, bin_dir, port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    as_user, bin_dir, port = server()
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    psql = shutil.which("psql") or str(bin_dir / "psql")
    try:
        subprocess.run(
            [
                psql,
                url,
                "-q",
                "-c",
                "CREATE TABLE orders AS SELECT i AS order_id, (i * 7919) % 100000 AS customer_id, "
                "round(((i * 31) % 100000) / 100.0, 2)::numeric(12,2) AS amount, "
                "(ARRAY['paid','pending','refunded'])[1 + i % 3] AS status, "
                "timestamptz '2026-01-01' + (i % 31536000) * interval '1 second' AS ordered_at "
                f"FROM generate_series(1::bigint, {args.rows}) i; ALTER TABLE orders ADD PRIMARY KEY (order_id)",
            ],
            check=True,
        )
        subprocess.run([psql, url, "-q", "-c", "VACUUM ANALYZE orders"], check=True)
        project = pipe_project(
            "postgres",
            {
                "bench": {
                    "source": {"kind": "postgres", "url": url, "tables": ["orders"]},
                    "target": {"namespace": "bench"},
                }
            },
        )
        results: dict[str, list] = {"psql": [], "pipe": []}
        for _ in range(args.repeats):
            results["psql"].append(measure([psql, url, "-c", f"\\copy ({QUERY}) TO '/dev/null'"], WORK))
            results["pipe"].append(run_pipe(project, "bench"))
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(WORK / "pg" / "data"), "-m", "fast", "stop"],
            capture_output=True,
        )
    summary = summarize(results, args.rows)
    ratio = summary["pipe"]["rows_per_second"] / summary["psql"]["rows_per_second"]
    report(
        f"PostgreSQL table -> Parquet, {args.rows:,} rows, median of {args.repeats}",
        "ingest_postgres",
        summary,
        {"psql": "psql \\copy (SELECT ...) TO /dev/null", "pipe": "dataspoc-pipe"},
        {"rows": args.rows, "speed_ratio_pipe_vs_psql_copy": round(ratio, 2), "target": ">= 0.7x"},
    )


if __name__ == "__main__":
    main()

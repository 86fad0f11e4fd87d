"""DuckDB reading Parquet from an S3-compatible server (moto), by two offline routes.

Route `fsspec`: any DuckDB, `con.register_filesystem(s3fs.S3FileSystem(...))` with s3fs's
defaults, the way Lens reaches remote buckets today.
Route `httpfs`: DuckDB's native httpfs extension, loaded from the PyPI package
`duckdb-extension-httpfs` (`LOAD '<file inside that package>'`, no INSTALL), with an S3 secret
pointing at the moto endpoint. Only exists for DuckDB versions that have such a package
(1.5.5 has; 2.0.x has not): when it can't be loaded the script says so and reports the rest.
Variant `fsspec-nocache`: the same s3fs with `default_cache_type="none"` (each DuckDB read is one
ranged GET instead of s3fs's 50 MB read-ahead blocks), to show where route 1's bytes go.
Variant `fsspec-shared`: one S3FileSystem reused by every connection (its session and caches
warm), as in a long-lived process such as the Lens shell; the others build a new one each time.

Everything runs in this process against moto's ThreadedMotoServer on 127.0.0.1 (or, with
`--server process`, a moto server in a child process so that it doesn't share the GIL with
s3fs). A counting WSGI layer in front of moto counts requests and response bytes per query.
For each route and repeat: a fresh in-memory DuckDB connection (ready = connect + LOAD/secret
or register_filesystem), then one query, timed in-process; medians are reported.

    python bench/remote_read.py --rows 1000000 --repeats 5

Needs duckdb, pyarrow, boto3, moto[server], s3fs; for the httpfs route duckdb==X and
duckdb-extension-httpfs==X. Downloads nothing at run time. Writes bench/results/remote_read.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUCKET = "bench-lake"
PREFIX = "raw/shop/orders"
NEEDLE = 123456

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for _var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_var, None)


# ---------------------------------------------------------------- moto with a request counter


class Counter:
    """WSGI middleware: counts requests by method, and the bytes of every response body."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.stats = {"requests": 0, "by_method": {}, "range_gets": 0, "bytes_out": 0}

    def snapshot(self) -> dict:
        with self.lock:
            return json.loads(json.dumps(self.stats))

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/__bench__/"):
            if path.endswith("/reset"):
                self.reset()
            body = json.dumps(self.snapshot()).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        method = environ.get("REQUEST_METHOD", "?")
        with self.lock:
            self.stats["requests"] += 1
            self.stats["by_method"][method] = self.stats["by_method"].get(method, 0) + 1
            if method == "GET" and environ.get("HTTP_RANGE"):
                self.stats["range_gets"] += 1
        result = self.app(environ, start_response)
        return self._count(result)

    def _count(self, result):
        try:
            for chunk in result:
                with self.lock:
                    self.stats["bytes_out"] += len(chunk)
                yield chunk
        finally:
            close = getattr(result, "close", None)
            if close:
                close()


def _moto_server_class():
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request on stderr
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class CountingMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            self.counter = Counter(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(
                self._ip_address, self._port, self.counter, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return CountingMotoServer


def _serve_in_child(queue, stop) -> None:  # runs in a spawned process
    server = _moto_server_class()(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    queue.put(server.get_host_and_port()[1])
    stop.wait()
    server.stop()


class Moto:
    def __init__(self, mode: str):
        self.mode = mode
        if mode == "thread":
            self.server = _moto_server_class()(ip_address="127.0.0.1", port=0, verbose=False)
            self.server.start()
            self.port = self.server.get_host_and_port()[1]
        else:
            import multiprocessing as mp

            ctx = mp.get_context("spawn")
            queue, self.stop_event = ctx.Queue(), ctx.Event()
            self.proc = ctx.Process(target=_serve_in_child, args=(queue, self.stop_event), daemon=True)
            self.proc.start()
            self.port = queue.get(timeout=60)
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def _stats(self, action: str) -> dict:
        with urllib.request.urlopen(f"{self.endpoint}/__bench__/{action}", timeout=30) as r:
            return json.loads(r.read())

    def reset(self) -> None:
        self._stats("reset")

    def stats(self) -> dict:
        return self._stats("stats")

    def stop(self) -> None:
        if self.mode == "thread":
            self.server.stop()
        else:
            self.stop_event.set()
            self.proc.join(timeout=10)


# ---------------------------------------------------------------- data


def write_data(rows: int, files: int, row_group: int, folder: Path) -> list[tuple[str, Path]]:
    """`files` zstd Parquet files of consecutive order_ids (one per day), row groups of
    `row_group` rows, so a filter on order_id can skip row groups by their statistics."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar=false")
    con.execute("SET threads=1")  # one writer: row groups of exactly `row_group` rows
    con.execute("SELECT setseed(0.42)")
    out = []
    step = -(-rows // files)
    for i in range(files):
        lo, hi = i * step, min(rows, (i + 1) * step)
        dt = f"2026-11-{i + 1:02d}"
        key = f"{PREFIX}/dt={dt}/part-0.parquet"
        path = folder / key  # the same hive layout locally, so every route sees the `dt` column
        path.parent.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"""COPY (
                SELECT i::BIGINT AS order_id,
                       (1 + floor(random() * 200000))::BIGINT AS customer_id,
                       round(random() * 500, 2)::DOUBLE AS amount,
                       (['pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded'])
                           [1 + (hash(i) % 6)::INT] AS status,
                       TIMESTAMP '{dt}'
                           + to_microseconds(((i - {lo}) * 86400000000 // {max(hi - lo, 1)})::BIGINT) AS ordered_at
                FROM range({lo}, {hi}) t(i) ORDER BY i
            ) TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {row_group})"""
        )
        out.append((key, path))
    con.close()
    return out


def upload(endpoint: str, files: list[tuple[str, Path]]) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    for key, path in files:
        s3.upload_file(str(path), BUCKET, key)


# ---------------------------------------------------------------- routes


def httpfs_extension() -> tuple[Path | None, str]:
    """The httpfs file shipped by duckdb-extension-httpfs for this DuckDB, or why there is none."""
    import duckdb

    spec = importlib.util.find_spec("duckdb_extension_httpfs")
    if spec is None or not spec.submodule_search_locations:
        return None, "package duckdb-extension-httpfs is not installed"
    root = Path(next(iter(spec.submodule_search_locations)))
    wanted = root / "extensions" / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
    if wanted.exists():
        return wanted, ""
    found = sorted(root.glob("extensions/*/httpfs.duckdb_extension"))
    if found:  # try it anyway: DuckDB refuses a mismatched one with a clear message
        return found[-1], f"package ships {found[-1].parent.name}, not v{duckdb.__version__}"
    return None, "no httpfs.duckdb_extension inside duckdb_extension_httpfs"


def connect(ext_dir: str):
    import duckdb

    con = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "extension_directory": ext_dir,
        },
    )
    con.execute("SET enable_progress_bar=false")
    return con


def make_routes(moto: Moto, ext_dir: str) -> tuple[dict, dict]:
    """name -> function returning a ready connection; name -> why a route is unavailable."""
    import duckdb
    import s3fs

    routes, unavailable = {}, {}

    def fsspec_route(**options):
        def ready():
            con = connect(ext_dir)
            fs = s3fs.S3FileSystem(
                endpoint_url=moto.endpoint, key="testing", secret="testing", skip_instance_cache=True, **options
            )
            con.register_filesystem(fs)
            return con

        return ready

    routes["fsspec"] = fsspec_route()
    routes["fsspec-nocache"] = fsspec_route(default_cache_type="none")
    shared = s3fs.S3FileSystem(endpoint_url=moto.endpoint, key="testing", secret="testing", skip_instance_cache=True)

    def fsspec_shared_ready():
        con = connect(ext_dir)
        con.register_filesystem(shared)
        return con

    routes["fsspec-shared"] = fsspec_shared_ready

    path, note = httpfs_extension()
    if path is None:
        unavailable["httpfs"] = note
    else:
        secret = (
            f"CREATE SECRET (TYPE s3, KEY_ID 'testing', SECRET 'testing', ENDPOINT '127.0.0.1:{moto.port}', "
            "URL_STYLE 'path', USE_SSL false, REGION 'us-east-1')"
        )

        def httpfs_ready():
            con = connect(ext_dir)
            con.execute(f"LOAD '{path}'")
            con.execute(secret)
            return con

        try:
            httpfs_ready().close()
            routes["httpfs"] = httpfs_ready
        except duckdb.Error as exc:  # the extension file doesn't fit this DuckDB
            unavailable["httpfs"] = f"{note + '; ' if note else ''}LOAD failed: {str(exc).splitlines()[0]}"
    return routes, unavailable


# ---------------------------------------------------------------- measuring


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--row-group", type=int, default=128 * 1024)
    parser.add_argument(
        "--server",
        choices=["thread", "process"],
        default="thread",
        help="moto in a thread of this process (default) or in a child process",
    )
    parser.add_argument("--python-note", default="", help="free text recorded with the results (which venv, why)")
    args = parser.parse_args()

    import duckdb

    t = time.perf_counter()
    import s3fs  # noqa: F401

    s3fs_import = time.perf_counter() - t

    scratch = tempfile.TemporaryDirectory(prefix="remote-read-")
    work = Path(scratch.name)
    ext_dir = str(work / "extensions")
    os.makedirs(ext_dir)

    moto = Moto(args.server)
    try:
        t = time.perf_counter()
        files = write_data(args.rows, args.files, args.row_group, work / "bucket")
        write_s = time.perf_counter() - t
        t = time.perf_counter()
        upload(moto.endpoint, files)
        upload_s = time.perf_counter() - t
        total_bytes = sum(p.stat().st_size for _, p in files)
        listing = ", ".join(f"'s3://{BUCKET}/{key}'" for key, _ in files)
        local_listing = ", ".join(f"'{p}'" for _, p in files)
        needle = NEEDLE if args.rows > NEEDLE else args.rows // 2
        queries = {
            "full_scan": f"SELECT count(*), sum(amount) FROM read_parquet([{listing}])",
            "selective": f"SELECT * FROM read_parquet([{listing}]) WHERE order_id = {needle}",
        }
        import pyarrow.parquet as pq

        row_groups = sum(pq.ParquetFile(p).num_row_groups for _, p in files)
        print(
            f"duckdb {duckdb.__version__}, python {platform.python_version()}, {os.cpu_count()} cores; "
            f"{args.rows:,} rows in {len(files)} files, {row_groups} row groups, {total_bytes / 1e6:.1f} MB "
            f"(written {write_s:.1f} s, uploaded {upload_s:.1f} s); moto in a {args.server}"
        )

        routes, unavailable = make_routes(moto, ext_dir)
        for name, why in unavailable.items():
            print(f"route {name} unavailable: {why}")

        def local_ready():
            return connect(ext_dir)

        answers: dict[str, dict] = {}
        results: dict[str, dict] = {}
        all_routes = {"local (baseline)": (local_ready, local_listing), **{n: (f, listing) for n, f in routes.items()}}
        for name, (ready_fn, paths) in all_routes.items():
            runs: dict[str, list[float]] = {"ready": [], "full_scan": [], "selective": []}
            traffic: dict[str, dict] = {}
            for _ in range(args.repeats):
                for qname, sql in queries.items():
                    sql = sql.replace(listing, paths)
                    moto.reset()
                    t0 = time.perf_counter()
                    con = ready_fn()
                    t1 = time.perf_counter()
                    rows = con.execute(sql).fetchall()
                    t2 = time.perf_counter()
                    con.close()
                    runs["ready"].append(t1 - t0)
                    runs[qname].append(t2 - t1)
                    traffic[qname] = moto.stats()  # the same every repeat: keep the last
                    answers.setdefault(qname, {})[name] = [
                        [f"{v:.2f}" if isinstance(v, float) else str(v) for v in r] for r in rows
                    ]
            results[name] = {
                "ready_s": round(statistics.median(runs["ready"]), 4),
                "full_scan_s": round(statistics.median(runs["full_scan"]), 4),
                "selective_s": round(statistics.median(runs["selective"]), 4),
                "runs": {k: [round(v, 4) for v in vs] for k, vs in runs.items()},
                "traffic": {} if name.startswith("local") else traffic,
            }

        mismatched = [q for q, by in answers.items() if len({json.dumps(v) for v in by.values()}) != 1]
        if mismatched:
            print(f"WARNING: routes disagree on {mismatched}: {answers}")

        print(f"\nmedian of {args.repeats}, fresh connection per query, seconds (requests / MB sent by moto)")
        print(f"{'route':18}{'ready':>9}{'full scan':>12}{'':>16}{'selective':>12}{'':>16}")
        for name, r in results.items():
            cells = []
            for q in ("full_scan", "selective"):
                tr = r["traffic"].get(q)
                moved = f"{tr['requests']:>6} / {tr['bytes_out'] / 1e6:6.2f}" if tr else f"{'':>16}"
                cells.append(f"{r[q + '_s']:>12.3f}{moved}")
            print(f"{name:18}{r['ready_s']:>9.4f}" + "".join(cells))
        for name, why in unavailable.items():
            print(f"{name:18}unavailable: {why}")
        print(f"s3fs import (once per process): {s3fs_import:.2f} s")

        document = {
            "duckdb": duckdb.__version__,
            "python": platform.python_version(),
            "python_note": args.python_note,
            "cores": os.cpu_count(),
            "rows": args.rows,
            "files": len(files),
            "row_groups": row_groups,
            "parquet_bytes": total_bytes,
            "repeats": args.repeats,
            "moto_server": args.server,
            "queries": {k: v.replace(listing, "[...]") for k, v in queries.items()},
            "s3fs_import_s": round(s3fs_import, 3),
            "results": results,
            "unavailable": unavailable,
            "answers_agree": not mismatched,
            "answers": {q: next(iter(by.values())) for q, by in answers.items()},
        }
        (HERE / "results").mkdir(exist_ok=True)
        (HERE / "results" / "remote_read.json").write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {HERE / 'results' / 'remote_read.json'}")
    finally:
        moto.stop()
        scratch.cleanup()


if __name__ == "__main__":
    sys.exit(main())

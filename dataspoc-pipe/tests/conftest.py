from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests (test_properties_*.py) are derandomized: each test's examples come from a seed
# derived from its own name, so every run, and CI, tries the same cases and never flakes on a
# newly found one. HYPOTHESIS_PROFILE=explore searches with fresh random examples instead.
settings.register_profile("ci", derandomize=True, deadline=None, database=None, print_blob=True)
settings.register_profile("explore", deadline=None, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO / "contract"
PIPE = Path(sys.executable).parent / "dataspoc-pipe"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Tests never see the developer's home, config or bucket settings."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for name in ("DATASPOC_BUCKET", "DATASPOC_PIPE_PROJECT", "DATASPOC_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def pipe(tmp_path):
    """Run the installed dataspoc-pipe as a subprocess in the test's folder."""

    def call(*args: str, env: dict | None = None, timeout: float = 120) -> Result:
        proc = subprocess.run(
            [str(PIPE), *args],
            cwd=tmp_path,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return call


@pytest.fixture(scope="session")
def moto_endpoint():
    """A real S3 API: moto's server over HTTP on a free loopback port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(moto_endpoint, monkeypatch):
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_endpoint,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def s3_bucket(s3_env):
    import boto3

    name = f"lake-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return f"s3://{name}"


@pytest.fixture(params=["local", "s3"])
def bucket_url(request, tmp_path):
    """The same tests on a local folder and on an S3 bucket served by moto."""
    if request.param == "local":
        return str(tmp_path / "bucket")
    return request.getfixturevalue("s3_bucket")


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_bucket_json(bucket_url: str, rel: str):
    import fsspec

    fs, root = fsspec.core.url_to_fs(bucket_url)
    with fs.open(f"{root.rstrip('/')}/{rel}", "rb") as handle:
        return json.load(handle)


def bucket_fs(bucket_url: str):
    import fsspec

    fs, root = fsspec.core.url_to_fs(bucket_url)
    return fs, root.rstrip("/")


def schema_validator(name: str):
    from jsonschema import Draft202012Validator

    vendored = REPO / "dataspoc-pipe" / "src" / "dataspoc_pipe" / "contract" / "schemas" / f"{name}.schema.json"
    return Draft202012Validator(json.loads(vendored.read_text()))


def write_project(tmp_path: Path, pipelines: dict, bucket: str | None = None) -> Path:
    """A project file with these pipelines ({name: {"source": {...}, "target": {...}}}) and a
    bucket folder ready to write to."""
    import yaml

    if bucket is None:
        (tmp_path / "bucket").mkdir(exist_ok=True)
    elif "://" not in bucket:
        Path(bucket).mkdir(parents=True, exist_ok=True)
    document = {"version": 1, "bucket": bucket or "./bucket", "pipelines": pipelines}
    path = tmp_path / "dataspoc-pipe.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def one_csv_pipeline(tmp_path: Path, files: dict[str, bytes | str], kind: str = "csv", **source) -> None:
    """data/<name> files and a pipeline 'orders' reading data/* into raw/shop/orders."""
    for name, content in files.items():
        path = tmp_path / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    source = {"kind": kind, "path": "data/*", **source}
    write_project(tmp_path, {"orders": {"source": source, "target": {"namespace": "shop"}}})


def table_rows(bucket_url: str, location: str) -> list[dict]:
    """Every row of a table, read from the files the manifest lists."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    manifest = read_bucket_json(bucket_url, ".dataspoc/manifest.json")
    [table] = [t for t in manifest["tables"] if t["location"] == location]
    fs, root = bucket_fs(bucket_url)
    parts = [pq.read_table(fs.open(f"{root}/{f['path']}", "rb")) for p in table["partitions"] for f in p["files"]]
    return pa.concat_tables(parts, promote_options="permissive").to_pylist()


def _postgres_bin() -> Path:
    import glob as globbing

    found = sorted(globbing.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL is not installed: run `make system-deps` (Debian's postgresql package)")
    return Path(found[-1]).parent


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """A real PostgreSQL server on 127.0.0.1 with a throwaway data directory."""
    import pwd
    import shutil
    import tempfile

    bin_dir = _postgres_bin()
    home = Path(tempfile.mkdtemp(prefix="dataspoc-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        user = pwd.getpwnam("postgres")
        os.chown(home, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = home / "data"
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        capture_output=True,
    )
    # postgres itself is trusted (the tests' admin); every other role logs in with its password
    (data / "pg_hba.conf").write_text(
        "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
    )
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    yield f"postgresql://postgres@127.0.0.1:{port}"
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def postgres_db(postgres_server):
    """A fresh database on the session's server: (URL, a psycopg connection in autocommit)."""
    import psycopg

    name = f"db_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = f"{postgres_server}/{name}"
    conn = psycopg.connect(url, autocommit=True)
    yield url, conn
    conn.close()


class Api:
    """A JSON API on 127.0.0.1: tests set `route(path) -> (status, headers, body)` and read the
    requests it got."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qsl, urlsplit

        self.routes: dict = {}
        self.requests: list[dict] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urlsplit(self.path)
                request = {"path": parts.path, "query": dict(parse_qsl(parts.query)), "headers": dict(self.headers)}
                api.requests.append(request)
                route = api.routes.get(parts.path)
                status, headers, body = route(request) if route else (404, {}, {"error": "no route"})
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                headers = {"Content-Type": "application/json", **headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api():
    server = Api()
    yield server
    server.close()


def _uv() -> str:
    import shutil

    found = os.environ.get("UV") or shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        pytest.fail("uv not found: run the tests through `make test`")
    return found


def tap_from_pypi(package: str, executable: str) -> Path:
    """A Singer tap from PyPI in its own venv under .tools/taps/ (made once, then reused)."""
    import fcntl

    home = REPO / ".tools" / "taps" / package
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / f"{package}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers install it once
        tap = home / "bin" / executable
        if not tap.exists():
            env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
            subprocess.run([_uv(), "venv", "--quiet", "--python", sys.executable, str(home)], check=True, env=env)
            subprocess.run(
                [_uv(), "pip", "install", "--quiet", "--python", str(home / "bin" / "python"), package],
                check=True,
                env=env,
            )
    return tap


FIXTURE_TAP = '''#!{python}
"""A Singer tap for tests: streams, state, stderr noise and failures on demand (env FIXTURE_*)."""
import json, os, sys

args = sys.argv[1:]
def arg(name):
    return args[args.index(name) + 1] if name in args else None

config = json.load(open(arg("--config"))) if arg("--config") else {{}}
if config.get("token") != os.environ.get("FIXTURE_EXPECT_TOKEN", config.get("token")):
    print("bad token", file=sys.stderr); sys.exit(2)
streams = {{
    "public-orders": {{"properties": {{"id": {{"type": "integer"}}, "at": {{"type": ["null", "string"], "format": "date-time"}},
                                      "amount": {{"type": ["null", "number"]}}}}}},
    "customers": {{"properties": {{"id": {{"type": "integer"}}, "name": {{"type": ["null", "string"]}}}}}},
}}
if "--discover" in args:
    print(json.dumps({{"streams": [{{"tap_stream_id": s, "stream": s, "schema": schema, "metadata": []}} for s, schema in streams.items()]}}))
    sys.exit(0)
selected = set(streams)
if arg("--catalog"):
    catalog = json.load(open(arg("--catalog")))
    selected = {{e["tap_stream_id"] for e in catalog["streams"]
                 if any(m["breadcrumb"] == [] and m["metadata"].get("selected") for m in e["metadata"])}}
state = json.load(open(arg("--state"))) if arg("--state") else {{}}
start = state.get("bookmarks", {{}}).get("public-orders", 0)
out = sys.stdout
def emit(message):
    out.write(json.dumps(message) + "\\n")
noise = int(os.environ.get("FIXTURE_STDERR_MB", "0"))
for _ in range(noise * 1024):
    sys.stderr.write("x" * 1023 + "\\n")
mode = os.environ.get("FIXTURE_MODE", "")
if mode == "hang":
    import time
    out.flush()
    time.sleep(60)
if mode == "record-first":
    emit({{"type": "RECORD", "stream": "customers", "record": {{"id": 1}}}})
if "customers" in selected:
    emit({{"type": "SCHEMA", "stream": "customers", "schema": streams["customers"], "key_properties": ["id"]}})
emit({{"type": "SCHEMA", "stream": "public-orders", "schema": streams["public-orders"], "key_properties": ["id"]}})
count = int(os.environ.get("FIXTURE_ORDERS", "5"))
for i in range(start + 1, start + count + 1):
    emit({{"type": "RECORD", "stream": "public-orders", "record": {{"id": i, "at": "2026-11-22T03:00:00.250+01:00", "amount": i * 1.5, "note": config.get("start_date") or "n%d" % i}}}})
    if "customers" in selected and i % 2 == 0:
        emit({{"type": "RECORD", "stream": "customers", "record": {{"id": i, "name": "c%d" % i}}}})
    if mode == "die" and i == start + 2:
        out.flush(); print("database went away", file=sys.stderr); sys.exit(3)
    if mode == "garbage" and i == start + 2:
        out.write("Connecting to the database...\\n")
if mode == "sorted-keys":  # a tap writing keys in sorted order: "record" before "stream"
    out.write(json.dumps({{"record": {{"id": 99, "stream": "customers", "type": "STATE"}}, "stream": "public-orders", "type": "RECORD"}}, sort_keys=True) + "\\n")
if mode == "no-final-newline":
    out.write(json.dumps({{"type": "STATE", "value": {{"bookmarks": {{"public-orders": start + count}}}}}}))
    sys.exit(0)
emit({{"type": "STATE", "value": {{"bookmarks": {{"public-orders": start + count}}}}}})
if mode == "cut":
    out.write('{{"type": "RECORD", "stream": "public-orders", "rec')
'''


@pytest.fixture
def fixture_tap(tmp_path) -> Path:
    path = tmp_path / "tap-fixture"
    path.write_text(FIXTURE_TAP.format(python=sys.executable))
    path.chmod(0o755)
    return path


def bucket_untouched(tmp_path) -> bool:
    bucket = tmp_path / "bucket"
    return not list(bucket.rglob("*.parquet")) and not list(bucket.rglob("state.json"))


def refused(pipe, tmp_path, *fragments):
    """Run 'orders' and check it fails on bad data with one line holding every fragment, leaving
    the bucket as it was but for a failed run log."""
    from dataspoc_pipe.errors import ExitCode

    result = pipe("run", "orders")
    assert result.code == ExitCode.DATA, result.stderr
    [line] = result.stderr.strip().splitlines()
    for fragment in fragments:
        assert fragment in line, line
    assert "Traceback" not in result.stderr
    assert bucket_untouched(tmp_path)
    [log] = [json.loads(p.read_text()) for p in (tmp_path / "bucket" / ".dataspoc" / "logs").rglob("*.json")]
    assert log["status"] == "failed" and log["rows_written"] == 0
    return line

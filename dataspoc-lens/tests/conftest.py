from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

from lake import Lake

# Property tests (test_properties_*.py) are derandomized: each test's examples come from a seed
# derived from its own name, so every run, and CI, tries the same cases and never flakes on a
# newly found one. HYPOTHESIS_PROFILE=explore searches with fresh random examples instead.
settings.register_profile("ci", derandomize=True, deadline=None, database=None, print_blob=True)
settings.register_profile("explore", deadline=None, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

LENS = Path(sys.executable).parent / "dataspoc-lens"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Tests never see the developer's machine: HOME, XDG dirs and DuckDB's files live in tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    for var in (
        "DATASPOC_BUCKET",
        "DATASPOC_DEBUG",
        "DATASPOC_ML_BIN",
        "DATASPOC_LENS_HOME",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.chdir(tmp_path)
    yield
    assert not (home / ".duckdb").exists(), "DuckDB wrote to ~/.duckdb"


@pytest.fixture
def duckdb_extensions(tmp_path) -> str:
    """Where in-process DuckDB connections keep extensions."""
    return str(tmp_path / "duckdb-extensions")


@pytest.fixture(scope="session")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(moto_endpoint, monkeypatch) -> str:
    """A fresh, empty S3 bucket on the moto server; AWS_ENDPOINT_URL points at it."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    name = f"lens-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def local_lake(tmp_path) -> Lake:
    return Lake.local(tmp_path / "bucket")


@pytest.fixture
def s3_lake(s3_bucket) -> Lake:
    return Lake.s3(s3_bucket)


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def lens() -> Callable[..., Result]:
    """Run the installed dataspoc-lens script; stdout and stderr come back apart."""

    def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 60) -> Result:
        full_env = {**os.environ, **(env or {})}
        done = subprocess.run(
            [str(LENS), *args], input=stdin, capture_output=True, text=True, env=full_env, timeout=timeout
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on: a bucket endpoint that cannot be reached."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

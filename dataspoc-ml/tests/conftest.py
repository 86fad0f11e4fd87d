from __future__ import annotations

import json
import os
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

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
CONTRACT_ROOT = PACKAGE_ROOT.parent / "contract"
VENDORED = PACKAGE_ROOT / "src" / "dataspoc_ml" / "contract" / "schemas"
EXE = Path(sys.executable).parent / "dataspoc-ml"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Tests never see the developer's machine."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    monkeypatch.delenv("DATASPOC_BUCKET", raising=False)
    monkeypatch.delenv("DATASPOC_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    # dummies, always: the tests must never reach a real account
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(var, None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    yield endpoint
    server.stop()
    if previous is None:
        os.environ.pop("AWS_ENDPOINT_URL", None)
    else:
        os.environ["AWS_ENDPOINT_URL"] = previous


@pytest.fixture
def s3_bucket(moto_endpoint) -> str:
    """A fresh, empty S3 bucket on the moto server; returns its s3:// URL."""
    import boto3

    name = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=name)
    return f"s3://{name}"


@pytest.fixture
def local_bucket(tmp_path) -> str:
    path = tmp_path / "bucket"
    path.mkdir()
    return str(path)


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def ml():
    """Run the installed dataspoc-ml as a subprocess; returns Result(code, stdout, stderr)."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
        full_env = dict(os.environ, **(env or {}))
        done = subprocess.run([str(EXE), *args], capture_output=True, text=True, env=full_env, timeout=timeout)
        return Result(done.returncode, done.stdout, done.stderr)

    return run

from __future__ import annotations

import json
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN_DIRS = [REPO / f"dataspoc-{tool}" / ".venv" / "bin" for tool in ("pipe", "lens", "ml")]


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


@pytest.fixture(params=["local", "s3"])
def bucket_url(request, tmp_path):
    if request.param == "local":
        return str(tmp_path / "bucket")
    return request.getfixturevalue("s3_bucket_url")


def read_json(bucket_url: str, rel: str):
    import fsspec

    fs, root = fsspec.core.url_to_fs(bucket_url)
    with fs.open(f"{root.rstrip('/')}/{rel}", "rb") as handle:
        return json.load(handle)


def validator(schema: str):
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads((REPO / "contract" / "schemas" / f"{schema}.schema.json").read_text()))

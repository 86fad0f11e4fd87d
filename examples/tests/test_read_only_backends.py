"""Lens's read-only mode on every backend: a folder, S3 (moto), Azure Blob (Azurite) and GCS
(fake-gcs-server). A small table is published with the installed dataspoc-pipe; then every
escape attempt runs through the installed dataspoc-lens: all of them in one `shell` (driven
through a pseudo-terminal, since the shell wants one), and one of each kind of refusal also as
`query` with the SQL on stdin, as is `--output` naming a file in the bucket. Each must be
refused with its one-line error (and, for `query`, its exit code and nothing on stdout);
afterwards the bucket, a second bucket of the same backend and every local file (the test's
folder: the working directory, HOME and TMPDIR) are byte-for-byte as they were, the shell's
history aside.

Writes aimed at the store use that backend's own URLs (`COPY ... TO 's3://…'`, `ATTACH
'az://…'`, `EXPORT DATABASE 'gs://…'`), also hidden from the statement-type check behind
PREPARE/EXECUTE and EXPLAIN ANALYZE, where only DuckDB's locked configuration and the read-only
filesystem Lens reads remote buckets through stand in the way. `COPY FROM DATABASE` is not
tried: DuckDB parses it as a PRAGMA, and with ATTACH refused it has no database to write to."""

from __future__ import annotations

import hashlib
import os
import pty
import re
import select
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import Result, bucket_fs

SECRET_OBJECT = "the other bucket's content, never to be read"
PASSWD = re.compile(r"root:.*:0:0:")

BY_TYPE = "dataspoc-lens queries are read-only"
OUTSIDE = "dataspoc-lens queries read the bucket's tables only; pass --write to COPY to a folder"
# what each kind of refusal prints (after "error: "), and `query`'s exit code for it
REFUSALS = {
    "copy": (2, re.escape(f"COPY writes files: {BY_TYPE}; pass --write to COPY results to files outside the bucket")),
    "export": (2, re.escape(f"EXPORT writes files: {BY_TYPE}")),
    "attach": (2, re.escape(f"ATTACH opens another database: {BY_TYPE}")),
    "detach": (2, re.escape(f"DETACH changes the databases: {BY_TYPE}")),
    "extension": (2, re.escape(f"INSTALL and LOAD add extensions: {BY_TYPE}")),
    # DuckDB's locked configuration (lock_configuration): SET, RESET, PRAGMA, enable_logging
    "locked": (2, (r"setting \w+ cannot be changed: dataspoc-lens locks DuckDB's settings so that queries stay "
                   r"read-only")),
    # a path DuckDB's configuration does not allow, or a write the read-only filesystem refuses
    "path": (2, (r'(Cannot access (file|directory) "[^"]*"|it cannot (write \S+|change it)|\S+ is outside the '
                 rf"bucket): {re.escape(OUTSIDE)}")),
    # DuckDB's secret manager cannot reach its folder, so it fails to start: at the first secret
    # statement for want of access, and at every one after it (in the shell) as half-started
    "secret": (2, r'Cannot access directory "[^"]*/\.duckdb/stored_secrets": ' + re.escape(OUTSIDE)
                  + "|" + re.escape("query failed: Secret Storage with name 'memory' already registered!")),
    # a result file (--output, .export) named in the bucket: a local bucket's folder, or a remote
    # bucket's URL, which names no local folder
    "output": (2, (r"\S+ is inside the bucket \S+: dataspoc-lens never writes into the bucket; write the result "
                   r"outside it|--output \S+: folder \S+ does not exist")),
}


@dataclass(frozen=True)
class Escape:
    name: str
    sql: str  # {bucket}: the bucket's URL; {other}: another bucket's; {outside}: a local folder; {secret}
    refusal: str
    query: bool = False  # also as its own `dataspoc-lens query` (one of each kind; the shell runs them all)


ESCAPES = [
    # writes into the store, by statement type and hidden from it
    Escape("copy into the bucket", "COPY (SELECT 1 AS a) TO '{bucket}/raw/src/things/evil.parquet' (FORMAT parquet)",
           "copy", query=True),
    Escape("copy over the manifest", "COPY (SELECT 1 AS a) TO '{bucket}/.dataspoc/manifest.json'", "copy"),
    Escape("copy into another bucket", "COPY raw.src.things TO '{other}/stolen.csv'", "copy"),
    Escape("copy to a local file", "COPY raw.src.things TO '{outside}/stolen.csv'", "copy"),
    Escape("copy after a select", "SELECT 1 AS one; COPY (SELECT 1 AS a) TO '{bucket}/raw/evil.csv'", "copy"),
    Escape("copy prepared", "PREPARE p AS COPY (SELECT 1 AS a) TO '{bucket}/raw/evil.csv'; EXECUTE p", "path"),
    Escape("copy explained", "EXPLAIN ANALYZE COPY (SELECT 1 AS a) TO '{bucket}/raw/src/things/evil.csv'", "path",
           query=True),
    Escape("copy explained to another bucket", "EXPLAIN ANALYZE COPY (SELECT 1 AS a) TO '{other}/evil.csv'", "path"),
    Escape("copy explained to a local file", "EXPLAIN ANALYZE COPY (SELECT 1 AS a) TO '{outside}/evil.csv'", "path"),
    Escape("export into the bucket", "EXPORT DATABASE '{bucket}/dump'", "export"),
    Escape("export to a local folder", "EXPORT DATABASE '{outside}/dump'", "export"),
    Escape("import a local dump", "IMPORT DATABASE '{outside}/dump'", "path"),
    # other databases
    Escape("attach in the bucket", "ATTACH '{bucket}/evil.duckdb' AS evil", "attach", query=True),
    Escape("attach a local file", "ATTACH '{outside}/evil.duckdb' AS evil", "attach"),
    Escape("detach a layer", "DETACH raw", "detach"),
    # extensions
    Escape("install", "INSTALL httpfs", "extension"),
    Escape("install from a repository", "FORCE INSTALL httpfs FROM 'http://127.0.0.1:9'", "extension"),
    Escape("load", "LOAD httpfs", "extension"),
    Escape("load a file", "LOAD '{outside}/evil.duckdb_extension'", "extension"),
    # settings
    Escape("external access", "SET enable_external_access = true", "locked", query=True),
    Escape("unlock", "SET lock_configuration = false", "locked"),
    Escape("reset the allowed folders", "RESET allowed_directories", "locked"),
    Escape("widen the allowed folders", "SET allowed_directories = ['/']", "locked"),
    Escape("autoinstall", "SET autoinstall_known_extensions = true", "locked"),
    Escape("temp directory", "SET temp_directory = '{outside}'", "locked"),
    Escape("profiling output", "PRAGMA profiling_output = '{outside}/profile.json'", "locked"),
    Escape("query log", "SET log_query_path = '{outside}/queries.log'", "locked"),
    Escape("logging to a file", "CALL enable_logging(storage = 'file', storage_config = {{'path': '{outside}/log'}})",
           "locked"),
    # credentials: a secret with which DuckDB itself could write to the store
    Escape("create a secret", "{secret}", "secret", query=True),
    Escape("create a persistent secret", "CREATE PERSISTENT SECRET keep (TYPE http, BEARER_TOKEN 'token')", "secret"),
    Escape("list the secrets", "SELECT * FROM duckdb_secrets()", "secret"),
    # reads outside the bucket
    Escape("read another bucket", "SELECT * FROM read_text('{other}/secret.txt')", "path"),
    Escape("read /etc/passwd", "SELECT * FROM read_text('/etc/passwd')", "path"),
    Escape("read a key in home", "SELECT * FROM read_csv('~/.ssh/id_rsa')", "path"),
    Escape("glob a local folder", "SELECT * FROM glob('{outside}/*')", "path"),
    Escape("read a URL", "SELECT * FROM read_text('http://127.0.0.1:9/x')", "path"),
    Escape("a view over a local file", "CREATE VIEW peek AS SELECT * FROM read_text('/etc/hostname'); "
           "SELECT * FROM peek", "path"),
]



def secret_sql(scheme: str) -> str:
    """CREATE SECRET with what would let DuckDB itself write to this backend's emulator (dummy
    keys; a folder gets S3's)."""
    if scheme == "az":
        endpoint = re.search(r"BlobEndpoint=([^;]+)", os.environ["AZURE_STORAGE_CONNECTION_STRING"]).group(1)
        return (f"CREATE SECRET lake (TYPE azure, CONNECTION_STRING 'DefaultEndpointsProtocol=http;"
                f"AccountName=dataspoc;AccountKey=a2V5;BlobEndpoint={endpoint};')")
    if scheme == "gs":
        endpoint = os.environ["STORAGE_EMULATOR_HOST"]
        return f"CREATE SECRET lake (TYPE gcs, KEY_ID 'testing', SECRET 'testing', ENDPOINT '{endpoint}')"
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:9").split("://")[1]
    return (f"CREATE SECRET lake (TYPE s3, KEY_ID 'testing', SECRET 'testing', ENDPOINT '{endpoint}', "
            "URL_STYLE 'path', USE_SSL false)")


def snapshot_bucket(url: str) -> dict[str, str]:
    """Every object of a bucket, by path, with the SHA-256 of its bytes."""
    fs, root = bucket_fs(url)
    fs.invalidate_cache()
    return {path: hashlib.sha256(fs.cat_file(path)).hexdigest() for path in sorted(fs.find(root))}


def snapshot_local(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def other_bucket(url: str, tmp_path: Path) -> str:
    """A second bucket on the same backend, holding one object no query may read."""
    if "://" not in url:
        other = tmp_path / "other-bucket"
        other.mkdir()
        (other / "secret.txt").write_text(SECRET_OBJECT)
        return str(other)
    fs, _ = bucket_fs(url)
    name = f"other-{uuid.uuid4().hex[:10]}"
    fs.mkdir(name)
    fs.pipe_file(f"{name}/secret.txt", SECRET_OBJECT.encode())
    return f"{url.split('://')[0]}://{name}"


def place(escape: Escape, values: dict[str, str]) -> str:
    return escape.sql.format(**values)


def lens_query(sql: str, bucket_url: str, cwd: Path) -> Result:
    proc = subprocess.run(
        ["dataspoc-lens", "query", "--bucket", bucket_url, "--format", "csv"],
        input=sql, cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[>=]|\x1b\][^\x07]*\x07")


def lens_shell(bucket_url: str, inputs: list[str], cwd: Path, timeout: float = 120) -> tuple[int, list[tuple[str, str]]]:
    """Type `inputs` into `dataspoc-lens shell` at a pseudo-terminal (a dumb one: no colours,
    no cursor reports) and leave with .quit; its exit code, and each input with what followed it."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "dumb", "PAGER": "cat", "COLUMNS": "1000", "LINES": "50"}
    process = subprocess.Popen(
        ["dataspoc-lens", "shell", "--bucket", bucket_url],
        stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env, start_new_session=True,
    )
    os.close(slave)
    typed = "".join(text + "\r" for text in [*inputs, ".quit"])
    os.write(master, typed.encode())  # prompt_toolkit reads what was typed ahead, one input at a time
    received = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the shell ended: the terminal is gone
                break
            if not chunk:
                break
            received += chunk
        else:
            process.kill()
            pytest.fail(f"the shell did not end: {received.decode(errors='replace')[-3000:]}")
        code = process.wait(timeout=30)
    finally:
        os.close(master)
    text = ANSI.sub("", received.decode(errors="replace")).replace("\r", "")
    banner = re.search(r"^dataspoc-lens shell on .*$", text, re.MULTILINE)
    assert banner, text
    answers = []
    for part in text[banner.end():].split("lens> ")[1:]:
        echo, _, rest = part.partition("\n")
        answers.append((echo, rest))
    return code, answers


def one_error(output: str, refusal: str) -> re.Match | None:
    return re.fullmatch(rf"error: ({REFUSALS[refusal][1]})\n", output)


def test_every_escape_is_refused_on_every_backend_and_nothing_changes(cli, tmp_path, bucket_url, monkeypatch):
    scheme = bucket_url.split("://")[0] if "://" in bucket_url else "file"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "things.csv").write_text("id,name\n1,apple\n2,pear\n")
    pipeline = {"source": {"kind": "csv", "path": "data/things.csv"}, "target": {"namespace": "src"}}
    document = {"version": 1, "bucket": bucket_url, "pipelines": {"things": pipeline}}
    (tmp_path / "dataspoc-pipe.yaml").write_text(yaml.safe_dump(document))
    if scheme == "file":
        Path(bucket_url).mkdir()
    published = cli("dataspoc-pipe", "run", "--all")
    assert published.code == 0, published.stderr
    outside = tmp_path / "outside"
    (outside / "dump").mkdir(parents=True)
    (outside / "dump" / "schema.sql").write_text("CREATE TABLE evil (a INTEGER);\n")
    (outside / "dump" / "load.sql").write_text("")
    key = tmp_path / "home" / ".ssh" / "id_rsa"
    key.parent.mkdir(parents=True)
    key.write_text("PRIVATE KEY\n")
    scratch = tmp_path / "tmp"  # the temp files of every process, under the snapshot
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    values = {
        "bucket": bucket_url,
        "other": other_bucket(bucket_url, tmp_path),
        "outside": str(outside),
        "secret": secret_sql(scheme),
    }
    before = {"bucket": snapshot_bucket(bucket_url), "other": snapshot_bucket(values["other"])}
    local_before = snapshot_local(tmp_path)
    assert any(path.endswith(".parquet") for path in before["bucket"]) and before["other"]

    # query: one escape of each kind, each its own process, the SQL on stdin
    for escape in [e for e in ESCAPES if e.query]:
        sql = place(escape, values)
        result = lens_query(sql, bucket_url, tmp_path)
        code, _ = REFUSALS[escape.refusal]
        assert result.code == code and one_error(result.stderr, escape.refusal), (escape.name, sql, result)
        assert result.stdout == "", (escape.name, result.stdout)
    into = f"{bucket_url}/raw/src/things/evil.csv"  # --output naming a file in the bucket
    result = cli("dataspoc-lens", "query", "SELECT 1 AS a", "--bucket", bucket_url, "--output", into)
    assert result.code == 2 and one_error(result.stderr, "output"), result

    # the shell: every escape in one session; it reports each and goes on
    inputs = [".format csv", "SELECT count(*) AS n FROM raw.src.things;"]
    inputs += [place(escape, values) + ";" for escape in ESCAPES]
    inputs += [f".export csv {bucket_url}/raw/src/things/evil.csv", "SELECT name FROM raw.src.things ORDER BY id;"]
    code, answers = lens_shell(bucket_url, inputs, tmp_path)
    assert code == 0
    assert [echo for echo, _ in answers] == [*inputs, ".quit"], answers
    assert answers[1][1] == "n\n2\n", answers[1]
    for escape, (echo, output) in zip(ESCAPES, answers[2:], strict=False):
        assert one_error(output, escape.refusal), (escape.name, echo, output)
    assert one_error(answers[-3][1], "output"), answers[-3]
    assert answers[-2][1] == "name\napple\npear\n", answers[-2]
    everything = "".join(output for _, output in answers)
    assert SECRET_OBJECT not in everything and "PRIVATE KEY" not in everything and not PASSWD.search(everything)

    assert snapshot_bucket(bucket_url) == before["bucket"]
    assert snapshot_bucket(values["other"]) == before["other"]
    local_after = snapshot_local(tmp_path)
    home = Path("home") / ".dataspoc-lens"
    own = {str(home / "history"), str(home / "validated-manifests.json")}  # the shell history, validated manifests
    assert {k: v for k, v in local_after.items() if k not in own} == local_before

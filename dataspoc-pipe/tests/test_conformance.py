"""The modules the three tools share by copy behave alike: every scenario in
contract/conformance/shared-modules.json, run against dataspoc-pipe's own bucket, console,
diagnostics and errors, gives the outcome, exit code and wording written there.

dataspoc-lens and dataspoc-ml run this same file against theirs (`make contract-sync` copies it,
`make contract-check` fails when a copy drifts), so the same problem gets the same answer from
every tool, through the installed command line too.
"""

from __future__ import annotations

import builtins
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dataspoc_pipe
from dataspoc_pipe import bucket as buckets
from dataspoc_pipe import console, diagnostics, errors

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = json.loads((REPO / "contract" / "conformance" / "shared-modules.json").read_text())
TOOL = diagnostics.TOOL
PKG = dataspoc_pipe.__name__.removeprefix("dataspoc_")
EXE = Path(sys.executable).parent / TOOL


def fill(text: str, **extra: str) -> str:
    for key, value in {"tool": TOOL, "pkg": PKG, **extra}.items():
        text = text.replace("{" + key + "}", value)
    return text


def make_exception(case: dict) -> BaseException:
    name, message = case["raise"], case.get("message")
    if name.startswith("error:"):
        cls = getattr(errors, name.removeprefix("error:"))
    elif isinstance(getattr(builtins, name, None), type):
        cls = getattr(builtins, name)
    else:  # a cloud client's exception: the bucket recognises those by class name
        cls = type(name, (Exception,), {})
    exc = cls(message) if message else cls()
    if "status" in case:  # the HTTP status a client's exception carries: Azure's status_code
        exc.status_code = case["status"]
    if "code" in case:  # gcsfs's HttpError code
        exc.code = case["code"]
    return exc


def by_id(cases: list[dict]) -> list:
    return [pytest.param(case, id=case.get("id") or case.get("url") or case.get("call")) for case in cases]


def test_exit_codes():
    assert {code.name: code.value for code in errors.ExitCode} == SCENARIOS["exit_codes"]


@pytest.mark.parametrize("case", SCENARIOS["error_classes"], ids=lambda case: case["name"])
def test_shared_error_classes(case):
    cls = getattr(errors, case["name"])
    assert cls.exit_code == case["exit"]
    assert issubclass(cls, getattr(errors, case.get("parent", f"{PKG.capitalize()}Error")))


@pytest.mark.parametrize("case", by_id(SCENARIOS["diagnose"]))
def test_diagnose(case):
    outcome = diagnostics.diagnose(make_exception(case))
    assert outcome.code == case["exit"]
    if case.get("quiet"):
        assert outcome.message is None
        return
    assert outcome.message is not None and "\n" not in outcome.message
    if "line" in case:
        assert outcome.message == case["line"]
    for words in case.get("says", []):
        assert fill(words) in outcome.message
    for words in case.get("never", []):
        assert words not in outcome.message


@pytest.mark.parametrize("case", SCENARIOS["debug_env"], ids=lambda case: repr(case["value"]))
def test_debug_from_env(case):
    assert diagnostics.debug_from_env({diagnostics.DEBUG_ENV: case["value"]}) is case["debug"]


@pytest.mark.parametrize("case", by_id(SCENARIOS["bucket_urls"]))
def test_bucket_urls(case):
    if "error" in case:
        with pytest.raises(getattr(errors, case["error"])) as info:
            buckets.Bucket(case["url"])
        message = str(info.value)
        assert all(words in message for words in case["says"]), message
        assert not any(words in message for words in case.get("never", [])), message
        return
    bucket = buckets.Bucket(case["url"])
    assert bucket.is_local is case["local"]
    if "display" in case:
        assert bucket.display() == case["display"]


@pytest.mark.parametrize("case", by_id(SCENARIOS["storage_failures"]))
def test_storage_failures(case, monkeypatch):
    monkeypatch.setattr(buckets.time, "sleep", lambda seconds: None)
    calls = []

    def action():
        calls.append(1)
        raise make_exception(case)

    expected = getattr(errors, case["error"], None) or getattr(builtins, case["error"])
    with pytest.raises(expected) as info:
        buckets.retrying(action, "read s3://lake/x", case["scheme"])
    assert len(calls) == case["attempts"]
    assert all(words in str(info.value) for words in case.get("says", [])), str(info.value)
    assert not any(words in str(info.value) for words in case.get("never", [])), str(info.value)


def test_missing_backend_names_the_extra(monkeypatch):
    monkeypatch.setitem(buckets.BACKENDS, "zz", ("zz", "dataspoc_absent_backend", "zz"))
    with pytest.raises(errors.MissingBackend) as info:
        _ = buckets.Bucket("zz://lake").fs
    assert str(info.value) == f"zz:// buckets need dataspoc_absent_backend: pip install '{TOOL}[zz]'"


@pytest.mark.parametrize("url", ["local", "memory"])
def test_bucket_documents(url, tmp_path):
    bucket = buckets.Bucket(str(tmp_path / "lake") if url == "local" else f"memory://conformance-{PKG}-{os.getpid()}")
    assert bucket.read_json("a/doc.json") is None and not bucket.exists("a/doc.json")
    bucket.write_json("a/doc.json", {"k": [1, "é"]})
    bucket.write_bytes("a/b/raw.bin", b"\x00\x01")
    assert bucket.read_json("a/doc.json") == {"k": [1, "é"]}
    assert bucket.read_bytes("a/b/raw.bin") == b"\x00\x01"
    assert bucket.list("a") == ["a/b", "a/doc.json"]
    assert bucket.list("nowhere") == []
    bucket.write_bytes("a/bad.json", b"{not json")
    with pytest.raises(errors.ContractError, match=r"bad\.json is not valid JSON"):
        bucket.read_json("a/bad.json")
    bucket.delete("a/doc.json")
    bucket.delete("a/doc.json")  # deleting what is gone is not an error
    assert not bucket.exists("a/doc.json")
    with (
        bucket.lock("x.lock", owner="first"),
        pytest.raises(errors.LockTimeout, match=r"x\.lock is held by another writer"),
        bucket.lock("x.lock", owner="second", timeout=0.2),
    ):
        pass
    with bucket.lock("x.lock", owner="second", timeout=0.2):
        pass


def test_bucket_that_is_missing_or_a_file(tmp_path):
    with pytest.raises(errors.BucketNotFound, match="typo does not exist"):
        buckets.Bucket(str(tmp_path / "typo")).check_exists()
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(errors.BucketNotFound, match="is a file, not a folder"):
        buckets.Bucket(str(tmp_path / "a-file")).check_exists()
    assert buckets.Bucket(str(tmp_path / "a-file")).read_json(".dataspoc/manifest.json") is None


@pytest.mark.parametrize("case", by_id(SCENARIOS["console"]))
def test_console(case, capsys):
    getattr(console, case["call"])(case["text"])
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (case["stdout"], case["stderr"])


@pytest.mark.parametrize("forced", [False, True])
def test_console_loads_rich_only_to_draw_on_a_terminal(forced):
    """A cron job's stderr (a pipe here) gets plain lines and no rich import; FORCE_COLOR, as
    rich reads it, draws in colour."""
    code = (
        f"import sys; from {dataspoc_pipe.__name__} import console\n"
        "console.warn('slow'); console.say('[x] done')\n"
        "with console.progress() as bar:\n    bar.update(bar.add_task('t', rows=0), rows=3)\n"
        "print('rich' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR")}
    if forced:
        env["FORCE_COLOR"] = "1"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{forced}\n"
    if forced:
        assert "\x1b[33mwarning: \x1b[0mslow" in done.stderr and "[x] done" in done.stderr
    else:
        assert done.stderr == "warning: slow\n[x] done\n"
    closed = subprocess.run(  # stderr closed at start (`2>&-`): nothing said, nothing raised
        ["sh", "-c", '"$0" -c "$1" 2>&-', sys.executable, code], capture_output=True, text=True, env=env, timeout=60
    )
    assert (closed.returncode, closed.stdout) == (0, f"{forced}\n"), closed.stderr


@pytest.fixture
def cli_env(tmp_path, request):
    """The environment each CLI case runs in: no developer settings, no credentials but the case's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DATASPOC_", "GOOGLE_", "AZURE_"))}
    env.update(
        HOME=str(tmp_path / "home"),
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_DEFAULT_REGION="us-east-1",
    )
    (tmp_path / "a-file").write_text("not a folder")
    hidden = tmp_path / "hidden"  # gcsfs made unimportable, whether installed or not
    (hidden / "gcsfs").mkdir(parents=True)
    (hidden / "gcsfs" / "__init__.py").write_text("raise ImportError('hidden by the conformance test')\n")
    env["PYTHONPATH"] = str(hidden)
    return env


CLI_ENVS = {
    "no-credentials": {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
    "closed-port": {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"},
    "moto": {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
    "debug": {"DATASPOC_DEBUG": "1"},
}


@pytest.mark.parametrize("case", by_id(SCENARIOS["cli"]))
def test_cli(case, cli_env, tmp_path, request):
    env = dict(cli_env)
    env.update(CLI_ENVS.get(case.get("env", ""), {}))
    if case.get("env") == "moto":
        env["AWS_ENDPOINT_URL"] = request.getfixturevalue("moto_endpoint")
    args = list(case.get("args", []))
    if case.get("command"):
        args = [*SCENARIOS["bucket_command"][PKG], "--bucket", fill(case["bucket"], tmp=str(tmp_path))]
    args += case.get("extra", [])
    proc = subprocess.run(
        [str(EXE), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == case["exit"], (proc.returncode, proc.stderr)
    if "stdout_starts" in case:
        assert proc.stdout.startswith(fill(case["stdout_starts"]))
    for words in case.get("stdout_says", []):
        assert words in proc.stdout
    if "stderr" in case:
        assert proc.stderr == case["stderr"]
    if case["exit"] != 0:
        assert proc.stdout == ""
        last = proc.stderr.rstrip("\n").splitlines()[-1]
        assert last.startswith("error: ")
        assert ("Traceback" in proc.stderr) is bool(case.get("traceback"))
        if not case.get("traceback"):
            assert proc.stderr.count("\n") == 1, proc.stderr
    for words in case.get("says", []):
        assert fill(words) in proc.stderr, proc.stderr
    for words in case.get("never", []):
        assert words not in proc.stdout + proc.stderr


@pytest.mark.parametrize("argv", [[], ["--debug"]])
def test_a_client_logging_its_traceback_is_silent_without_debug(argv):
    """gcsfs logs the traceback of a request it gave up on; the tool reports the error itself,
    in one line, so that log reaches stderr only with --debug."""
    code = (
        f"from {dataspoc_pipe.__name__} import diagnostics\n"
        f"diagnostics.take_debug({argv!r})\n"
        "import logging\n"
        "try:\n    raise ConnectionRefusedError('Connect call failed')\n"
        "except OSError:\n    logging.getLogger('gcsfs').exception('_request out of retries')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != diagnostics.DEBUG_ENV}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert ("Traceback" in result.stderr) == bool(argv), result.stderr

"""The CLI's entry point in-process: help, flags and error mapping that need no bucket."""

import pytest

from dataspoc_lens import cli
from dataspoc_lens.errors import ExitCode


def run_main(capsys, *argv):
    with pytest.raises(SystemExit) as stopped:
        cli.main(list(argv))
    captured = capsys.readouterr()
    return stopped.value.code, captured.out, captured.err


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["catalog", "--help"],
        ["query", "--help"],
        ["ml", "--help"],
        ["ml", "predict", "--help"],
        ["ml", "train", "--help"],
    ],
)
def test_help_has_an_example_and_exit_codes(capsys, args):
    code, out, _err = run_main(capsys, *args)
    assert code == ExitCode.OK
    assert "Example" in out and "Exit codes" in out and "130 interrupted" in out


def test_version(capsys):
    assert run_main(capsys, "--version")[:2] == (0, "dataspoc-lens 0.1.0\n")


def test_bad_flag_is_a_usage_error(capsys):
    code, out, err = run_main(capsys, "query", "SELECT 1", "--format", "xml")
    assert code == ExitCode.USAGE and out == ""
    assert "xml" in err and "Traceback" not in err


def test_missing_argument_is_a_usage_error(capsys):
    code, _out, err = run_main(capsys, "query")
    assert code == ExitCode.USAGE and "give the SQL as an argument, with --file, or on stdin" in err


def test_unknown_scheme_names_what_works(capsys):
    code, _out, err = run_main(capsys, "catalog", "--bucket", "ftp://somewhere")
    assert code == ExitCode.USAGE
    assert err.startswith("error: unknown bucket scheme 'ftp://'") and "s3://" in err and err.count("\n") == 1


def test_debug_from_the_environment_shows_the_traceback(capsys, tmp_path, monkeypatch):
    code, _out, err = run_main(capsys, "query", "SELEC 1", "--bucket", str(tmp_path))
    assert code == ExitCode.USAGE and "Traceback" not in err
    monkeypatch.setenv("DATASPOC_DEBUG", "1")
    code, _out, err = run_main(capsys, "query", "SELEC 1", "--bucket", str(tmp_path))
    assert code == ExitCode.USAGE and "Traceback" in err and "error: " in err


def test_debug_flag_shows_the_traceback(capsys, tmp_path):
    code, _out, err = run_main(capsys, "query", "SELEC 1", "--bucket", str(tmp_path), "--debug")
    assert code == ExitCode.USAGE and "Traceback" in err and err.rstrip().splitlines()[-1].startswith("error: ")


def test_missing_dataspoc_ml_says_how_to_install(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    code, out, err = run_main(capsys, "ml", "predict", "churn", "--table", "customers")
    assert code == ExitCode.USAGE and out == ""
    assert err == "error: dataspoc-ml is not installed: pip install dataspoc-ml, or set DATASPOC_ML_BIN to its path\n"
    monkeypatch.setenv("DATASPOC_ML_BIN", str(tmp_path / "nothing"))
    code, out, err = run_main(capsys, "ml", "train", "churn", "--table", "customers", "--target", "churned")
    assert code == ExitCode.USAGE and err.startswith("error: DATASPOC_ML_BIN=")


def test_interrupt_is_one_line_and_130(capsys, monkeypatch):
    from dataspoc_lens import catalog

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(catalog, "summaries", interrupt)
    code, out, err = run_main(capsys, "catalog", "--bucket", "/nowhere")
    assert code == ExitCode.INTERRUPTED and out == "" and err == "error: interrupted\n"


def test_debug_before_the_command_counts_and_does_not_stick(capsys, tmp_path):
    code, _out, err = run_main(capsys, "--debug", "query", "SELEC 1", "--bucket", str(tmp_path))
    assert code == ExitCode.USAGE and "Traceback" in err
    code, _out, err = run_main(capsys, "query", "SELEC 1", "--bucket", str(tmp_path))
    assert code == ExitCode.USAGE and "Traceback" not in err


def test_cli_does_not_reach_into_typer_internals():
    from pathlib import Path

    assert "typer._click" not in Path(cli.__file__).read_text()

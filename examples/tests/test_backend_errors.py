"""The Azure and GCS clients' failures, as the three installed CLIs report them on the emulators:
one line, no traceback, the exit code contract/conformance/shared-modules.json gives (2 for what
the user must fix: a missing bucket, refused or missing credentials)."""

from __future__ import annotations

import os
import re

import pytest

from conftest import remote_bucket_url

# Each tool's command that opens the bucket (shared-modules.json's bucket_command).
COMMANDS = [("dataspoc-pipe", "manifest"), ("dataspoc-lens", "catalog"), ("dataspoc-ml", "models")]


def one_line_error(result, code: int, *says: str) -> str:
    assert result.code == code, (result.code, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and all(words in line for words in says), line
    return line


@pytest.mark.parametrize("backend", ["azure", "gcs"])
def test_a_bucket_that_does_not_exist_is_a_usage_error(backend, cli, request):
    url = remote_bucket_url(request, backend)
    missing = f"{url.split('://')[0]}://no-such-{url.split('://')[1]}"
    for tool, command in COMMANDS:
        one_line_error(cli(tool, command, "--bucket", missing), 2, f"bucket {missing} does not exist")


def test_azure_refusing_the_key_is_a_usage_error_naming_the_settings(cli, request, monkeypatch):
    url = remote_bucket_url(request, "azure")
    good = os.environ["AZURE_STORAGE_CONNECTION_STRING"]
    wrong = re.sub(r"AccountKey=[^;]+", "AccountKey=d3Jvbmcta2V5LW5vdC1hLXNlY3JldA==", good)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", wrong)
    for tool, command in COMMANDS:
        line = one_line_error(cli(tool, command, "--bucket", url), 2, "access denied", "AZURE_STORAGE_CONNECTION_STRING")
        assert "AccountKey" not in line


def test_azure_without_any_setting_is_a_usage_error_naming_them(cli, request, monkeypatch):
    url = remote_bucket_url(request, "azure")
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    for tool, command in COMMANDS:
        one_line_error(cli(tool, command, "--bucket", url), 2, "no credentials to open", "AZURE_STORAGE_ACCOUNT_NAME")

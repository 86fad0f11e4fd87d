"""`add`: a pipeline from flags, asking for what is missing when a person is at the terminal."""

from __future__ import annotations

import sys
from typing import Any

from pydantic import ValidationError

from dataspoc_pipe import config
from dataspoc_pipe.errors import UsageError


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def _ask(question: str, default: str | None = None) -> str:
    import typer

    return str(typer.prompt(question, default=default, err=True)).strip()


def parse_setting(text: str) -> tuple[str, Any]:
    """KEY=VALUE with VALUE read as YAML (`false`, `[a, b]`, `';'`); a ${VAR} stays as written."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--set {text!r}: expected KEY=VALUE, e.g. --set delimiter=';'")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    if parsed is None and value.strip().lower() not in ("null", "~"):
        parsed = value
    return key.strip(), parsed


def guess_kind(path: str | None) -> str | None:
    """The file kind a path's extension names (`.csv`, `.csv.gz`, `.jsonl`, `.parquet`), if any."""
    from dataspoc_pipe.sources import KINDS

    if not path:
        return None
    name = path.lower()
    for suffix in (".gz", ".zst", ".zstd", ".bz2"):
        name = name.removesuffix(suffix)
    extension = name.rsplit(".", 1)[-1]
    kind = {"csv": "csv", "tsv": "csv", "txt": "csv", "jsonl": "jsonl", "ndjson": "jsonl", "parquet": "parquet"}.get(
        extension
    )
    return kind if kind in KINDS else None


def pipeline_from_options(
    name: str,
    *,
    kind: str | None,
    namespace: str | None,
    table: str | None,
    path: str | None,
    settings: list[str],
) -> config.Pipeline:
    from dataspoc_pipe.sources import KINDS

    interactive = _interactive()
    kind = kind or guess_kind(path)
    if kind is None:
        if not interactive:
            raise UsageError(f"pass --kind: one of {', '.join(sorted(KINDS))}")
        for known in sorted(KINDS):
            sys.stderr.write(f"  {known}: {KINDS[known].summary}\n")
        kind = _ask("source kind", "csv")
    if kind not in KINDS:
        raise UsageError(f"unknown source kind '{kind}'; this version reads: {', '.join(sorted(KINDS))}")
    if namespace is None:
        if not interactive:
            raise UsageError("pass --namespace: the folder under raw/ its tables land in, e.g. --namespace shop")
        namespace = _ask("namespace (tables land in raw/<namespace>/)")
    config.check_name(namespace, "namespace")
    if table is not None:
        config.check_name(table, "table name")

    source: dict[str, Any] = {"kind": kind}
    if path is not None:
        source["path"] = path
    for text in settings:
        key, value = parse_setting(text)
        source[key] = value
    model = KINDS[kind].config
    if interactive:
        for field_name, field in model.model_fields.items():
            if field.is_required() and field_name not in source:
                source[field_name] = parse_setting(f"{field_name}={_ask(field.description or field_name)}")[1]
    missing = [f for f, info in model.model_fields.items() if info.is_required() and f not in source]
    if missing:
        flag = "--path" if missing[0] == "path" else f"--set {missing[0]}=..."
        raise UsageError(f"a {kind} source needs {missing[0]}: pass {flag}")
    try:
        return config.Pipeline(source=source, target=config.Target(namespace=namespace, table=table))
    except ValidationError as exc:
        raise UsageError(config.render_validation_error(exc)) from None

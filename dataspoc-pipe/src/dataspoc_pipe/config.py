"""The project file, dataspoc-pipe.yaml: the bucket and the pipelines that fill it."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from dataspoc_pipe.checks import Check
from dataspoc_pipe.contract.models import NAME_PATTERN
from dataspoc_pipe.curate import Transform
from dataspoc_pipe.errors import ConfigError, InvalidName, UnknownPipeline, UsageError
from dataspoc_pipe.fields import MergeSettings, Name, PartitionBy, Strict

__all__ = ["MergeSettings", "Name", "PartitionBy", "Strict"]

PROJECT_FILE = "dataspoc-pipe.yaml"
PROJECT_ENV = "DATASPOC_PIPE_PROJECT"
BUCKET_ENV = "DATASPOC_BUCKET"
DEFAULT_BUCKET = "./bucket"


class Target(Strict):
    namespace: Name
    table: Name | None = None  # the table of a one-table source; default: the pipeline's name

    @model_validator(mode="before")
    @classmethod
    def _old_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "source" in data and "namespace" not in data:
            data = {**data, "namespace": data["source"]}
            del data["source"]
        return data


class Pipeline(Strict):
    source: dict[str, Any]  # as written, ${VAR} and all; source_config() resolves and validates it
    target: Target
    # overwrite: each run's rows replace the table's; overwrite_partitions: only the partitions it writes
    mode: Literal["append", "overwrite", "overwrite_partitions", "merge"] = "append"
    merge: MergeSettings | None = None  # mode: merge: the key and which row wins
    on_schema_change: Literal["widen", "fail", "new_table"] = "widen"  # evolution.py
    partition_by: PartitionBy | None = None  # default: dt is the extraction date (UTC)
    schedule: str | None = None  # cron's five fields (UTC): `schedule install` and `run --if-due` read it
    transform: Transform | None = None  # raw → curated (curate.py), run after each extract
    checks: dict[Name, list[Check]] = Field(default_factory=dict)  # per raw table (checks.py)
    # a check of severity error that fails: fail publishes nothing; quarantine publishes the rows
    # that pass and writes the others to quarantine/
    on_check_failure: Literal["fail", "quarantine"] = "fail"

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            from dataspoc_pipe import cron

            cron.parse(value)
        return value

    @field_validator("source")
    @classmethod
    def _known_kind(cls, value: dict[str, Any]) -> dict[str, Any]:
        from dataspoc_pipe.sources import KINDS

        kind = value.get("kind")
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; this version reads: {', '.join(sorted(KINDS))}")
        check_source(value)
        return value


ONE_TABLE_KINDS = ("csv", "jsonl", "parquet", "http")


class Project(Strict):
    version: Literal[1] = 1
    bucket: str = DEFAULT_BUCKET
    keep_logs: str = "90d"  # run logs older than this go at `vacuum` (never a pipeline's newest)
    pipelines: dict[Name, Pipeline] = Field(default_factory=dict)

    @field_validator("keep_logs")
    @classmethod
    def _duration(cls, value: str) -> str:
        from dataspoc_pipe.vacuum import retention

        try:
            retention(value, "keep_logs")
        except UsageError as exc:
            raise ValueError(str(exc).removeprefix("keep_logs ")) from None
        return value

    @field_validator("pipelines")
    @classmethod
    def _not_reserved(cls, value: dict) -> dict:
        if RESERVED_PIPELINE in value:
            raise ValueError(
                f"'{RESERVED_PIPELINE}' may not name a pipeline: {LENS_LOGS} holds dataspoc-lens's run logs"
            )
        return value

    @model_validator(mode="after")
    def _one_writer_per_table(self):
        """Two pipelines filling one table would each take the other's files for a crashed
        run's, and overwrite or merge each other's rows."""
        owners: dict[str, str] = {}
        for name, pipeline in sorted(self.pipelines.items()):
            if pipeline.source.get("kind") not in ONE_TABLE_KINDS:
                continue  # the tables of databases and taps are known when they run
            table = f"raw/{pipeline.target.namespace}/{pipeline.target.table or name}"
            if table in owners:
                raise ValueError(
                    f"pipelines '{owners[table]}' and '{name}' both fill {table}; give one another "
                    "target.table or target.namespace"
                )
            owners[table] = name
        return self

    legacy: Annotated[bool, Field(exclude=True)] = False  # read from dataspoc-pipe 0.2.0 pipeline files (legacy.py)


RESERVED_PIPELINE = "lens"  # .dataspoc/logs/lens/ holds Lens's gold model runs (contract 1.3)
LENS_LOGS = ".dataspoc/logs/lens/"


def check_name(value: str, what: str) -> str:
    if not re.fullmatch(NAME_PATTERN, value):
        raise InvalidName(
            f"{what} '{value}' is not a valid name: use a lowercase letter, then lowercase "
            "letters, digits or underscores (at most 63 characters)"
        )
    if what == "pipeline name" and value == RESERVED_PIPELINE:
        raise InvalidName(
            f"'{value}' may not name a pipeline: {LENS_LOGS} holds dataspoc-lens's run logs; pick another"
        )
    return value


def project_path(option: str | None) -> Path:
    return Path(option or os.environ.get(PROJECT_ENV) or PROJECT_FILE).expanduser().resolve()


def _read_yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where} is not valid YAML: {getattr(exc, 'problem', exc)}") from None


def load(path: Path) -> Project:
    from dataspoc_pipe import legacy

    if not path.exists():
        raise ConfigError(f"no project file at {path}; run `dataspoc-pipe init` first, or pass --project")
    raw = legacy.project(path, _read_yaml) if path.is_dir() else _read_yaml(path)
    if legacy.is_legacy(raw):
        raw = legacy.project(path, _read_yaml)
    try:
        return Project.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {render_validation_error(exc)}") from None


def render_validation_error(exc: ValidationError, errors: list | None = None) -> str:
    lines = []
    for error in exc.errors() if errors is None else errors:
        field = ".".join(str(p) for p in error["loc"] if not str(p).startswith("function-"))
        message = error["msg"]
        if error["type"] == "value_error" and error.get("ctx", {}).get("nested"):
            # a nested config's own errors, already rendered relative to it: put them under field
            lines += [f"{field}.{part}" for part in str(error["ctx"]["nested"]).split("; ")]
            continue
        if error["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling)"
        elif error["type"] == "string_pattern_mismatch":
            message = "must be a lowercase letter, then lowercase letters, digits or underscores"
        lines.append(f"{field}: {message}" if field else message)
    return "; ".join(lines)


def save(project: Project, path: Path) -> None:
    import yaml

    if project.legacy:
        raise UsageError(
            f"{path} holds dataspoc-pipe 0.2.0 pipelines, read as they are; add new pipelines to a "
            "dataspoc-pipe.yaml project (`dataspoc-pipe init`)"
        )
    document = project.model_dump(mode="json")
    text = "# dataspoc-pipe project: the bucket and the pipelines that fill it.\n"
    text += yaml.safe_dump(document, sort_keys=False)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def pipeline(project: Project, name: str, path: Path) -> Pipeline:
    if name not in project.pipelines:
        known = ", ".join(sorted(project.pipelines)) or "none yet; add one with `dataspoc-pipe add`"
        raise UnknownPipeline(f"no pipeline '{name}' in {path}; known pipelines: {known}")
    return project.pipelines[name]


def bucket_url(project: Project | None, option: str | None, project_file: Path) -> str:
    """--bucket, then DATASPOC_BUCKET, then the project file, then ./bucket.

    A relative local bucket in the project file is relative to that file, so cron can run
    from any directory.
    """
    if option:
        return option
    if os.environ.get(BUCKET_ENV):
        return os.environ[BUCKET_ENV]
    url = project.bucket if project else DEFAULT_BUCKET
    if "://" not in url and not Path(url).expanduser().is_absolute():
        return str((project_file.parent / url).resolve())
    return url


PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _substitute(value: Any, lookup) -> Any:
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: lookup(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {k: _substitute(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, lookup) for v in value]
    return value


def _placeholders(value: Any, path: tuple = ()) -> set[tuple]:
    """The paths of values that hold a ${VAR}."""
    if isinstance(value, str):
        return {path} if PLACEHOLDER.search(value) else set()
    if isinstance(value, dict):
        return set().union(*(_placeholders(v, (*path, k)) for k, v in value.items()))
    if isinstance(value, list):
        return set().union(*(_placeholders(v, (*path, i)) for i, v in enumerate(value)))
    return set()


def check_source(raw: dict[str, Any]) -> None:
    """Validate a source as written: every key and every value but those holding ${VAR}, which
    are checked at run time once the environment gives them a value."""
    from dataspoc_pipe.sources import KINDS

    deferred = _placeholders(raw)
    try:
        KINDS[raw["kind"]].config.model_validate(_substitute(raw, lambda _name, text: text))
    except ValidationError as exc:
        errors = [e for e in exc.errors() if not any(tuple(e["loc"][: len(p)]) == p for p in deferred)]
        if errors:
            raise PydanticCustomError(
                "value_error", "{nested}", {"nested": render_validation_error(exc, errors)}
            ) from None


def source_config(pipeline: Pipeline, name: str, environ=None):
    """The pipeline's source config with ${VAR} read from the environment, validated by its kind.

    The values read are registered with diagnostics.hide, so no message or log repeats them.
    """
    from dataspoc_pipe import diagnostics
    from dataspoc_pipe.sources import KINDS

    environ = os.environ if environ is None else environ
    missing: list[str] = []

    def lookup(variable: str, text: str) -> str:
        if variable not in environ:
            missing.append(variable)
            return text
        diagnostics.hide(environ[variable])
        return environ[variable]

    resolved = _substitute(pipeline.source, lookup)
    if missing:
        raise UsageError(
            f"pipeline '{name}' reads ${{{missing[0]}}} from the environment, but {missing[0]} is not set; "
            "export it before running"
        )
    try:
        return KINDS[resolved["kind"]].config.model_validate(resolved)
    except ValidationError as exc:
        raise ConfigError(f"pipeline '{name}' source: {render_validation_error(exc)}") from None

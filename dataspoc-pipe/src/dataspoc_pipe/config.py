"""The project file, dataspoc-pipe.yaml: the bucket and the pipelines that fill it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dataspoc_pipe.contract.models import NAME_PATTERN
from dataspoc_pipe.errors import ConfigError, InvalidName, UnknownPipeline

PROJECT_FILE = "dataspoc-pipe.yaml"
PROJECT_ENV = "DATASPOC_PIPE_PROJECT"
BUCKET_ENV = "DATASPOC_BUCKET"
DEFAULT_BUCKET = "./bucket"

Name = Annotated[str, Field(pattern=NAME_PATTERN)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CsvSource(Strict):
    kind: Literal["csv"] = "csv"
    path: Annotated[str, Field(min_length=1, description="A file or a glob, relative to the project file.")]
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","


Source = Annotated[CsvSource, Field(discriminator="kind")]


class Target(Strict):
    source: Name
    table: Name

    @property
    def location(self) -> str:
        return f"raw/{self.source}/{self.table}"


class Pipeline(Strict):
    source: Source
    target: Target
    mode: Literal["append"] = "append"


class Project(Strict):
    version: Literal[1] = 1
    bucket: str = DEFAULT_BUCKET
    pipelines: dict[Name, Pipeline] = Field(default_factory=dict)


def check_name(value: str, what: str) -> str:
    import re

    if not re.fullmatch(NAME_PATTERN, value):
        raise InvalidName(
            f"{what} '{value}' is not a valid name: use a lowercase letter, then lowercase "
            "letters, digits or underscores (at most 63 characters)"
        )
    return value


def project_path(option: str | None) -> Path:
    return Path(option or os.environ.get(PROJECT_ENV) or PROJECT_FILE).expanduser().resolve()


def load(path: Path) -> Project:
    import yaml

    if not path.exists():
        raise ConfigError(f"no project file at {path}; run `dataspoc-pipe init` first, or pass --project")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    try:
        return Project.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {render_validation_error(exc)}") from None


def render_validation_error(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"] if not str(p).startswith("function-"))
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling)"
        elif error["type"] == "string_pattern_mismatch":
            message = "must be a lowercase letter, then lowercase letters, digits or underscores"
        lines.append(f"{field}: {message}")
    return "; ".join(lines)


def save(project: Project, path: Path) -> None:
    import yaml

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

"""The transforms folder: one `.sql` file per gold table, its settings, and its compiled SQL.

`transforms/<domain>/<name>.sql` publishes `gold.<domain>.<name>`; a number prefix
(`01_daily_revenue.sql`) only orders models that do not depend on each other. A file at the top
of the folder names its domain in its settings. Settings are YAML, in a comment that opens the
file (`/* --- ... --- */`) or in a sidecar `<file>.yml`:

    materialized: incremental     # table (default) or incremental
    partition_by: [dt]            # incremental: rebuild only the partitions whose inputs changed
    unique_key: [order_id]        # incremental: merge the model's rows on this key
    tags: [daily]
    tests: [...]                  # checks run by `dataspoc-lens test` (quality.py)

The SQL is one SELECT over any bucket table. As in dbt, `{{ this }}` names the model's own table
and `{% if is_incremental() %} ... {% endif %}` keeps its text only on an incremental run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dataspoc_lens.contract.models import NAME_PATTERN
from dataspoc_lens.errors import ProjectError

DEFAULT_FOLDER = "transforms"
HEADER = re.compile(r"\A\s*/\*\s*---[ \t]*\n(.*?)\n\s*---\s*\*/", re.S)
NUMBER = re.compile(r"^(\d+)_(.+)$")
THIS = re.compile(r"\{\{\s*this\s*\}\}")
INCREMENTAL_BLOCK = re.compile(r"\{%-?\s*if\s+is_incremental\(\)\s*-?%\}(.*?)\{%-?\s*endif\s*-?%\}", re.S)
TEMPLATE_LEFT = re.compile(r"\{\{|\{%")

Name = Annotated[str, Field(pattern=NAME_PATTERN)]


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: Name | None = None
    materialized: Literal["table", "incremental"] = "table"
    partition_by: Annotated[list[Annotated[str, Field(min_length=1)]], Field(max_length=4)] = Field(
        default_factory=list
    )
    unique_key: list[Annotated[str, Field(min_length=1)]] | None = None
    tags: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    description: str | None = None
    tests: list[dict[str, Any]] = Field(default_factory=list)  # validated by quality.py

    @model_validator(mode="after")
    def _incremental_needs_a_way(self):
        if self.materialized == "incremental" and not (self.partition_by or self.unique_key):
            raise ValueError("an incremental model needs partition_by, unique_key or both")
        if self.unique_key == []:
            raise ValueError("unique_key lists at least one column")
        return self


@dataclass
class Model:
    """One model file: `gold.<domain>.<name>`."""

    path: str  # relative to the transforms folder, e.g. sales/01_daily_revenue.sql
    domain: str
    name: str
    order: int  # the number prefix, or a large number: orders independent models
    sql: str  # the file's SQL, the settings header removed
    settings: Settings

    @property
    def qualified(self) -> str:
        return f"gold.{self.domain}.{self.name}"

    @property
    def key(self) -> str:
        """`<domain>.<name>`: how commands and run logs name the model."""
        return f"{self.domain}.{self.name}"

    @property
    def location(self) -> str:
        return f"gold/{self.domain}/{self.name}"

    def compiled(self, incremental: bool) -> str:
        """The SQL DuckDB runs: `{{ this }}` named, the incremental blocks kept or dropped."""
        text = INCREMENTAL_BLOCK.sub(lambda m: m.group(1) if incremental else "", self.sql)
        text = THIS.sub(self.qualified, text)  # names are plain identifiers: no quoting needed
        return text.strip().rstrip(";").strip()

    def digest(self) -> str:
        """The hash of what decides the table's content: the SQL and how it is materialized."""
        s = self.settings
        basis = "\n".join([self.sql.strip(), s.materialized, ",".join(s.partition_by), ",".join(s.unique_key or [])])
        return "sha256:" + hashlib.sha256(basis.encode()).hexdigest()


def folder(option: str | None) -> Path:
    return Path(option or DEFAULT_FOLDER).expanduser().resolve()


def load(root: Path) -> list[Model]:
    """Every model in the folder, checked: names, settings, one model per gold table."""
    if not root.is_dir():
        raise ProjectError(
            f"no transforms folder at {root}; create it with one .sql file per gold table "
            "(transforms/<domain>/<name>.sql), or name it with --project"
        )
    models = [_model(root, path) for path in sorted(root.rglob("*.sql")) if not _hidden(path.relative_to(root))]
    seen: dict[str, Model] = {}
    for model in models:
        if model.qualified in seen:
            raise ProjectError(
                f"{seen[model.qualified].path} and {model.path} both publish {model.qualified}; rename one"
            )
        seen[model.qualified] = model
    return models


def _hidden(relative: Path) -> bool:
    return any(part.startswith((".", "_")) for part in relative.parts)


def _model(root: Path, path: Path) -> Model:
    relative = path.relative_to(root).as_posix()
    text = path.read_text(encoding="utf-8-sig")
    settings_doc, sql = _settings_document(root, path, relative, text)
    try:
        settings = Settings.model_validate(settings_doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "".join(f"{p}: " for p in first["loc"][:1])
        message = first["msg"].removeprefix("Value error, ")
        raise ProjectError(f"{relative}: {where}{message}") from None
    parts = path.relative_to(root).parts
    stem = path.stem
    match = NUMBER.match(stem)
    order, name = (int(match.group(1)), match.group(2)) if match else (1 << 30, stem)
    if len(parts) > 2:
        raise ProjectError(f"{relative}: models live one folder deep, transforms/<domain>/<name>.sql; move it")
    domain = parts[0] if len(parts) == 2 else settings.domain
    if domain is None:
        raise ProjectError(
            f"{relative}: no domain; put the file in a domain folder (transforms/<domain>/{path.name}) "
            "or give `domain:` in its settings"
        )
    if settings.domain is not None and settings.domain != domain:
        raise ProjectError(f"{relative}: settings say domain {settings.domain} but the file is in folder {domain}")
    for what, value in (("domain", domain), ("model name", name)):
        if not re.fullmatch(NAME_PATTERN, value):
            raise ProjectError(
                f"{relative}: {what} '{value}' is not a valid name: use a lowercase letter, then lowercase "
                "letters, digits or underscores"
            )
    if not sql.strip():
        raise ProjectError(f"{relative}: no SQL; write one SELECT")
    model = Model(relative, domain, name, order, sql, settings)
    leftover = TEMPLATE_LEFT.search(model.compiled(True))
    if leftover:
        raise ProjectError(
            f"{relative}: unknown template text near '{model.compiled(True)[leftover.start() :][:30]}'; "
            "only {{ this }} and {% if is_incremental() %} ... {% endif %} are understood"
        )
    return model


def _settings_document(root: Path, path: Path, relative: str, text: str) -> tuple[dict[str, Any], str]:
    import yaml

    header = HEADER.match(text)
    sidecars = [p for p in (path.with_suffix(".yml"), path.with_suffix(".yaml")) if p.exists()]
    if header and sidecars:
        raise ProjectError(f"{relative}: settings both in its header and in {sidecars[0].name}; keep one")
    source, body = (header.group(1), text[header.end() :]) if header else ("", text)
    where = relative
    if sidecars:
        source, where = sidecars[0].read_text(encoding="utf-8-sig"), sidecars[0].relative_to(root).as_posix()
    try:
        document = yaml.safe_load(source) if source.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise ProjectError(f"{where}: settings are not valid YAML{line}; fix them") from None
    if not isinstance(document, dict):
        raise ProjectError(f"{where}: settings must be a mapping (key: value lines)")
    return document, body

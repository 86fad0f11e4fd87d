"""Pydantic models of the contract documents dataspoc-pipe reads and writes.

They mirror contract/schemas. Unknown fields are ignored, as the versioning rule asks of
readers: a minor version may add fields.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from dataspoc_pipe.contract import SUPPORTED_MAJOR
from dataspoc_pipe.errors import ContractError

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
RUN_ID_PATTERN = r"^[0-9]{8}T[0-9]{6}\.[0-9]{3}Z-[0-9a-f]{6}$"
LOCATION_PATTERN = r"^(raw|curated|gold|ml)/[a-z][a-z0-9_]{0,62}/[a-z][a-z0-9_]{0,62}$"
FILE_PATTERN = r"^[^/].*\.parquet$"

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
RunId = Annotated[str, Field(pattern=RUN_ID_PATTERN)]
Count = Annotated[int, Field(ge=0, strict=True)]
Layer = Literal["raw", "curated", "gold", "ml"]
RunStatus = Literal["success", "no_new_data", "failed"]
SchemaChange = Literal["created", "columns_added", "columns_removed", "types_changed", "changed"]


class Doc(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Versioned(Doc):
    contract_version: Annotated[str, Field(pattern=r"^[0-9]+\.[0-9]+$")]

    @model_validator(mode="after")
    def _known_major(self):
        major = int(self.contract_version.split(".")[0])
        if major != SUPPORTED_MAJOR:
            raise ValueError(
                f"contract version {self.contract_version} is not supported; "
                f"this dataspoc-pipe understands {SUPPORTED_MAJOR}.x"
            )
        return self


class Column(Doc):
    name: Annotated[str, Field(min_length=1)]
    type: Annotated[str, Field(min_length=1)]
    nullable: bool


class DataFile(Doc):
    path: Annotated[str, Field(pattern=FILE_PATTERN)]
    rows: Count
    bytes: Count
    run_id: RunId | None = None


class Partition(Doc):
    values: dict[str, str]
    files: list[DataFile]
    rows: Count
    bytes: Count


class SchemaVersion(Doc):
    version: Annotated[int, Field(ge=1)]
    run_id: RunId
    at: AwareDatetime
    change: SchemaChange
    columns: list[Column]


class ReplacedFile(Doc):
    path: Annotated[str, Field(pattern=FILE_PATTERN)]
    rows: Count
    bytes: Count
    run_id: RunId | None = None
    partition: dict[str, str] | None = None
    replaced_by: RunId
    replaced_at: AwareDatetime


class Quality(Doc):
    score: Annotated[float, Field(ge=0, le=100)]
    run_id: RunId
    checked_at: AwareDatetime
    checks: Count
    failed: Count
    errors: Count | None = None
    warnings: Count | None = None


class Upstream(Doc):
    location: Annotated[str, Field(pattern=LOCATION_PATTERN)]
    last_run_id: RunId


class TransformInfo(Doc):
    """1.3: how dataspoc-lens computed a gold table (lineage)."""

    model: Annotated[str, Field(min_length=1)]
    sql_hash: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
    materialized: Literal["table", "incremental"]
    unique_key: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] | None = None
    upstream: list[Upstream]


class PredictionInfo(Doc):
    """1.5: how dataspoc-ml computed an ml.predictions table (lineage from source to prediction)."""

    model: Name
    version: Annotated[int, Field(ge=1)] | None = None
    task: Literal["classification", "regression", "forecast", "clustering"]
    input: Upstream


class Table(Doc):
    layer: Layer
    namespace: Name
    name: Name
    location: Annotated[str, Field(pattern=LOCATION_PATTERN)]
    format: Literal["parquet"] = "parquet"
    partition_by: Annotated[list[str], Field(max_length=4)]
    partitions: list[Partition]
    replaced: list[ReplacedFile] | None = None
    columns: list[Column]
    row_count: Count
    file_count: Count
    bytes: Count
    last_run_id: RunId
    last_run_at: AwareDatetime
    writer: Annotated[str, Field(pattern=r"^dataspoc-(pipe|lens|ml)/[0-9A-Za-z.+-]+$")]
    description: str | None = None
    primary_key: list[str] | None = None
    quality: Quality | None = None
    derived_from: list[str] | None = None
    transform: TransformInfo | None = None  # 1.3: gold tables written by dataspoc-lens
    prediction: PredictionInfo | None = None  # 1.5: ml.predictions tables
    schema_history: Annotated[list[SchemaVersion], Field(min_length=1)]

    @model_validator(mode="after")
    def _layer_rules(self):
        if self.layer == "ml" and self.namespace != "predictions":
            raise ValueError("tables in the ml layer live in the 'predictions' namespace")
        if self.layer in ("raw", "curated") and "dt" not in self.partition_by:
            raise ValueError(f"{self.layer} tables are partitioned by dt")
        return self

    @property
    def key(self) -> str:
        return self.location

    @property
    def files(self) -> list[DataFile]:
        return [f for p in self.partitions for f in p.files]


class Manifest(Versioned):
    updated_at: AwareDatetime
    tables: list[Table]

    def find(self, location: str) -> Table | None:
        return next((t for t in self.tables if t.location == location), None)


class FileBookmark(Doc):
    size: Count
    modified: AwareDatetime
    fingerprint: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    run_id: RunId


class Cursor(Doc):
    column: Annotated[str, Field(min_length=1)]
    value: str | float | int | None


class StreamBookmark(Doc):
    """Where one stream's next run starts: the files it has read, or its cursor."""

    files: dict[str, FileBookmark] | None = None
    cursor: Cursor | None = None


class TransformMark(Doc):
    """How far a curated table's transform has read its raw table."""

    through_run_id: RunId
    files: Count
    rows: Count


class Bookmarks(Doc):
    streams: dict[Name, StreamBookmark] | None = None
    files: dict[str, FileBookmark] | None = None  # contract 1.0, one-table pipelines: read, never written
    cursor: Cursor | None = None  # contract 1.0, as above
    singer: dict[str, Any] | None = None
    transforms: dict[Annotated[str, Field(pattern=LOCATION_PATTERN)], TransformMark] | None = None


class LastCheck(Doc):
    run_id: RunId
    at: AwareDatetime
    status: Literal["no_new_data"]
    duration_seconds: Annotated[float, Field(ge=0)] | None = None


class State(Versioned):
    pipeline: Name
    updated_at: AwareDatetime
    last_run_id: RunId
    bookmarks: Bookmarks
    last_check: LastCheck | None = None


class LoggedFile(Doc):
    path: Annotated[str, Field(pattern=FILE_PATTERN)]
    rows: Count
    bytes: Count
    partition: dict[str, str]


WriteMode = Literal["append", "overwrite", "overwrite_partitions", "merge"]
LoggedMode = Literal["append", "overwrite", "overwrite_partitions", "merge", "compact"]  # compact since 1.4


class LoggedTable(Doc):
    location: Annotated[str, Field(pattern=LOCATION_PATTERN)]
    rows: Count
    files: list[LoggedFile]
    mode: LoggedMode | None = None  # absent: append
    primary_key: list[str] | None = None
    replaces: list[Annotated[str, Field(pattern=FILE_PATTERN)]] | None = None  # 1.4, mode compact


CheckKind = Literal[
    "not_null",
    "unique",
    "accepted_values",
    "range",
    "regex",
    "relationships",
    "row_count",
    "row_count_change",
    "freshness",
    "sql",
]
Severity = Literal["warn", "error"]


Step = Literal["extract", "transform", "check", "compact"]  # compact since 1.4


class CheckResult(Doc):
    location: Annotated[str, Field(pattern=LOCATION_PATTERN)]
    check: CheckKind
    name: Annotated[str, Field(min_length=1)]
    severity: Severity
    status: Literal["pass", "fail"]
    checked_rows: Count | None = None
    failing_rows: Count | None = None
    quarantined_rows: Count | None = None
    observed: float | None = None
    message: str | None = None


class QuarantinedFile(Doc):
    location: Annotated[str, Field(pattern=LOCATION_PATTERN)]
    path: Annotated[
        str, Field(pattern=r"^quarantine/(raw|curated)/[a-z][a-z0-9_]{0,62}/[a-z][a-z0-9_]{0,62}/.*\.parquet$")
    ]
    rows: Count
    bytes: Count


class RunError(Doc):
    kind: Annotated[str, Field(min_length=1)]
    message: Annotated[str, Field(min_length=1)]


class RunLog(Versioned):
    run_id: RunId
    pipeline: Name
    tool: Annotated[str, Field(pattern=r"^dataspoc-(pipe|lens|ml)/[0-9A-Za-z.+-]+$")]
    status: RunStatus
    started_at: AwareDatetime
    finished_at: AwareDatetime
    duration_seconds: Annotated[float, Field(ge=0)]
    rows_written: Count
    files_written: Count
    bytes_written: Count
    tables: list[LoggedTable]
    error: RunError | None
    step: Step | None = None  # absent: extract
    checks: list[CheckResult] | None = None
    quarantine: list[QuarantinedFile] | None = None

    @model_validator(mode="after")
    def _error_iff_failed(self):
        if (self.status == "failed") != (self.error is not None):
            raise ValueError("a failed run has an error, and only a failed run has one")
        return self


MODELS: dict[str, type[Versioned]] = {"manifest": Manifest, "state": State, "run-log": RunLog}


def parse(kind: str, document: Any, where: str):
    """Validate a document read from the bucket, or raise ContractError naming the file."""
    if isinstance(document, dict):
        version = str(document.get("contract_version", ""))
        if re.fullmatch(r"[0-9]+\.[0-9]+", version) and int(version.split(".")[0]) != SUPPORTED_MAJOR:
            raise ContractError(
                f"{where} has contract version {version}; this dataspoc-pipe understands "
                f"{SUPPORTED_MAJOR}.x: upgrade dataspoc-pipe"
            )
    try:
        return MODELS[kind].model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "document"
        found = first.get("input")
        shown = f" ({found!r})" if isinstance(found, (str, int, float)) and len(repr(found)) <= 80 else ""
        raise ContractError(f"{where} breaks the bucket contract at {field}{shown}: {first['msg']}") from None


def dump(model: BaseModel) -> dict[str, Any]:
    document = model.model_dump(mode="json", exclude_none=True)
    if isinstance(model, RunLog):
        document["error"] = model.error.model_dump(mode="json") if model.error else None
    return document

"""Pydantic models of the contract documents dataspoc-lens reads.

They mirror contract/schemas. Unknown fields are ignored, as the versioning rule asks of
readers: a minor version may add fields. Lens reads the manifest (to mount tables) and the
features/metrics that dataspoc-ml writes beside each model.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from dataspoc_lens.contract import SUPPORTED_MAJOR
from dataspoc_lens.errors import ContractError

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
RUN_ID_PATTERN = r"^[0-9]{8}T[0-9]{6}\.[0-9]{3}Z-[0-9a-f]{6}$"
LOCATION_PATTERN = r"^(raw|curated|gold|ml)/[a-z][a-z0-9_]{0,62}/[a-z][a-z0-9_]{0,62}$"
FILE_PATTERN = r"^[^/].*\.parquet$"
WRITER_PATTERN = r"^dataspoc-(pipe|lens|ml)/[0-9A-Za-z.+-]+$"

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
RunId = Annotated[str, Field(pattern=RUN_ID_PATTERN)]
Count = Annotated[int, Field(ge=0, strict=True)]
Layer = Literal["raw", "curated", "gold", "ml"]
Task = Literal["classification", "regression", "forecast", "clustering"]  # the last two since 1.4


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
                f"this dataspoc-lens understands {SUPPORTED_MAJOR}.x"
            )
        return self


# manifest ----------------------------------------------------------------------------------
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
    change: Literal["created", "columns_added", "columns_removed", "types_changed", "changed"]
    columns: list[Column]


class CheckOutcome(Doc):
    name: Annotated[str, Field(min_length=1)]
    check: Annotated[str, Field(min_length=1)]
    severity: Literal["warn", "error"]
    status: Literal["pass", "fail"]
    checked_rows: Count | None = None
    failing_rows: Count | None = None
    message: str | None = None


class Quality(Doc):
    score: Annotated[float, Field(ge=0, le=100)]
    run_id: RunId
    checked_at: AwareDatetime
    checks: Count
    failed: Count
    errors: Count | None = None
    warnings: Count | None = None
    results: list[CheckOutcome] | None = None  # 1.3: each check's outcome (dataspoc-lens test)


class ReplacedFile(Doc):
    path: Annotated[str, Field(pattern=FILE_PATTERN)]
    rows: Count
    bytes: Count
    run_id: RunId | None = None
    partition: dict[str, str] | None = None
    replaced_by: RunId
    replaced_at: AwareDatetime


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
    task: Task
    input: Upstream


class Table(Doc):
    layer: Layer
    namespace: Name
    name: Name
    location: Annotated[str, Field(pattern=LOCATION_PATTERN)]
    format: Literal["parquet"] = "parquet"
    partition_by: Annotated[list[str], Field(max_length=4)]
    partitions: list[Partition]
    columns: list[Column]
    row_count: Count
    file_count: Count
    bytes: Count
    last_run_id: RunId
    last_run_at: AwareDatetime
    writer: Annotated[str, Field(pattern=WRITER_PATTERN)]
    description: str | None = None
    primary_key: list[str] | None = None  # 1.1
    quality: Quality | None = None  # 1.2: the last checks (dataspoc-pipe)
    derived_from: list[str] | None = None  # 1.2: lineage
    transform: TransformInfo | None = None  # 1.3: gold tables written by dataspoc-lens
    prediction: PredictionInfo | None = None  # 1.5: ml.predictions tables
    replaced: list[ReplacedFile] | None = None  # 1.1: files a later run replaced, until vacuum
    schema_history: Annotated[list[SchemaVersion], Field(min_length=1)]

    @model_validator(mode="after")
    def _layer_rules(self):
        if self.layer == "ml" and self.namespace != "predictions":
            raise ValueError("tables in the ml layer live in the 'predictions' namespace")
        if self.layer in ("raw", "curated") and "dt" not in self.partition_by:
            raise ValueError(f"{self.layer} tables are partitioned by dt")
        return self

    @property
    def qualified(self) -> str:
        """The three-part name Lens gives the table's view: layer.namespace.name."""
        return f"{self.layer}.{self.namespace}.{self.name}"

    @property
    def files(self) -> list[DataFile]:
        return [f for p in self.partitions for f in p.files]


class Manifest(Versioned):
    updated_at: AwareDatetime
    tables: list[Table]


# ml/models/<model>/ --------------------------------------------------------------------------
class Feature(Doc):
    name: Annotated[str, Field(min_length=1)]
    type: Annotated[str, Field(min_length=1)]
    kind: Literal["numeric", "categorical", "boolean", "datetime"]


class TrainingTable(Doc):
    layer: Layer
    namespace: Name
    name: Name
    location: Annotated[str, Field(pattern=LOCATION_PATTERN)]
    run_id: RunId


class LineageFile(Doc):
    path: Annotated[str, Field(min_length=1)]
    rows: Count
    run_id: RunId | None = None


class DateRange(Doc):
    column: str | None = None
    min: str | None = None
    max: str | None = None


class Lineage(Doc):
    """1.4: exactly which data trained a model, and with what."""

    table: Annotated[str, Field(pattern=LOCATION_PATTERN)]
    last_run_id: RunId
    rows: Count
    partitions: Count | None = None
    files: list[LineageFile]
    runs: list[RunId] | None = None
    date_range: DateRange | None = None
    libraries: dict[str, str] | None = None
    command: str | None = None


class Features(Versioned):
    model: Name
    task: Task
    target: Feature
    features: Annotated[list[Feature], Field(min_length=1)]
    training_table: TrainingTable
    trained_at: AwareDatetime
    version: Annotated[int, Field(ge=1, strict=True)] | None = None  # 1.4: the registry version
    model_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None  # 1.4
    description: str | None = None  # 1.4
    options: dict[str, Any] | None = None  # 1.4: how it was trained
    lineage: Lineage | None = None  # 1.4


class Holdout(Doc):
    fraction: Annotated[float, Field(gt=0, lt=1, strict=True)]
    train_rows: Annotated[int, Field(ge=1, strict=True)]
    test_rows: Annotated[int, Field(ge=1, strict=True)]
    seed: Annotated[int, Field(strict=True)]


class Baseline(Doc):
    name: Annotated[str, Field(min_length=1)]
    metrics: dict[str, float]


class FoldSpread(Doc):
    mean: float
    std: float


class CrossValidation(Doc):
    folds: Annotated[int, Field(ge=2, strict=True)]
    metrics: dict[str, FoldSpread]


class Importance(Doc):
    feature: Annotated[str, Field(min_length=1)]
    mean: float
    std: float


class Segment(Doc):
    segment: Annotated[int, Field(ge=0, strict=True)]
    size: Count
    means: dict[str, float] | None = None


class Metrics(Versioned):
    model: Name
    task: Task
    algorithm: Annotated[str, Field(min_length=1)]
    holdout: Holdout
    metrics: Annotated[dict[str, Annotated[float, Field(strict=True)]], Field(min_length=1)]
    trained_at: AwareDatetime
    version: Annotated[int, Field(ge=1, strict=True)] | None = None  # 1.4
    baseline: Baseline | None = None  # 1.4: the same metrics for a naive baseline
    beats_baseline: bool | None = None  # 1.4
    cv: CrossValidation | None = None  # 1.4
    importance: list[Importance] | None = None  # 1.4: permutation importance on the holdout
    segments: list[Segment] | None = None  # 1.4: clustering


class ModelRun(Versioned):
    """1.3: one run of one gold model: .dataspoc/logs/lens/<domain>.<name>/<run-id>.json."""

    run_id: RunId
    model: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}\.[a-z][a-z0-9_]{0,62}$")]
    table: Annotated[str, Field(pattern=r"^gold/[a-z][a-z0-9_]{0,62}/[a-z][a-z0-9_]{0,62}$")]
    tool: Annotated[str, Field(pattern=r"^dataspoc-lens/[0-9A-Za-z.+-]+$")]
    status: Literal["success", "unchanged", "failed", "skipped"]
    mode: Literal["full", "partitions", "merge", "none"]
    started_at: AwareDatetime
    finished_at: AwareDatetime
    rows_written: Count
    files_written: Count
    partitions_rebuilt: list[dict[str, str]] | None = None
    upstream: list[Upstream] | None = None
    sql_hash: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")] | None = None
    error: str | None


MODELS: dict[str, type[Versioned]] = {
    "manifest": Manifest,
    "features": Features,
    "metrics": Metrics,
    "model-run": ModelRun,
}


def parse(kind: str, document: Any, where: str):
    """Validate a document read from the bucket, or raise ContractError naming the file."""
    if isinstance(document, dict):
        version = str(document.get("contract_version", ""))
        if re.fullmatch(r"[0-9]+\.[0-9]+", version) and int(version.split(".")[0]) != SUPPORTED_MAJOR:
            raise ContractError(
                f"{where} has contract version {version}; this dataspoc-lens understands "
                f"{SUPPORTED_MAJOR}.x only: upgrade dataspoc-lens (pip install -U dataspoc-lens)"
            )
    try:
        return MODELS[kind].model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "document"
        found = first.get("input")
        shown = f" ({found!r})" if isinstance(found, (str, int, float)) and len(repr(found)) <= 80 else ""
        raise ContractError(f"{where} breaks the bucket contract at {field}{shown}: {first['msg']}") from None

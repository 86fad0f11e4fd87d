"""`transform run`: every selected model in dependency order, each published on its own.

A model that fails leaves its old version published; the models that read it are skipped and
reported, the others still run. A storage failure (the bucket unreachable) stops the run: the
next model would meet it too. One `transform run` per bucket at a time (the transform lock).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dataspoc_lens import catalog as catalogs
from dataspoc_lens.bucket import Bucket
from dataspoc_lens.errors import LensError, StorageError
from dataspoc_lens.gold import dag, project
from dataspoc_lens.gold.build import build
from dataspoc_lens.gold.plan import plan
from dataspoc_lens.gold.publish import WRITER, new_run_id, now, publish, stamp, write_log

TRANSFORM_LOCK = ".dataspoc/lens/transform.lock"


@dataclass
class Outcome:
    model: str  # domain.name
    status: str  # success, unchanged, failed, skipped
    mode: str = "none"
    reason: str = ""
    rows: int = 0
    files: int = 0
    partitions: list[dict[str, str]] | None = None
    seconds: float = 0.0
    error: str | None = None
    run_id: str | None = None

    def document(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status in ("failed", "skipped")]


def run(
    bucket: Bucket,
    root: Path,
    selectors: list[str],
    full: bool = False,
    on_done: Callable[[Outcome], None] | None = None,
) -> Report:
    models = project.load(root)
    graph = dag.build(models, catalogs.load(bucket))
    chosen = graph.select(selectors)
    report = Report()
    broken: set[str] = set()
    with bucket.lock(TRANSFORM_LOCK, owner=WRITER):
        for model in chosen:
            node = graph.nodes[model.qualified]
            blocked = sorted(q for q in node.upstream_models if q in broken)
            outcome = _skipped(bucket, model, blocked) if blocked else _one(bucket, node, full)
            if outcome.status in ("failed", "skipped"):
                broken.add(model.qualified)
            report.outcomes.append(outcome)
            if on_done:
                on_done(outcome)
    return report


def _one(bucket: Bucket, node: dag.Node, full: bool) -> Outcome:
    from dataspoc_lens.session import Session

    model = node.model
    started = now()
    run_id = new_run_id(started)
    catalog = catalogs.load(bucket)  # with the models published earlier in this run
    outcome = Outcome(model.key, "success", run_id=run_id)
    decided = None
    try:
        decided = plan(node, catalog, full)
        outcome.mode, outcome.reason = decided.mode, decided.reason
        if decided.mode == "none":
            outcome.status = "unchanged"
        else:
            session = Session(catalog)
            with session, bucket.staging_dir(run_id) as staging:
                staged = build(session, model, decided, run_id, Path(staging))
                published = publish(bucket, model, decided, staged, run_id)
            outcome.rows, outcome.files, outcome.partitions = published.rows, published.files, published.partitions
    except StorageError:
        raise
    except LensError as exc:
        outcome.status, outcome.mode, outcome.error = "failed", "none", str(exc)
    outcome.seconds = round((now() - started).total_seconds(), 3)
    upstream = sorted((decided.upstream if decided else {}).items())
    _log(
        bucket,
        model,
        outcome,
        started,
        partitions_rebuilt=outcome.partitions or [],
        upstream=[{"location": k, "last_run_id": v} for k, v in upstream],
        sql_hash=model.digest(),
    )
    return outcome


def _log(bucket: Bucket, model: project.Model, outcome: Outcome, started: datetime, **more: Any) -> None:
    """The model's run log (contract: model-run), written after what it reports."""
    assert outcome.run_id is not None
    document = {
        "model": model.key,
        "table": model.location,
        "tool": WRITER,
        "status": outcome.status,
        "mode": outcome.mode,
        "started_at": stamp(started),
        "finished_at": stamp(now()),
        "rows_written": outcome.rows,
        "files_written": outcome.files,
        "error": outcome.error,
    }
    write_log(bucket, model, outcome.run_id, {**document, **more})


def _skipped(bucket: Bucket, model: project.Model, blocked: list[str]) -> Outcome:
    started = now()
    reason = f"skipped: it reads {', '.join(q.split('.', 1)[1] for q in blocked)}, which did not build"
    outcome = Outcome(model.key, "skipped", reason=reason, error=reason, run_id=new_run_id(started))
    _log(bucket, model, outcome, started)
    return outcome

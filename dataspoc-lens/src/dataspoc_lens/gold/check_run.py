"""`dataspoc-lens test`: each selected model's declared checks on its published gold table,
and the results and score written to the table's manifest entry (under the manifest lock,
that entry's `quality` only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataspoc_lens import catalog as catalogs
from dataspoc_lens.bucket import Bucket
from dataspoc_lens.contract import MANIFEST_LOCK, MANIFEST_PATH
from dataspoc_lens.errors import ProjectError, UnknownTable
from dataspoc_lens.gold import checks, dag, project
from dataspoc_lens.gold.publish import CONTRACT, WRITER, new_run_id, newer_version, now, stamp


@dataclass
class TableChecks:
    model: str
    table: str
    results: list[checks.Result] = field(default_factory=list)
    score: float | None = None
    missing: bool = False  # the model has never been built

    def document(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "table": self.table,
            "score": self.score,
            "missing": self.missing,
            "results": [dict(r.outcome(), sample=r.sample) for r in self.results],
        }


def run(bucket: Bucket, root: Path, selectors: list[str], show: int = 5) -> list[TableChecks]:
    from dataspoc_lens.session import Session

    catalog = catalogs.load(bucket)
    graph = dag.build(project.load(root), catalog)
    chosen = [m for m in graph.select(selectors) if m.settings.tests]
    if not chosen:
        raise ProjectError("no selected model declares tests: add `tests:` to a model's settings")
    reports: list[TableChecks] = []
    run_id, at = new_run_id(), stamp(now())
    with Session(catalog) as session:
        for model in chosen:
            declared = checks.parse(model.settings.tests, model.path)
            report = TableChecks(model.key, model.qualified)
            reports.append(report)
            if not any(t.location == model.location for t in catalog.tables):
                report.missing = True
                continue
            targets = {}
            for check in declared:
                if isinstance(check, checks.Relationships):
                    try:
                        targets[check.to] = catalog.resolve(check.to).qualified
                    except UnknownTable as exc:
                        raise ProjectError(f"{model.path}: check {check.label()}: {exc}") from None
            session.prepare(" UNION ALL ".join(f"SELECT 1 FROM {q}" for q in [model.qualified, *targets.values()]))
            for check in declared:
                if isinstance(check, checks.Sql):
                    session.prepare(check.sql.replace("{table}", model.qualified))
            report.results = checks.evaluate(session.con, model.qualified, declared, targets, show)
            report.score = checks.score(report.results)
    _record(bucket, {r.table: checks.quality(r.results, run_id, at) for r in reports if not r.missing})
    return reports


def _record(bucket: Bucket, qualities: dict[str, dict[str, Any] | None]) -> None:
    locations = {q.replace(".", "/"): value for q, value in qualities.items() if value}
    if not locations:
        return
    with bucket.lock(MANIFEST_LOCK, owner=WRITER):
        document = bucket.read_json(MANIFEST_PATH)
        if document is None:
            return
        for table in document.get("tables", []):
            if table.get("location") in locations:
                table["quality"] = locations[table["location"]]
        document["contract_version"] = newer_version(str(document.get("contract_version", CONTRACT)), CONTRACT)
        bucket.write_json(MANIFEST_PATH, document)

"""The registry: `models`, `versions`, `promote`, `show`, `card`, `compare`."""

from __future__ import annotations

import typer

from dataspoc_ml import console
from dataspoc_ml.cli import common as shared
from dataspoc_ml.cli.common import BucketOpt, DebugOpt, JsonOpt, command

ModelArg = typer.Argument(..., help="The model's name, e.g. churn.", show_default=False)
VersionOpt = typer.Option(
    None, "--version", "-v", help="A version number [default: the promoted one].", show_default=False
)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    lines = [header, *rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        console.out("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())


@command("dataspoc-ml models", "dataspoc-ml models --json")
def models(
    bucket: str | None = BucketOpt,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """List trained models: the promoted version, task, target, main metric and training time."""
    from dataspoc_ml import registry_report
    from dataspoc_ml.artifacts import all_models

    rows = [registry_report.summary(info) for info in all_models(shared.open_bucket(bucket))]
    if as_json:
        shared.print_json(rows)
        return
    if not rows:
        console.say("no models yet; train one with 'dataspoc-ml train'")
        return
    _table(
        ("MODEL", "VERSION", "TASK", "TARGET", "METRIC", "TRAINED_AT"),
        [
            (
                str(r["model"]),
                f"v{r['version']}" if r["version"] else "-",
                str(r["task"]),
                str(r["target"]),
                registry_report.metric_cell(r),
                str(r["trained_at"]),
            )
            for r in rows
        ],
    )


@command("dataspoc-ml versions churn", "dataspoc-ml versions churn --json")
def versions(
    model: str = ModelArg,
    bucket: str | None = BucketOpt,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """List a model's versions, oldest first; * marks the promoted one."""
    from dataspoc_ml import artifacts, registry_report

    rows = [registry_report.summary(info) for info in artifacts.versions(shared.open_bucket(bucket), model)]
    if as_json:
        shared.print_json(rows)
        return
    _table(
        ("", "VERSION", "METRIC", "BASELINE", "TABLE RUN", "TRAINED_AT"),
        [
            (
                "*" if r["promoted"] else "",
                f"v{r['version']}" if r["version"] else "-",
                registry_report.metric_cell(r),
                registry_report.baseline_cell(r),
                str(r["table_run_id"]),
                str(r["trained_at"]),
            )
            for r in rows
        ],
    )


@command("dataspoc-ml promote churn --version 2")
def promote(
    model: str = ModelArg,
    version: int = typer.Option(..., "--version", "-v", help="The version to promote.", show_default=False),
    bucket: str | None = BucketOpt,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """Make a version the one `predict` and Lens use (promoting an older one rolls back)."""
    from dataspoc_ml import artifacts, registry_report

    artifacts.check_version(version)
    info = artifacts.promote(shared.open_bucket(bucket), model, version)
    if as_json:
        shared.print_json(registry_report.summary(info))
    console.say(f"model '{model}' now uses v{version} ({registry_report.metric_cell(registry_report.summary(info))})")


@command("dataspoc-ml show churn", "dataspoc-ml show churn --version 1 --json")
def show(
    model: str = ModelArg,
    version: int | None = VersionOpt,
    bucket: str | None = BucketOpt,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """Describe a version: task, target, features, metrics beside the baseline, lineage."""
    from dataspoc_ml import artifacts
    from dataspoc_ml.contract.models import dump

    artifacts.check_version(version)
    info = artifacts.info(shared.open_bucket(bucket), model, version)
    if as_json:
        shared.print_json(
            {
                "model": model,
                "version": info.version,
                "promoted": info.promoted,
                "features": dump(info.features),
                "metrics": dump(info.metrics),
            }
        )
        return
    console.out(artifacts.card_text(shared.open_bucket(bucket), model, version))


@command("dataspoc-ml card churn > churn.md", "dataspoc-ml card churn --version 2")
def card(
    model: str = ModelArg,
    version: int | None = VersionOpt,
    bucket: str | None = BucketOpt,
    debug: bool = DebugOpt,
) -> None:
    """Print a version's model card (Markdown): purpose, data and lineage, metrics, limits."""
    from dataspoc_ml import artifacts

    artifacts.check_version(version)
    console.out(artifacts.card_text(shared.open_bucket(bucket), model, version))


@command("dataspoc-ml compare churn", "dataspoc-ml compare churn --json")
def compare(
    model: str = ModelArg,
    bucket: str | None = BucketOpt,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """Every version side by side: each metric, its baseline and cross-validation spread."""
    from dataspoc_ml import artifacts, registry_report

    infos = artifacts.versions(shared.open_bucket(bucket), model)
    document = registry_report.comparison(infos)
    if as_json:
        shared.print_json(document)
        return
    names = document["metrics"]
    _table(
        ("", "VERSION", *names, "ALGORITHM", "TRAINED_AT"),
        [
            (
                "*" if v["promoted"] else "",
                f"v{v['version']}" if v["version"] else "-",
                *(registry_report.cell(v, n) for n in names),
                str(v["algorithm"]),
                str(v["trained_at"]),
            )
            for v in document["versions"]
        ],
    )


@command("dataspoc-ml vacuum", "dataspoc-ml vacuum --retain 0 --dry-run --json")
def vacuum(
    retain: str = typer.Option("7d", "--retain", help="Keep replaced prediction files this long (7d, 12h, 0)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be deleted; delete nothing."),
    bucket: str | None = BucketOpt,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
) -> None:
    """Delete the prediction files later `predict` runs replaced, once older than the retention.

    They leave the manifest first, then the bucket: a query that planned on them before still
    finds them until the retention has passed.
    """
    from dataspoc_ml import vacuum as cleaner

    report = cleaner.vacuum(shared.open_bucket(bucket), cleaner.retention(retain), dry_run)
    if as_json:
        shared.print_json({"deleted": report.deleted, "kept": report.kept, "dry_run": dry_run})
    verb = "would delete" if dry_run else "deleted"
    console.say(f"{verb} {len(report.deleted)} replaced prediction file(s); {report.kept} kept within the retention")

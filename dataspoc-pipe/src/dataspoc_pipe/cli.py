"""The dataspoc-pipe command line: parse, call the core, render. No logic lives here."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from dataspoc_pipe import console, diagnostics
from dataspoc_pipe.diagnostics import DEBUG_HELP, EXIT_CODES_HELP, epilog
from dataspoc_pipe.errors import UsageError

app = typer.Typer(
    name="dataspoc-pipe",
    help=(
        "Extract sources into a Parquet data lake in a bucket, incrementally and exactly once.\n\n"
        "Quick start:\n\n"
        "  dataspoc-pipe init --bucket ./bucket\n\n"
        "  dataspoc-pipe add orders --kind csv --path 'data/orders*.csv' --namespace shop\n\n"
        "  dataspoc-pipe run orders\n\n" + EXIT_CODES_HELP
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)

ProjectOpt = Annotated[
    str | None,
    typer.Option("--project", "-p", help="Project file [env DATASPOC_PIPE_PROJECT; default ./dataspoc-pipe.yaml]."),
]
BucketOpt = Annotated[
    str | None,
    typer.Option(
        "--bucket",
        "-b",
        help="Bucket URL: a folder, s3://, gs://, az:// [env DATASPOC_BUCKET; default: the project's].",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON document on stdout instead of a table.")]


def command(*examples: str, name: str | None = None):
    """Register a command: its --help ends with examples and the exit codes, and whatever ends
    it becomes one line on stderr and an exit code (diagnostics.py)."""
    return lambda fn: app.command(name, epilog=epilog(*examples))(diagnostics.reporting(fn))


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=diagnostics.show_version, is_eager=True, help="Show the version.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help=DEBUG_HELP)] = False,
) -> None:
    """Global options."""


def _context(project: str | None, bucket: str | None, need_project: bool = True):
    from dataspoc_pipe import config
    from dataspoc_pipe.bucket import Bucket

    path = config.project_path(project)
    loaded = config.load(path) if (need_project or path.exists()) else None
    return path, loaded, Bucket(config.bucket_url(loaded, bucket, path))


@command("dataspoc-pipe init --bucket s3://acme-lake")
def init(project: ProjectOpt = None, bucket: BucketOpt = None) -> None:
    """Create the project file and the bucket's catalog folder. Safe to run again."""
    from dataspoc_pipe import config
    from dataspoc_pipe.bucket import Bucket

    path = config.project_path(project)
    if path.exists():
        loaded = config.load(path)
        console.say(f"{path} exists already ({len(loaded.pipelines)} pipelines); nothing changed")
        return
    chosen = bucket or os.environ.get(config.BUCKET_ENV) or config.DEFAULT_BUCKET
    target = Bucket(config.bucket_url(None, chosen, path))
    target.check_reachable()
    if target.is_local:
        Path(target.root, ".dataspoc").mkdir(parents=True, exist_ok=True)
    config.save(config.Project(bucket=chosen), path)
    console.say(f"created {path} with bucket {target.display()}")
    console.say("next: dataspoc-pipe add NAME --path 'data/*.csv' --source SOURCE")


@command(
    "dataspoc-pipe add orders --kind csv --path 'data/orders*.csv' --namespace shop",
    "dataspoc-pipe add events --kind csv --path 'in/*.csv.gz' --namespace web --set delimiter=';' --set 'nulls=[\"\", \"NA\"]'",
)
def add(
    name: Annotated[str, typer.Argument(help="Pipeline name: lowercase letters, digits, underscores.")],
    kind: Annotated[str | None, typer.Option("--kind", "-k", help="Source kind: csv.")] = None,
    namespace: Annotated[
        str | None,
        typer.Option("--namespace", "--source", "-n", help="Namespace: its tables land in raw/<namespace>/<table>/."),
    ] = None,
    path: Annotated[
        str | None, typer.Option("--path", help="File kinds: a file or glob, relative to the project file.")
    ] = None,
    table: Annotated[
        str | None, typer.Option("--table", help="One-table kinds: the table name [default: the pipeline name].")
    ] = None,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            help="Any source setting as KEY=VALUE (VALUE read as YAML); ${VAR} is kept and read from the environment at run time.",
        ),
    ] = None,
    schedule: Annotated[
        str | None, typer.Option("--schedule", help="When cron runs it: five fields, UTC ('*/15 * * * *', '@daily').")
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a pipeline of the same name.")] = False,
    project: ProjectOpt = None,
) -> None:
    """Add a pipeline to the project file.

    Missing options are asked for when the input is a terminal; with flags only it never asks.
    """
    from dataspoc_pipe import config, wizard

    config.check_name(name, "pipeline name")
    project_file = config.project_path(project)
    loaded = config.load(project_file)
    if name in loaded.pipelines and not replace:
        raise UsageError(f"pipeline '{name}' exists already in {project_file}; pass --replace to overwrite it")
    pipeline = wizard.pipeline_from_options(
        name, kind=kind, namespace=namespace, table=table, path=path, settings=settings or []
    )
    if schedule is not None:
        from dataspoc_pipe import cron

        try:
            cron.parse(schedule)
        except ValueError as exc:
            raise UsageError(f"--schedule: {exc}") from None
        pipeline.schedule = schedule
    loaded.pipelines[name] = pipeline
    config.save(loaded, project_file)
    console.say(f"added pipeline '{name}' ({pipeline.source['kind']}) -> raw/{pipeline.target.namespace}/")
    console.say(f"next: dataspoc-pipe run {name} --dry-run")


@command(
    "dataspoc-pipe run orders customers",
    "dataspoc-pipe run --all --json",
    "dataspoc-pipe run orders --dry-run",
    "*/15 * * * * cd /srv/lake && dataspoc-pipe run --all --quiet",
)
def run(
    names: Annotated[list[str] | None, typer.Argument(help="Pipelines to run.")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Run every pipeline in the project; one failing does not stop the others.")
    ] = False,
    full: Annotated[
        bool, typer.Option("--full", help="Ignore the bookmarks: read every source in full again.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what each pipeline would read and write; change nothing.")
    ] = False,
    reread_changed: Annotated[
        bool,
        typer.Option(
            "--reread-changed",
            help="Ingest again, in full, source files rewritten since they were ingested (their rows are added again).",
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress and no summary lines; errors only (for cron).")
    ] = False,
    if_due: Annotated[
        bool,
        typer.Option(
            "--if-due",
            help="Run only pipelines whose schedule has fired since their last run (for orchestrators ticking every minute).",
        ),
    ] = False,
    as_json: JsonOpt = False,
    project: ProjectOpt = None,
    bucket: BucketOpt = None,
) -> None:
    """Run pipelines: extract what is new, write Parquet, publish it to the catalog.

    A rerun with nothing new writes nothing; a file that grew is read from where the last run
    stopped; a file rewritten otherwise stops the run unless --reread-changed. On failure
    nothing is published and the exit code says why, so cron can act on it. With several
    pipelines each runs whatever the others do; the exit code is the first failure's.
    """
    from dataspoc_pipe import config, render, runner

    project_file, loaded, target = _context(project, bucket)
    chosen = sorted(loaded.pipelines) if all_ else list(names or [])
    if not chosen:
        raise UsageError("name a pipeline to run, or pass --all")
    pipelines = {name: config.pipeline(loaded, name, project_file) for name in chosen}
    options = runner.Options(full=full, reread_changed=reread_changed, dry_run=dry_run)
    if if_due:
        from dataspoc_pipe import schedule as scheduling

        for name in list(pipelines):
            is_due, why = scheduling.due(target, name, pipelines[name])
            if not is_due:
                del pipelines[name]
                if not quiet:
                    console.say(f"{name}: skipped, {why}")

    documents, failures = [], []
    for name, pipeline in pipelines.items():

        def done(log, name=name) -> None:
            documents.append(render.log_document(log))
            if not quiet:
                console.say(render.run_summary(log))
            failed = _failed_checks(log, name)
            if failed is not None:
                failures.append(failed)

        try:
            with render.run_progress(name, quiet=dry_run or quiet) as progress:
                progress.on_log = done
                result = runner.run(target, name, pipeline, project_file.parent, progress, options)
        except Exception as exc:  # noqa: BLE001 - one pipeline's failure, even a bug, must not stop the others
            failures.append(diagnostics.report(exc, prefix=f"{name}: "))
            continue
        if isinstance(result, runner.Plan):
            documents.append(result.document())
            console.say(render.plan_summary(result))
    if as_json:
        console.out(json.dumps(documents, indent=2))
    if failures:
        raise typer.Exit(int(failures[0]))


@command(
    "dataspoc-pipe transform orders",
    "dataspoc-pipe transform orders --full --json",
)
def transform(
    name: Annotated[str, typer.Argument(help="Pipeline name.")],
    full: Annotated[
        bool, typer.Option("--full", help="Read each raw table whole and replace its curated table.")
    ] = False,
    as_json: JsonOpt = False,
    project: ProjectOpt = None,
    bucket: BucketOpt = None,
) -> None:
    """Run a pipeline's transform alone: raw tables into curated/<domain>/<table>.

    Reads the raw rows new since the last transform (all of them with --full, or when the raw
    table was rewritten), applies the declared steps or SQL, runs the curated tables' checks,
    and publishes with the same atomic commit as `run`. `run` does this after each extract.
    """
    from dataspoc_pipe import config, render, runner
    from dataspoc_pipe import transform as transforming

    project_file, loaded, target = _context(project, bucket)
    pipeline = config.pipeline(loaded, name, project_file)
    if pipeline.transform is None:
        raise UsageError(f"pipeline '{name}' declares no transform; add a transform: block (docs/pipe.md)")
    target.check_reachable()
    with runner.running(target, name):
        log = transforming.run(target, name, pipeline, full=full)
    assert log is not None
    console.say(render.run_summary(log))
    if as_json:
        console.out(json.dumps([render.log_document(log)], indent=2))
    failed = _failed_checks(log, name)
    if failed is not None:
        raise typer.Exit(int(failed))


@command(
    "dataspoc-pipe check orders",
    "dataspoc-pipe check orders --json | jq '.checks[] | select(.status == \"fail\")'",
)
def check(
    name: Annotated[str, typer.Argument(help="Pipeline name.")],
    as_json: JsonOpt = False,
    project: ProjectOpt = None,
    bucket: BucketOpt = None,
) -> None:
    """Run a pipeline's quality checks alone, on what is published.

    Each table's score goes into the manifest and the results into a run log. Exit 1 when a
    check of severity error fails; nothing is moved or quarantined.
    """
    from dataspoc_pipe import config, gate, render

    project_file, loaded, target = _context(project, bucket)
    pipeline = config.pipeline(loaded, name, project_file)
    target.check_reachable()
    log = gate.check_published(target, name, pipeline)
    if as_json:
        console.out(json.dumps(render.log_document(log), indent=2))
    else:
        render.checks_table(log)
    from dataspoc_pipe import checks
    from dataspoc_pipe.errors import ChecksFailed

    failures = checks.failed_errors(log.checks or [])
    if failures:
        raise ChecksFailed(checks.summary(failures))


@command(
    "dataspoc-pipe backfill shop_db --from 2026-01-01 --to 2026-01-31T23:59:59Z --stream orders",
    "dataspoc-pipe backfill api_orders --from 1000 --to 1999",
)
def backfill(
    name: Annotated[str, typer.Argument(help="Pipeline name.")],
    start: Annotated[str, typer.Option("--from", help="The first cursor value to read (included).")],
    end: Annotated[str, typer.Option("--to", help="The last cursor value to read (included).")],
    stream: Annotated[str | None, typer.Option("--stream", help="One stream (table) [default: all].")] = None,
    as_json: JsonOpt = False,
    project: ProjectOpt = None,
    bucket: BucketOpt = None,
) -> None:
    """Read a cursor range again, appending its rows, without moving the live bookmark.

    For database and API sources with a cursor, and Singer taps that take a start date
    (source.start_key, default start_date). The next `run` goes on from where it was.
    """
    from dataspoc_pipe import config, render, runner

    project_file, loaded, target = _context(project, bucket)
    pipeline = config.pipeline(loaded, name, project_file)
    window = (_cursor_value(start), _cursor_value(end))
    options = runner.Options(window=window, only=stream)
    logs: list = []
    with render.run_progress(name) as progress:
        progress.on_log = logs.append
        try:
            runner.run(target, name, pipeline, project_file.parent, progress, options)
        finally:
            for log in logs:
                console.say(render.run_summary(log))
    if as_json:
        console.out(json.dumps([render.log_document(log) for log in logs], indent=2))
    failed = [code for code in (_failed_checks(log, name) for log in logs) if code is not None]
    if failed:
        raise typer.Exit(int(failed[0]))


def _failed_checks(log, name: str):
    """A published run whose checks of severity error failed (their rows quarantined): one
    line on stderr, and the exit code it earns."""
    from dataspoc_pipe import checks
    from dataspoc_pipe.errors import ChecksFailedAfterPublish

    failures = checks.failed_errors(log.checks or [])
    if not failures:
        return None
    kept_out = sum(q.rows for q in log.quarantine or [])
    where = f"; the {kept_out} rows that failed are in quarantine/" if kept_out else "; the run was published"
    return diagnostics.report(ChecksFailedAfterPublish(checks.summary(failures) + where), prefix=f"{name}: ")


def _cursor_value(text: str) -> str | int | float:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


@command("dataspoc-pipe list", "dataspoc-pipe list --json | jq -r '.[].pipeline'", name="list")
def list_(as_json: JsonOpt = False, project: ProjectOpt = None) -> None:
    """List the project's pipelines: kind, namespace, schedule."""
    from dataspoc_pipe import config, render, report

    loaded = config.load(config.project_path(project))
    rows = report.pipelines(loaded)
    if as_json:
        console.out(json.dumps(rows, indent=2))
    else:
        render.pipelines_table(rows)


@command("dataspoc-pipe remove orders")
def remove(name: Annotated[str, typer.Argument(help="Pipeline name.")], project: ProjectOpt = None) -> None:
    """Remove a pipeline from the project file. Its tables, state and logs stay in the bucket."""
    from dataspoc_pipe import config

    path = config.project_path(project)
    loaded = config.load(path)
    config.pipeline(loaded, name, path)
    del loaded.pipelines[name]
    config.save(loaded, path)
    console.say(f"removed pipeline '{name}' from {path}; its tables, state and logs stay in the bucket")


@command("dataspoc-pipe validate", "dataspoc-pipe validate shop_db --json")
def validate(
    names: Annotated[list[str] | None, typer.Argument(help="Pipelines to check [default: all].")] = None,
    as_json: JsonOpt = False,
    project: ProjectOpt = None,
    bucket: BucketOpt = None,
) -> None:
    """Check what runs need, reading and publishing nothing: settings resolve (every ${VAR} is
    set), each source answers, the bucket accepts writes. One line per check; the exit code is
    the worst failure's (2: settings, credentials; 3: something did not answer)."""
    from dataspoc_pipe import config, render
    from dataspoc_pipe import validate as checks

    project_file, loaded, target = _context(project, bucket)
    chosen = list(names or sorted(loaded.pipelines))
    results: dict[str, list] = {"bucket": [checks.bucket_writable(target)]}
    for name in chosen:
        results[name] = checks.pipeline(name, config.pipeline(loaded, name, project_file), project_file.parent)
    if as_json:
        console.out(json.dumps(results, indent=2))
    else:
        for name, found in results.items():
            render.checks(name, found)
    code = checks.exit_code([r for found in results.values() for r in found])
    if code:
        raise typer.Exit(int(code))


@command(
    "dataspoc-pipe compact raw/shop/orders --dry-run",
    "dataspoc-pipe compact raw/shop/orders --partition dt=2026-11-20",
    "dataspoc-pipe compact curated/sales/orders --json",
)
def compact(
    table: Annotated[str, typer.Argument(help="The table: raw/<namespace>/<name> or curated/<domain>/<name>.")],
    partition: Annotated[
        str | None, typer.Option("--partition", help="One partition (dt=2026-11-20) [default: every one].")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be rewritten; change nothing.")] = False,
    as_json: JsonOpt = False,
    project: ProjectOpt = None,
    bucket: BucketOpt = None,
) -> None:
    """Rewrite each partition's small files (under 32 MB, two or more) into one, atomically.

    The new file replaces them in one manifest update; the old ones stay in the bucket, listed
    under `replaced`, until `vacuum` deletes them past the retention. The pipelines that write
    the table are locked out while it runs.
    """
    from contextlib import ExitStack

    from dataspoc_pipe import compact as compacting
    from dataspoc_pipe import runner

    _, loaded, target = _context(project, bucket, need_project=False)
    location = compacting.parse_location(table)
    target.check_exists()
    with ExitStack() as stack:
        writers = _writers_of(loaded, location)
        for name in writers:
            stack.enter_context(runner.running(target, name))
        owner = writers[0] if len(writers) == 1 else None
        plan = compacting.compact(
            target, location, compacting.parse_partition(partition), dry_run=dry_run, pipeline=owner
        )
    if as_json:
        console.out(json.dumps(plan.document(dry_run), indent=2))
    if not plan.partitions:
        console.say(f"{location}: no partition has two or more small files; nothing to do")
        return
    files = sum(len(p["files"]) for p in plan.partitions)
    verb = "would rewrite" if dry_run else "rewrote"
    console.say(f"{location}: {verb} {files} files in {len(plan.partitions)} partitions into one each")


def _writers_of(loaded, location: str) -> list[str]:
    """The pipelines that may write a table: by namespace (raw) or transform domain (curated)."""
    if loaded is None:
        return []
    layer, namespace, _name = location.split("/")
    return sorted(
        name
        for name, p in loaded.pipelines.items()
        if (layer == "raw" and p.target.namespace == namespace)
        or (layer == "curated" and p.transform is not None and p.transform.domain == namespace)
    )


@command("dataspoc-pipe vacuum --dry-run", "dataspoc-pipe vacuum --retain 30d --json")
def vacuum(
    retain: Annotated[str, typer.Option("--retain", help="Keep replaced files this long (7d, 12h, 30m, 0).")] = "7d",
    keep_logs: Annotated[
        str | None,
        typer.Option(
            "--keep-logs",
            help="Keep run logs this long [default: the project's keep_logs, else 90d]; a pipeline's newest log always stays.",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")] = False,
    as_json: JsonOpt = False,
    project: ProjectOpt = None,
    bucket: BucketOpt = None,
) -> None:
    """Delete files that later runs replaced (overwrite mode) once older than the retention.

    They leave the manifest first, then the bucket; until then a reader that mounted an earlier
    manifest still finds every file it planned on.
    """
    from dataspoc_pipe import render
    from dataspoc_pipe import vacuum as cleaner

    _, loaded, target = _context(project, bucket, need_project=False)
    logs_for = keep_logs or (loaded.keep_logs if loaded else "90d")
    report = cleaner.vacuum(
        target, cleaner.retention(retain), dry_run=dry_run, keep_logs=cleaner.retention(logs_for, "--keep-logs")
    )
    if as_json:
        console.out(json.dumps(report.document(), indent=2))
    console.say(render.vacuum_summary(report))


schedule_app = typer.Typer(
    help="Run pipelines on their schedule: crontab lines for the pipelines' `schedule:`.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(schedule_app, name="schedule")
CrontabOpt = Annotated[
    str | None,
    typer.Option("--crontab-file", help="Edit this file instead of the user's crontab (then: crontab FILE)."),
]


def schedule_command(*examples: str, name: str | None = None):
    return lambda fn: schedule_app.command(name, epilog=epilog(*examples))(diagnostics.reporting(fn))


@schedule_command("dataspoc-pipe schedule install", "dataspoc-pipe schedule install orders --log-dir /var/log/lake")
def install(
    names: Annotated[list[str] | None, typer.Argument(help="Pipelines [default: every one with a schedule].")] = None,
    log_dir: Annotated[
        str | None,
        typer.Option("--log-dir", help="Where each run's output goes [default: logs/ beside the project file]."),
    ] = None,
    crontab_file: CrontabOpt = None,
    project: ProjectOpt = None,
) -> None:
    """Write a crontab line per scheduled pipeline (replacing this project's earlier lines).

    Each line changes to the project's folder, holds a local flock so runs never overlap on
    this host, runs `dataspoc-pipe run NAME --quiet`, and appends its output to a log file.
    """
    from dataspoc_pipe import config
    from dataspoc_pipe import schedule as scheduling

    project_file = config.project_path(project)
    loaded = config.load(project_file)
    folder = Path(log_dir).expanduser().resolve() if log_dir else project_file.parent / "logs"
    lines = scheduling.install(project_file, loaded, list(names or []), _path(crontab_file), folder)
    for row in lines:
        console.out(row)
    console.say(f"installed {len(lines)} crontab line{'' if len(lines) == 1 else 's'}; output goes to {folder}")


@schedule_command("dataspoc-pipe schedule list", "dataspoc-pipe schedule list --json", name="list")
def list_schedules(as_json: JsonOpt = False, crontab_file: CrontabOpt = None, project: ProjectOpt = None) -> None:
    """Each pipeline's schedule, whether its crontab line is installed, and its next run (UTC)."""
    from dataspoc_pipe import config, render
    from dataspoc_pipe import schedule as scheduling

    project_file = config.project_path(project)
    rows = scheduling.listing(project_file, config.load(project_file), _path(crontab_file))
    if as_json:
        console.out(json.dumps(rows, indent=2))
    else:
        render.schedules_table(rows)


@schedule_command("dataspoc-pipe schedule remove", "dataspoc-pipe schedule remove orders", name="remove")
def remove_schedule(
    names: Annotated[list[str] | None, typer.Argument(help="Pipelines [default: every one of this project].")] = None,
    crontab_file: CrontabOpt = None,
    project: ProjectOpt = None,
) -> None:
    """Remove this project's crontab lines (of the pipelines named, or all of them)."""
    from dataspoc_pipe import config
    from dataspoc_pipe import schedule as scheduling

    project_file = config.project_path(project)
    gone = scheduling.remove(project_file, list(names or []), _path(crontab_file))
    console.say(
        f"removed {len(gone)} crontab line{'' if len(gone) == 1 else 's'}" + (f": {', '.join(gone)}" if gone else "")
    )


def _path(text: str | None) -> Path | None:
    return Path(text).expanduser().resolve() if text else None


@command("dataspoc-pipe status --json")
def status(as_json: JsonOpt = False, project: ProjectOpt = None, bucket: BucketOpt = None) -> None:
    """Show each pipeline's target table and its last run."""
    from dataspoc_pipe import render, report

    _, loaded, target = _context(project, bucket)
    rows = report.status(target, loaded)
    if as_json:
        console.out(json.dumps(rows, indent=2))
    else:
        render.status_table(rows)


@command("dataspoc-pipe logs orders --run 20261122T030000.000Z-a1b2c3")
def logs(
    name: Annotated[str, typer.Argument(help="Pipeline name.")],
    run_id: Annotated[str | None, typer.Option("--run", help="Show one run's whole log.")] = None,
    limit: Annotated[int, typer.Option("--last", "--limit", "-n", min=1, help="How many recent runs to list.")] = 20,
    as_json: JsonOpt = False,
    project: ProjectOpt = None,
    bucket: BucketOpt = None,
) -> None:
    """List a pipeline's recent runs, newest first, or show one run's log."""
    from dataspoc_pipe import config, render, report

    _, _loaded, target = _context(project, bucket, need_project=False)
    config.check_name(name, "pipeline name")
    if run_id:
        console.out(json.dumps(report.one_log(target, name, run_id), indent=2))
        return
    runs = report.recent_logs(target, name, limit)
    if as_json:
        console.out(json.dumps(runs, indent=2))
    else:
        render.logs_table(name, runs)


manifest_app = typer.Typer(
    help="The bucket's catalog, .dataspoc/manifest.json: print it, or rebuild it from the run logs.",
    rich_markup_mode=None,
    epilog=epilog("dataspoc-pipe manifest | jq '.tables[].location'", "dataspoc-pipe manifest rebuild --dry-run"),
)
app.add_typer(manifest_app, name="manifest")


@manifest_app.callback(invoke_without_command=True)
@diagnostics.reporting
def manifest(ctx: typer.Context, project: ProjectOpt = None, bucket: BucketOpt = None) -> None:
    """Print the bucket's catalog, .dataspoc/manifest.json, on stdout."""
    if ctx.invoked_subcommand is not None:
        return
    from dataspoc_pipe import catalog

    _, _loaded, target = _context(project, bucket, need_project=False)
    console.out(json.dumps(catalog.read_document(target), indent=2))


@manifest_app.command(
    "rebuild", epilog=epilog("dataspoc-pipe manifest rebuild", "dataspoc-pipe manifest rebuild --dry-run --json")
)
@diagnostics.reporting
def manifest_rebuild(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the rebuilt tables; write nothing.")] = False,
    as_json: JsonOpt = False,
    project: ProjectOpt = None,
    bucket: BucketOpt = None,
) -> None:
    """Recreate a lost or damaged manifest from the run logs and the files they name.

    Every successful run (extract, transform, compaction) is replayed in time order, so each raw
    and curated table gets back its files, rows, replaced files and schema history. Gold and ML
    tables are kept from the damaged manifest when it can still be read; otherwise run
    `dataspoc-lens transform run --full` and `dataspoc-ml predict` again. The old file is kept
    beside it as .dataspoc/manifest.before-rebuild-<time>.json.
    """
    from dataspoc_pipe import rebuild

    _, _loaded, target = _context(project, bucket, need_project=False)
    result = rebuild.rebuild(target, dry_run=dry_run)
    if as_json:
        console.out(json.dumps(result.summary(), indent=2))
    verb = "would rebuild" if dry_run else "rebuilt"
    rows = sum(t["row_count"] for t in result.document["tables"] if t.get("layer") in rebuild.PIPE_LAYERS)
    console.say(
        f"{verb} the manifest from {result.runs} runs: "
        f"{sum(1 for t in result.document['tables'] if t.get('layer') in rebuild.PIPE_LAYERS)} tables, {rows:,} rows"
        + (f"; kept {len(result.kept)} gold/ml tables" if result.kept else "")
    )
    if result.missing:
        console.warn(
            f"{len(result.missing)} file(s) the runs wrote are gone from the bucket, e.g. {result.missing[0]}: "
            "restore them, or rerun the pipelines that wrote them"
        )


state_app = typer.Typer(
    help="Show or change where pipelines start next: one bookmark per stream.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(state_app, name="state")
StreamOpt = Annotated[str | None, typer.Option("--stream", help="One stream (table) of the pipeline [default: all].")]


def state_command(*examples: str, name: str | None = None):
    return lambda fn: state_app.command(name, epilog=epilog(*examples))(diagnostics.reporting(fn))


@state_command("dataspoc-pipe state show orders", "dataspoc-pipe state show shop_db --stream customers")
def show(
    name: Annotated[str, typer.Argument(help="Pipeline name.")],
    stream: StreamOpt = None,
    project: ProjectOpt = None,
    bucket: BucketOpt = None,
) -> None:
    """Print a pipeline's bookmarks as JSON on stdout: {"streams": {...}, "tap_state": ...}."""
    from dataspoc_pipe import config, state
    from dataspoc_pipe.contract.models import dump

    path, loaded, target = _context(project, bucket)
    pipeline = config.pipeline(loaded, name, path)
    saved = state.load(target, name)
    marks = state.streams(saved, pipeline.target.table or name)
    if stream is not None:
        if stream not in marks:
            known = ", ".join(sorted(marks)) or "none yet"
            raise UsageError(f"pipeline '{name}' has no bookmark for stream '{stream}'; streams: {known}")
        marks = {stream: marks[stream]}
    document = {
        "streams": {s: dump(m) for s, m in sorted(marks.items())},
        "tap_state": saved.bookmarks.singer if saved else None,
    }
    console.out(json.dumps(document, indent=2))


@state_command("dataspoc-pipe state reset orders", "dataspoc-pipe state reset shop_db --stream customers")
def reset(
    name: Annotated[str, typer.Argument(help="Pipeline name.")],
    stream: StreamOpt = None,
    project: ProjectOpt = None,
    bucket: BucketOpt = None,
) -> None:
    """Forget bookmarks: the next run reads those streams from the beginning (appending their rows again)."""
    from dataspoc_pipe import config, runner, state

    path, loaded, target = _context(project, bucket)
    config.pipeline(loaded, name, path)
    with runner.running(target, name):

        def change(marks):
            if stream is None:
                return {}
            if stream not in marks:
                raise UsageError(f"pipeline '{name}' has no bookmark for stream '{stream}'")
            return {s: m for s, m in marks.items() if s != stream}

        state.edit(target, name, change)
    console.say(f"{name}: {'stream ' + stream if stream else 'every stream'} starts from the beginning on the next run")


@state_command("dataspoc-pipe state set shop_db --stream orders --cursor 2026-11-01T00:00:00Z", name="set")
def set_(
    name: Annotated[str, typer.Argument(help="Pipeline name.")],
    cursor: Annotated[str, typer.Option("--cursor", help="The cursor value the next run starts after.")],
    stream: StreamOpt = None,
    column: Annotated[
        str | None, typer.Option("--column", help="The cursor column [default: the stream's current one].")
    ] = None,
    project: ProjectOpt = None,
    bucket: BucketOpt = None,
) -> None:
    """Move a stream's cursor bookmark (database and API sources)."""
    from dataspoc_pipe import config, runner, state
    from dataspoc_pipe.contract.models import Cursor, StreamBookmark

    path, loaded, target = _context(project, bucket)
    pipeline = config.pipeline(loaded, name, path)
    chosen = stream or pipeline.target.table or name
    with runner.running(target, name):

        def change(marks):
            current = marks.get(chosen)
            if current is not None and current.files:
                raise UsageError(
                    f"stream '{chosen}' of '{name}' reads files: it has no cursor to set; use `state reset`"
                )
            known = column or (current.cursor.column if current and current.cursor else None)
            if known is None:
                raise UsageError(f"stream '{chosen}' of '{name}' has no cursor yet: pass --column")
            value: str | int | float = cursor
            for kind in (int, float):
                try:
                    value = kind(cursor)
                    break
                except ValueError:
                    continue
            return {**marks, chosen: StreamBookmark(cursor=Cursor(column=known, value=value))}

        state.edit(target, name, change)
    console.say(f"{name}: stream {chosen} starts after {cursor} on the next run")


def main() -> None:
    diagnostics.run(app)

"""Quality checks: their declarations, their evaluation with DuckDB, and the table's score.

Checks are declared per table (`checks:` of a pipeline, by raw table; `checks:` of a curated
table) and evaluated on the table as it will be once the run is published: the files that stay
listed plus the run's staged ones. A *row check* (not_null, unique, accepted_values, range,
regex, relationships, sql) counts the rows it flags; a *table check* (row_count,
row_count_change, freshness) measures the table and passes or fails.

The score, 0–100: each check weighs 3 (severity error) or 1 (warn) and scores its pass ratio, the
share of rows it does not flag for a row check, 1 or 0 for a table check; the score is 100 times
the weighted mean, rounded to one decimal. A table with no checks has no score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator, model_validator

from dataspoc_pipe.contract.models import LOCATION_PATTERN, CheckResult, Severity
from dataspoc_pipe.engine import FILE_COLUMN, ident, literal
from dataspoc_pipe.errors import SourceError
from dataspoc_pipe.fields import Columns, Strict

if TYPE_CHECKING:
    import duckdb

WEIGHTS = {"error": 3, "warn": 1}
FAILED_CHECKS_COLUMN = "_dataspoc_failed_checks"  # in quarantined rows: the checks they failed
DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
Value = str | int | float | bool | date | datetime  # YAML reads unquoted dates as dates


def seconds(text: str) -> int:
    match = DURATION.match(text.strip())
    if not match:
        raise ValueError(f"'{text}' is not a duration: write a number and a unit, s, m, h, d or w (36h, 7d)")
    return int(match.group(1)) * SECONDS[match.group(2)]


class Base(Strict):
    name: Annotated[str, Field(min_length=1)] | None = None  # default: the check and its columns
    severity: Severity = "error"

    def label(self) -> str:
        return self.name or self.default_name()

    def default_name(self) -> str:
        return self.check  # type: ignore[attr-defined]


class NotNull(Base):
    check: Literal["not_null"]
    columns: Columns

    def default_name(self) -> str:
        return f"not_null({', '.join(self.columns)})"

    def flags(self) -> str:
        return " OR ".join(f"{ident(c)} IS NULL" for c in self.columns)


class Unique(Base):
    """No two rows share the values of `columns` (rows with a NULL among them are not compared)."""

    check: Literal["unique"]
    columns: Columns

    def default_name(self) -> str:
        return f"unique({', '.join(self.columns)})"

    def flags(self) -> str:
        key = ", ".join(ident(c) for c in self.columns)
        present = " AND ".join(f"{ident(c)} IS NOT NULL" for c in self.columns)
        return f"({present} AND count(*) OVER (PARTITION BY {key}) > 1)"


class AcceptedValues(Base):
    check: Literal["accepted_values"]
    column: Annotated[str, Field(min_length=1)]
    values: Annotated[list[Value], Field(min_length=1)]

    def default_name(self) -> str:
        return f"accepted_values({self.column})"

    def flags(self) -> str:
        return f"({ident(self.column)} IS NOT NULL AND {ident(self.column)} NOT IN ({', '.join(literal(v) for v in self.values)}))"


class Range(Base):
    check: Literal["range"]
    column: Annotated[str, Field(min_length=1)]
    min: Value | None = None
    max: Value | None = None

    @model_validator(mode="after")
    def _bound(self):
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        return self

    def default_name(self) -> str:
        return f"range({self.column})"

    def flags(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f"{ident(self.column)} < {literal(self.min)}")
        if self.max is not None:
            parts.append(f"{ident(self.column)} > {literal(self.max)}")
        return f"({' OR '.join(parts)})"


class Regex(Base):
    """Each non-NULL value, as text, matches `pattern` whole."""

    check: Literal["regex"]
    column: Annotated[str, Field(min_length=1)]
    pattern: Annotated[str, Field(min_length=1)]

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value

    def default_name(self) -> str:
        return f"regex({self.column})"

    def flags(self) -> str:
        column = ident(self.column)
        return f"({column} IS NOT NULL AND NOT regexp_full_match(CAST({column} AS VARCHAR), {literal(self.pattern)}))"


class Relationships(Base):
    """Each non-NULL value of `column` is a value of `field` in the table at `to`."""

    check: Literal["relationships"]
    column: Annotated[str, Field(min_length=1)]
    to: Annotated[str, Field(pattern=LOCATION_PATTERN)]  # raw/shop/customers
    field: Annotated[str, Field(min_length=1)]

    def default_name(self) -> str:
        return f"relationships({self.column} -> {self.to}.{self.field})"

    def flags(self) -> str:
        column = ident(self.column)
        other = (
            f"SELECT {ident(self.field)} FROM {ident(reference_view(self.to))} WHERE {ident(self.field)} IS NOT NULL"
        )
        return f"({column} IS NOT NULL AND {column} NOT IN ({other}))"


class Sql(Base):
    """A query returning the failing rows; `{table}` names the table checked."""

    check: Literal["sql"]
    name: Annotated[str, Field(min_length=1)]  # required: nothing else tells such checks apart
    sql: Annotated[str, Field(min_length=1)]

    def query(self) -> str:
        """The statement, one only, with `{table}` named (a trailing `;` or comment is fine)."""
        import duckdb

        text = self.sql.replace("{table}", ident(TABLE_VIEW))
        try:
            statements = duckdb.extract_statements(text)
        except duckdb.Error:
            return text  # running it reports the syntax error
        if len(statements) != 1:
            raise SourceError(f"check {self.label()}: give one SQL statement, not {len(statements)}")
        return text


class RowCount(Base):
    check: Literal["row_count"]
    min: Annotated[int, Field(ge=0)] | None = None
    max: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _bound(self):
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        return self


class RowCountChange(Base):
    """The rows this run wrote to the table against the rows the previous run wrote, in %."""

    check: Literal["row_count_change"]
    max_percent: Annotated[float, Field(gt=0)]


class Freshness(Base):
    """The newest value of a date or timestamp column is at most `max_age` old (36h, 7d)."""

    check: Literal["freshness"]
    column: Annotated[str, Field(min_length=1)]
    max_age: str

    @field_validator("max_age")
    @classmethod
    def _duration(cls, value: str) -> str:
        seconds(value)
        return value

    def default_name(self) -> str:
        return f"freshness({self.column})"


Check = Annotated[
    NotNull | Unique | AcceptedValues | Range | Regex | Relationships | Sql | RowCount | RowCountChange | Freshness,
    Field(discriminator="check"),
]
ROW_CHECKS = (NotNull, Unique, AcceptedValues, Range, Regex, Relationships)
TABLE_VIEW = "checked"


def reference_view(location: str) -> str:
    return "ref_" + location.replace("/", "__")


@dataclass
class Subject:
    """A table to check: the files it will list once the run is published."""

    location: str
    listed: list[str]  # paths DuckDB reads: the bucket's files that stay, and the run's staged ones
    new: list[str] = field(default_factory=list)  # the run's own files among them
    new_rows: int | None = None  # rows this run wrote (row_count_change)
    previous_rows: int | None = None  # rows the table's previous run wrote
    dt: dict[str, str] = field(default_factory=dict)  # path -> its dt partition value


@dataclass
class Outcome:
    results: list[CheckResult]
    error_checks: list = field(default_factory=list)  # the row checks of severity error that failed


def evaluate(
    con: duckdb.DuckDBPyConnection,
    subject: Subject,
    checks: list,
    references: dict[str, list[str]],
    now: datetime | None = None,
) -> Outcome:
    """Run each check on the subject; `references` gives the files of the tables that
    relationships checks look up, by location."""
    from dataspoc_pipe.engine import files_view

    now = now or datetime.now(timezone.utc)
    results: list[CheckResult] = []
    if not subject.listed:
        return Outcome(
            [
                _row_result(subject, c, 0, 0)
                if isinstance(c, (*ROW_CHECKS, Sql))
                else _table_result(subject, c, 0, now, None)
                for c in checks
            ]
        )
    files_view(con, TABLE_VIEW, subject.listed, with_file=True, dt=subject.dt)
    for location, paths in references.items():
        if paths:
            files_view(con, reference_view(location), paths, hive=False)
    total = _scalar(con, f"SELECT count(*) FROM {ident(TABLE_VIEW)}", subject, "row count")
    row_checks = [c for c in checks if isinstance(c, ROW_CHECKS)]
    counts: list[int] = []
    if row_checks:
        for check in row_checks:
            if isinstance(check, Relationships) and not references.get(check.to):
                raise SourceError(
                    f"{subject.location}: check {check.label()} looks up {check.to}, which has no data yet; "
                    "run the pipeline that fills it first"
                )
        counts = _counts(con, subject, row_checks)
    by_check = dict(zip([id(c) for c in row_checks], counts))
    for check in checks:
        if isinstance(check, ROW_CHECKS):
            results.append(_row_result(subject, check, total, by_check[id(check)]))
        elif isinstance(check, Sql):
            failing = _count(con, check.query(), subject, f"check {check.label()}")
            results.append(_row_result(subject, check, total, int(failing)))
        else:
            observed = None
            if isinstance(check, Freshness):
                observed = _scalar(
                    con,
                    f"SELECT max({ident(check.column)}) FROM {ident(TABLE_VIEW)}",
                    subject,
                    f"check {check.label()}",
                )
            results.append(_table_result(subject, check, total, now, observed))
    erred = [c for c in row_checks if c.severity == "error" and by_check[id(c)]]
    return Outcome(results, erred)


def _flags_sql(row_checks: list) -> str:
    columns = ", ".join(f"coalesce({c.flags()}, false) AS f{i}" for i, c in enumerate(row_checks))
    return f"SELECT {ident(FILE_COLUMN)}, file_row_number, {columns} FROM {ident(TABLE_VIEW)}"


def _count(con, sql: str, subject: Subject, what: str) -> int:
    """The rows a statement returns, counted by DuckDB (the statement is run as given, so a
    trailing `;` or comment is fine)."""
    import duckdb

    try:
        cursor = con.execute(sql)
        counted = 0
        while rows := cursor.fetchmany(100_000):
            counted += len(rows)
        return counted
    except duckdb.Error as exc:
        from dataspoc_pipe.engine import failure

        raise failure(exc, f"{subject.location}: {what} cannot run", "; fix the check's SQL") from None


def _scalar(con, sql: str, subject: Subject, what: str):
    from dataspoc_pipe.engine import execute

    return execute(con, sql, f"{subject.location}: {what}").fetchall()[0][0]


def _counts(con, subject: Subject, row_checks: list) -> list[int]:
    """The rows each row check flags, in one scan; a check that cannot run is named."""
    import duckdb

    from dataspoc_pipe.engine import failure

    sums = ", ".join(f"count(*) FILTER (WHERE f{i})" for i in range(len(row_checks)))
    try:
        return [int(v or 0) for v in con.execute(f"SELECT {sums} FROM ({_flags_sql(row_checks)}) AS f").fetchall()[0]]
    except duckdb.Error as exc:
        culprit, cause = "checks", exc
        for check in row_checks:  # find the check that fails alone
            try:
                con.execute(f"SELECT count(*) FROM ({_flags_sql([check])}) AS f").fetchall()
            except duckdb.Error as inner:
                culprit, cause = f"check {check.label()}", inner
                break
        raise failure(cause, f"{subject.location}: {culprit} cannot run", "; fix the check's columns") from None


def _row_result(subject: Subject, check, total: int, failing: int) -> CheckResult:
    return CheckResult(
        location=subject.location,
        check=check.check,
        name=check.label(),
        severity=check.severity,
        status="fail" if failing else "pass",
        checked_rows=total,
        failing_rows=failing,
        message=f"{failing} of {total} rows fail" if failing else None,
    )


def _table_result(subject: Subject, check, total: int, now: datetime, newest) -> CheckResult:
    observed: float | None
    message = None
    if isinstance(check, RowCount):
        observed = float(total)
        failed = (check.min is not None and total < check.min) or (check.max is not None and total > check.max)
        if failed:
            bounds = " and ".join(
                part
                for part in (
                    f"at least {check.min}" if check.min is not None else "",
                    f"at most {check.max}" if check.max is not None else "",
                )
                if part
            )
            message = f"{total} rows; expected {bounds}"
    elif isinstance(check, RowCountChange):
        if subject.new_rows is None or not subject.previous_rows:
            observed, failed = None, False  # nothing to compare with yet
        else:
            observed = round(abs(subject.new_rows - subject.previous_rows) * 100 / subject.previous_rows, 2)
            failed = observed > check.max_percent
            if failed:
                message = (
                    f"this run wrote {subject.new_rows} rows, the previous one {subject.previous_rows}: "
                    f"{observed}% change, more than {check.max_percent}%"
                )
    else:
        assert isinstance(check, Freshness)
        if newest is None:
            observed, failed, message = None, True, f"column {check.column} has no values"
        else:
            if isinstance(newest, datetime):
                newest = newest if newest.tzinfo else newest.replace(tzinfo=timezone.utc)
            elif isinstance(newest, date):
                newest = datetime(newest.year, newest.month, newest.day, tzinfo=timezone.utc)
            else:
                raise SourceError(
                    f"{subject.location}: check {check.label()}: column {check.column} is not a date or timestamp"
                )
            observed = round((now - newest) / timedelta(seconds=1), 1)
            failed = observed > seconds(check.max_age)
            if failed:
                message = f"newest {check.column} is {newest.isoformat()}, older than {check.max_age}"
    return CheckResult(
        location=subject.location,
        check=check.check,
        name=check.label(),
        severity=check.severity,
        status="fail" if failed else "pass",
        checked_rows=total,
        observed=observed,
        message=message,
    )


def score(results: list[CheckResult]) -> float | None:
    if not results:
        return None
    weight = total = 0.0
    for r in results:
        w = WEIGHTS[r.severity]
        if r.failing_rows is not None:
            ratio = 1.0 - (r.failing_rows / r.checked_rows if r.checked_rows else 0.0)
        else:
            ratio = 0.0 if r.status == "fail" else 1.0
        weight += w
        total += w * max(ratio, 0.0)
    return round(100 * total / weight, 1)


def quality(results: list[CheckResult], run_id: str, at: datetime) -> dict | None:
    """The manifest's `quality` of one table."""
    value = score(results)
    if value is None:
        return None
    failed = [r for r in results if r.status == "fail"]
    return {
        "score": value,
        "run_id": run_id,
        "checked_at": at.isoformat().replace("+00:00", "Z"),
        "checks": len(results),
        "failed": len(failed),
        "errors": sum(1 for r in failed if r.severity == "error"),
        "warnings": sum(1 for r in failed if r.severity == "warn"),
    }


def failed_errors(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.status == "fail" and r.severity == "error"]


def summary(failures: list[CheckResult]) -> str:
    first = failures[0]
    more = f" (and {len(failures) - 1} more failed checks)" if len(failures) > 1 else ""
    return f"{first.location}: check {first.name} failed: {first.message or 'failed'}{more}"


def mark_failing(con: duckdb.DuckDBPyConnection, error_checks: list, new_files: list[str]) -> dict[str, int]:
    """Find the rows of the run's new files that fail `error_checks` (evaluated over the whole
    table: unique sees the published rows too). Returns the failing rows per new file."""
    names = ", ".join(f"CASE WHEN f{i} THEN {literal(c.label())} END" for i, c in enumerate(error_checks))
    any_flag = " OR ".join(f"f{i}" for i in range(len(error_checks)))
    files = ", ".join(literal(f) for f in new_files)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __failing AS SELECT {ident(FILE_COLUMN)}, file_row_number, "
        f"list_filter([{names}], lambda x: x IS NOT NULL) AS why "
        f"FROM ({_flags_sql(error_checks)}) AS g WHERE ({any_flag}) AND {ident(FILE_COLUMN)} IN ({files})"
    )
    rows = con.execute(f"SELECT {ident(FILE_COLUMN)}, count(*) FROM __failing GROUP BY ALL").fetchall()
    return {str(path): int(n) for path, n in rows}


def failing_count(con: duckdb.DuckDBPyConnection, check) -> int:
    """The run's rows that failed `check`, after mark_failing."""
    return int(
        con.execute("SELECT count(*) FROM __failing WHERE list_contains(why, ?)", [check.label()]).fetchall()[0][0]
    )


def failing_rows(con: duckdb.DuckDBPyConnection, staged_file: str) -> tuple[list[int], list[str]]:
    """The row numbers of a new file's failing rows, and the checks each failed (after mark_failing)."""
    rows = con.execute(
        f"SELECT file_row_number, array_to_string(why, ', ') FROM __failing WHERE {ident(FILE_COLUMN)} = ? ORDER BY file_row_number",
        [staged_file],
    ).fetchall()
    return [int(r[0]) for r in rows], [str(r[1]) for r in rows]

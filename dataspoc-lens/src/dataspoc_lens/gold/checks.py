"""`dataspoc-lens test`: the checks a model declares under `tests:`, run on its gold table.

The same kinds and meaning as Pipe's checks of raw and curated tables: a *row check*
(not_null, unique, accepted_values, range, relationships, sql) counts the rows it flags and
shows the first of them; a *table check* (row_count, freshness) passes or fails. The score is
the contract's (contract/QUALITY.md), computed here with Lens's own code and held to the
contract's worked cases by the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from dataspoc_lens.errors import ProjectError, QueryError
from dataspoc_lens.execute import arrow as _arrow
from dataspoc_lens.views import ident, literal

if TYPE_CHECKING:
    import duckdb

WEIGHTS = {"error": 3, "warn": 1}
DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
Value = str | int | float | bool | date | datetime
Columns = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]


def seconds(text: str) -> int:
    match = DURATION.match(text.strip())
    if not match:
        raise ValueError(f"'{text}' is not a duration: write a number and a unit, s, m, h, d or w (36h, 7d)")
    return int(match.group(1)) * SECONDS[match.group(2)]


class Base(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1)] | None = None
    severity: Literal["warn", "error"] = "error"

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
        listed = ", ".join(_literal(v) for v in self.values)
        return f"({ident(self.column)} IS NOT NULL AND {ident(self.column)} NOT IN ({listed}))"


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
            parts.append(f"{ident(self.column)} < {_literal(self.min)}")
        if self.max is not None:
            parts.append(f"{ident(self.column)} > {_literal(self.max)}")
        return f"({' OR '.join(parts)})"


class Relationships(Base):
    """Each non-NULL value of `column` is a value of `field` in the table `to` (any bucket table)."""

    check: Literal["relationships"]
    column: Annotated[str, Field(min_length=1)]
    to: Annotated[str, Field(min_length=1)]  # gold.sales.customers, curated.crm.customers, customers
    field: Annotated[str, Field(min_length=1)]

    def default_name(self) -> str:
        return f"relationships({self.column} -> {self.to}.{self.field})"

    def flags_against(self, target: str) -> str:
        column = ident(self.column)
        other = f"SELECT {ident(self.field)} FROM {target} WHERE {ident(self.field)} IS NOT NULL"
        return f"({column} IS NOT NULL AND {column} NOT IN ({other}))"


class Sql(Base):
    """A query returning the failing rows; `{table}` names the table checked."""

    check: Literal["sql"]
    name: Annotated[str, Field(min_length=1)]
    sql: Annotated[str, Field(min_length=1)]


class RowCount(Base):
    check: Literal["row_count"]
    min: Annotated[int, Field(ge=0)] | None = None
    max: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _bound(self):
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        return self


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
    NotNull | Unique | AcceptedValues | Range | Relationships | Sql | RowCount | Freshness,
    Field(discriminator="check"),
]
ROW_CHECKS = (NotNull, Unique, AcceptedValues, Range)
CHECKS: TypeAdapter[list[Any]] = TypeAdapter(list[Check])


def _literal(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, datetime):
        return f"TIMESTAMP {literal(value.isoformat())}"
    if isinstance(value, date):
        return f"DATE {literal(value.isoformat())}"
    return literal(str(value))


def parse(declared: list[dict[str, Any]], where: str) -> list[Any]:
    try:
        return CHECKS.validate_python(declared)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(p) for p in first["loc"]) or "tests"
        raise ProjectError(f"{where}: tests.{place}: {first['msg'].removeprefix('Value error, ')}") from None


@dataclass
class Result:
    name: str
    check: str
    severity: str
    status: str  # pass, fail
    checked_rows: int
    failing_rows: int | None = None  # None for a table check
    message: str | None = None
    sample: list[dict[str, Any]] = field(default_factory=list)  # the first failing rows

    def outcome(self) -> dict[str, Any]:
        """The manifest's record of it (contract: check_outcome)."""
        kept = {k: getattr(self, k) for k in ("name", "check", "severity", "status", "checked_rows")}
        if self.failing_rows is not None:
            kept["failing_rows"] = self.failing_rows
        if self.message:
            kept["message"] = self.message
        return kept


def score(results: list[Result]) -> float | None:
    """contract/QUALITY.md: 100 x the weighted mean of pass ratios (error 3, warn 1), one decimal."""
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


def evaluate(
    con: duckdb.DuckDBPyConnection,
    table: str,
    checks: list[Any],
    targets: dict[str, str],
    show: int = 5,
    now: datetime | None = None,
) -> list[Result]:
    """Run each check on the view `table`; `targets` maps a relationships check's `to` to the
    view it reads. Each row check shows its first `show` failing rows."""
    import duckdb

    now = now or datetime.now(timezone.utc)
    total = int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
    results = []
    for check in checks:
        try:
            results.append(_one(con, table, check, targets, total, show, now))
        except duckdb.Error as exc:
            from dataspoc_lens.translate import one_line

            raise QueryError(
                f"{table}: check {check.label()} cannot run: {one_line(str(exc))}; fix the check"
            ) from None
    return results


def _one(con, table: str, check: Any, targets: dict[str, str], total: int, show: int, now: datetime) -> Result:
    base = {"name": check.label(), "check": check.check, "severity": check.severity, "checked_rows": total}
    if isinstance(check, (*ROW_CHECKS, Relationships, Sql)):
        if isinstance(check, Sql):
            failing_sql = check.sql.strip().rstrip(";").replace("{table}", table)
        else:
            flags = check.flags_against(targets[check.to]) if isinstance(check, Relationships) else check.flags()
            failing_sql = f"SELECT * EXCLUDE (__flag) FROM (SELECT *, coalesce({flags}, false) AS __flag FROM {table}) WHERE __flag"
        failing = int(con.execute(f"SELECT count(*) FROM ({failing_sql})").fetchall()[0][0])
        sample: list[dict[str, Any]] = []
        if failing and show:
            # through Arrow: DuckDB's own conversion of time zones needs pytz, which Lens does not ship
            sample = _arrow(con.sql(f"SELECT * FROM ({failing_sql}) LIMIT {int(show)}")).to_pylist()
        message = f"{failing} of {total} rows fail" if failing else None
        return Result(
            **base, status="fail" if failing else "pass", failing_rows=failing, message=message, sample=sample
        )
    if isinstance(check, RowCount):
        failed = (check.min is not None and total < check.min) or (check.max is not None and total > check.max)
        bounds = " and ".join(
            b
            for b in (
                f"at least {check.min}" if check.min is not None else "",
                f"at most {check.max}" if check.max is not None else "",
            )
            if b
        )
        return Result(
            **base, status="fail" if failed else "pass", message=f"{total} rows; expected {bounds}" if failed else None
        )
    assert isinstance(check, Freshness)
    newest = _arrow(con.sql(f"SELECT max({ident(check.column)}) AS newest FROM {table}")).to_pylist()[0]["newest"]
    if newest is None:
        return Result(**base, status="fail", message=f"column {check.column} has no values")
    if isinstance(newest, datetime):
        newest = newest if newest.tzinfo else newest.replace(tzinfo=timezone.utc)
    elif isinstance(newest, date):
        newest = datetime(newest.year, newest.month, newest.day, tzinfo=timezone.utc)
    else:
        raise QueryError(f"{table}: check {check.label()}: column {check.column} is not a date or timestamp")
    age = (now - newest) / timedelta(seconds=1)
    if age > seconds(check.max_age):
        return Result(
            **base, status="fail", message=f"newest {check.column} is {newest.isoformat()}, older than {check.max_age}"
        )
    return Result(**base, status="pass")


def quality(results: list[Result], run_id: str, at: str) -> dict[str, Any] | None:
    """The manifest's `quality` of a table."""
    value = score(results)
    if value is None:
        return None
    failed = [r for r in results if r.status == "fail"]
    return {
        "score": value,
        "run_id": run_id,
        "checked_at": at,
        "checks": len(results),
        "failed": len(failed),
        "errors": sum(1 for r in failed if r.severity == "error"),
        "warnings": sum(1 for r in failed if r.severity == "warn"),
        "results": [r.outcome() for r in results],
    }

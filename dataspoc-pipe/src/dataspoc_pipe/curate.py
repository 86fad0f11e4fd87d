"""The curated layer's declarations, and the DuckDB query each curated table is computed by.

A curated table is declared under its pipeline's `transform:` block, by name, with the raw
table it reads (`from:`, by default the raw table of the same name): either declared steps, applied in order to the raw rows, or one DuckDB SQL statement. The query
reads two views: `source`, the whole raw table, and `source_new`, the raw files new since the
table's last transform (the whole raw table on a full transform). Declared steps work row by
row, so they read only the new raw files in modes append and merge (dedupe, across runs, is
the merge of the curated table on its key), the whole raw table in mode overwrite, and the
partitions holding new files in mode overwrite_partitions. A SQL statement reads what it names: `source` for
aggregates and window functions over the whole table (the default mode, overwrite, then
replaces the curated table with the result), `source_new` with mode append or merge for an
incremental statement.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from dataspoc_pipe.checks import Check
from dataspoc_pipe.contract.models import WriteMode
from dataspoc_pipe.engine import FILE_COLUMN, ident, literal
from dataspoc_pipe.fields import Columns, MergeSettings, Name, PartitionBy, Strict

# A type as DuckDB spells it: DOUBLE, DECIMAL(12, 2), TIMESTAMP WITH TIME ZONE, VARCHAR[]
TYPE = r"^[A-Za-z][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?(\[\])?$"


class Dedupe(Strict):
    key: Columns
    order_by: str | None = None  # the greatest value wins; default: the latest arrival


class Step(Strict):
    """One step; exactly one of its fields is set."""

    rename: dict[str, Name] | None = None  # old name: new name
    cast: dict[str, Annotated[str, Field(pattern=TYPE)]] | None = None  # column: DuckDB type
    trim: Columns | None = None
    lower: Columns | None = None
    upper: Columns | None = None
    fill_null: dict[str, str | int | float | bool | dt.date | dt.datetime] | None = None  # column: its NULLs' value
    drop_null: Columns | None = None  # drop rows with a NULL in any of these columns
    filter: Annotated[str, Field(min_length=1)] | None = None  # a SQL condition the kept rows meet
    drop: Columns | None = None  # columns left out
    dedupe: Dedupe | None = None  # one row per key, the latest winning

    @model_validator(mode="after")
    def _one(self):
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a step has exactly one of {', '.join(type(self).model_fields)}; this one has "
                f"{', '.join(given) or 'none'}"
            )
        return self

    @property
    def kind(self) -> str:
        return next(name for name in type(self).model_fields if getattr(self, name) is not None)

    def describe(self) -> str:
        value = getattr(self, self.kind)
        shown = value.model_dump(exclude_none=True) if isinstance(value, Strict) else value
        return f"{self.kind} {shown}"


class CuratedTable(Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Annotated[Name | None, Field(alias="from")] = None  # the raw table read; default: the same name
    steps: list[Step] = Field(default_factory=list)
    sql: Annotated[str, Field(min_length=1)] | None = None
    # default: append for steps, merge on the dedupe key when a step dedupes, overwrite for sql
    mode: WriteMode | None = None
    merge: MergeSettings | None = None
    partition_by: PartitionBy | None = None  # default: the raw row's dt (steps), the run's date (sql)
    checks: list[Check] = Field(default_factory=list)

    @model_validator(mode="after")
    def _steps_or_sql(self):
        if self.steps and self.sql:
            raise ValueError("give steps or sql, not both")
        dedupes = [s for s in self.steps if s.dedupe is not None]
        if len(dedupes) > 1:
            raise ValueError("at most one dedupe step")
        if dedupes and self.mode not in (None, "merge", "overwrite"):
            raise ValueError(f"a dedupe step keeps one row per key across runs with mode merge, not {self.mode}")
        return self

    @property
    def dedupe(self) -> Dedupe | None:
        return next((s.dedupe for s in self.steps if s.dedupe is not None), None)

    def write_mode(self) -> WriteMode:
        if self.mode is not None:
            return self.mode
        if self.sql:
            return "overwrite"
        return "merge" if self.dedupe else "append"

    def merge_settings(self) -> MergeSettings:
        if self.merge is not None:
            return self.merge
        dedupe = self.dedupe
        return MergeSettings(key=dedupe.key, order_by=dedupe.order_by) if dedupe else MergeSettings()


class Transform(Strict):
    domain: Name  # curated/<domain>/<table>
    tables: Annotated[dict[Name, CuratedTable], Field(min_length=1)]  # by curated table name


STEPS_INPUT = "source_steps"  # what steps read: new raw files, or more in the overwrite modes


def step_sql(step: Step, inner: str, order_file: bool) -> str:
    """The query applying one step to the rows of `inner`."""
    kind = step.kind
    src = f"({inner}) AS s"
    if kind == "rename":
        pairs = ", ".join(f"{ident(old)} AS {ident(new)}" for old, new in (step.rename or {}).items())
        return f"SELECT * RENAME ({pairs}) FROM {src}"
    if kind in ("cast", "trim", "lower", "upper", "fill_null"):
        if kind == "cast":
            exprs = {c: f"CAST({ident(c)} AS {t})" for c, t in (step.cast or {}).items()}
        elif kind == "fill_null":
            exprs = {c: f"coalesce({ident(c)}, {literal(v)})" for c, v in (step.fill_null or {}).items()}
        else:
            exprs = {c: f"{kind}({ident(c)})" for c in getattr(step, kind)}
        return f"SELECT * REPLACE ({', '.join(f'{e} AS {ident(c)}' for c, e in exprs.items())}) FROM {src}"
    if kind == "drop_null":
        return f"SELECT * FROM {src} WHERE {' AND '.join(f'{ident(c)} IS NOT NULL' for c in step.drop_null or [])}"
    if kind == "filter":
        return f"SELECT * FROM {src} WHERE ({step.filter})"
    if kind == "drop":
        return f"SELECT * EXCLUDE ({', '.join(ident(c) for c in step.drop or [])}) FROM {src}"
    assert step.dedupe is not None
    key = ", ".join(ident(c) for c in step.dedupe.key)
    order = [f"{ident(step.dedupe.order_by)} DESC NULLS LAST"] if step.dedupe.order_by else []
    if order_file:  # the latest arrival: run ids sort by time, and so do the files' names
        order += [f"regexp_extract({FILE_COLUMN}, '[^/]*$') DESC", "file_row_number DESC"]
    return f"SELECT * FROM {src} QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {', '.join(order)}) = 1"


def queries(spec: CuratedTable) -> list[tuple[str, str]]:
    """(what, query) for each prefix of the steps, the last being the whole transform: a step
    that fails to bind is found by binding the prefixes in turn."""
    if spec.sql:
        return [("sql", spec.sql)]
    tracked = spec.dedupe is not None
    sql = f"SELECT * FROM {STEPS_INPUT}"
    out = [("source", sql)]
    for number, step in enumerate(spec.steps, 1):
        sql = step_sql(step, sql, tracked)
        out.append((f"step {number} ({step.describe()})", sql))
    if tracked:
        sql = f"SELECT * EXCLUDE ({ident(FILE_COLUMN)}, file_row_number) FROM ({sql}) AS s"
        out.append(("dedupe", sql))
    return out

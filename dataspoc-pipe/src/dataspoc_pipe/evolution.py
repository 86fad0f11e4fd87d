"""Schema evolution between runs: what a table's columns may become.

A new column is added (older files read as NULL), a missing one reads as NULL in the new files.
A column's type may widen: a narrower integer to a wider one, an integer to a floating point
number, float to double, a date to a timestamp, an all-NULL column to any type (and a run's
files may hold the narrower type of a column already widened: readers unify them by name). Anything else (a number becoming text, say) is incompatible
and stops the run naming the column and both types, unless `on_schema_change` says otherwise:
`widen` (the default) applies widenings, `fail` refuses any type change.
"""

from __future__ import annotations

import re
from typing import Literal

from dataspoc_pipe.contract.models import Table
from dataspoc_pipe.errors import SourceError

OnSchemaChange = Literal["widen", "fail"]
INTS = ["int8", "int16", "int32", "int64"]
UINTS = ["uint8", "uint16", "uint32", "uint64"]
FLOATS = ["halffloat", "float", "double"]


def widens(old: str, new: str) -> bool:
    """Whether a column of type `old` may become `new` without changing what its values mean."""
    if old == new or old == "null":
        return True
    for ladder in (INTS, UINTS, FLOATS):
        if old in ladder and new in ladder:
            return ladder.index(new) >= ladder.index(old)
    if old in UINTS and new in INTS:
        return INTS.index(new) > UINTS.index(old)
    if (old in INTS or old in UINTS) and new in ("float", "double"):
        return True
    if old.startswith("date32") and new.startswith("timestamp"):
        return True
    if re.fullmatch(r"timestamp\[(s|ms|us|ns)(, tz=.*)?\]", old) and re.fullmatch(
        r"timestamp\[(s|ms|us|ns)(, tz=.*)?\]", new
    ):
        return _zone(old) == _zone(new)
    return False


def _zone(kind: str) -> str | None:
    match = re.search(r"tz=([^\]]+)", kind)
    return match.group(1) if match else None


def check(current: Table | None, schema, rule: OnSchemaChange) -> None:
    """Refuse a run whose rows would change a column of the table incompatibly."""
    if current is None or schema is None:
        return
    old = {c.name: c.type for c in current.columns}
    for field in schema:
        before = old.get(field.name)
        now = str(field.type)
        if before is None or before == now or now == "null":  # an all-NULL column says nothing of its type
            continue
        if rule == "fail" or not (widens(before, now) or widens(now, before)):
            allowed = (
                "" if rule == "fail" else " (only widenings are: int32 to int64, int to double, date to timestamp)"
            )
            raise SourceError(
                f"{current.location}: column '{field.name}' was {before} and is now {now}{allowed}; "
                "fix the source, or declare the column's type in source.columns"
            )

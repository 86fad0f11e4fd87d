"""Schema evolution between runs: what a table's columns may become.

A new column is added (older files read as NULL), a missing one reads as NULL in the new files.
A column's type may widen: a narrower integer to a wider one, an integer to a floating point
number, float to double, a date to a timestamp, an all-NULL column to any type (and a run's
files may hold the narrower type of a column already widened: readers unify them by name). Anything else (a number becoming text, say) is incompatible
and stops the run naming the column and both types, unless `on_schema_change` says otherwise:
`widen` (the default) applies widenings and turns a column declared `string` in `source.columns`
to text whatever it was, `fail` refuses any type change, `new_table` writes the
run's rows to a new version of the table (`orders_v2`, then `orders_v3`), where later runs go
on, and leaves the old one as it was.
"""

from __future__ import annotations

import re
from typing import Literal

from dataspoc_pipe.contract.models import Manifest, Table
from dataspoc_pipe.errors import IncompatibleSchema, SourceError

OnSchemaChange = Literal["widen", "fail", "new_table"]
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


def check(current: Table | None, schema, rule: OnSchemaChange, to_text: frozenset[str] = frozenset()) -> None:
    """Refuse a run whose rows would change a column of the table incompatibly. A column in
    `to_text` (declared `string` in source.columns) may become text from any type."""
    if current is None or schema is None:
        return
    old = {c.name: c.type for c in current.columns}
    for field in schema:
        before = old.get(field.name)
        now = str(field.type)
        if before is None or before == now or now == "null":  # an all-NULL column says nothing of its type
            continue
        if field.name in to_text and now in ("string", "large_string") and rule != "fail":
            continue  # declared: older files' values read as text
        if rule == "fail" or not (widens(before, now) or widens(now, before)):
            if rule == "new_table":
                raise IncompatibleSchema(f"{current.location}: column '{field.name}' was {before} and is now {now}")
            allowed = (
                "" if rule == "fail" else " (only widenings are: int32 to int64, int to double, date to timestamp)"
            )
            raise SourceError(
                f"{current.location}: column '{field.name}' was {before} and is now {now}{allowed}; "
                "fix the source, or declare the column's type in source.columns"
            )


def version_of(location: str, candidate: str) -> int | None:
    """1 for the table itself, N for its version `<name>_vN`, None for another table."""
    if candidate == location:
        return 1
    match = re.fullmatch(re.escape(location) + r"_v([0-9]+)", candidate)
    return int(match.group(1)) if match and int(match.group(1)) >= 2 else None


def latest(manifest: Manifest, location: str) -> Table | None:
    """The newest version of a table in the manifest (on_schema_change: new_table)."""
    versions = [(version_of(location, t.location), t) for t in manifest.tables]
    found = [(v, t) for v, t in versions if v is not None]
    return max(found, key=lambda pair: pair[0])[1] if found else None


def place(
    manifest: Manifest, location: str, schema, rule: OnSchemaChange, to_text: frozenset[str] = frozenset()
) -> str:
    """The table a run's rows go to: the table, or with new_table the version they fit, a new
    one when they fit none. Raises SourceError for an incompatible change otherwise."""
    if rule != "new_table":
        check(manifest.find(location), schema, rule, to_text)
        return location
    current = latest(manifest, location)
    try:
        check(current, schema, "new_table", to_text)
    except IncompatibleSchema:
        assert current is not None
        version = (version_of(location, current.location) or 1) + 1
        name = f"{location}_v{version}"
        if len(name.rsplit("/", 1)[1]) > 63:
            raise SourceError(f"{location}: its schema changed and the new table's name {name} is too long") from None
        return name
    return current.location if current is not None else location

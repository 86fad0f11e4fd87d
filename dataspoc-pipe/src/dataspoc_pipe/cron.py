"""Cron expressions: the five fields cron reads, their next and previous times (UTC).

Minute, hour, day of month, month, day of week; each `*`, a number, a range `a-b`, a list
`a,b`, a step `*/n` or `a-b/n`; months and days may be named (jan, mon). As in cron, when both
day of month and day of week are restricted (neither starts with `*`), a day matching either
is a match. `@hourly`,
`@daily`, `@weekly`, `@monthly` and `@yearly` are accepted too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

NAMES = {
    3: {
        m: i
        for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)
    },
    4: {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
}
BOUNDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
FIELDS = ["minute", "hour", "day of month", "month", "day of week"]
MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
HORIZON = timedelta(days=366 * 5)  # a schedule that never fires within it (Feb 30) is refused


@dataclass(frozen=True)
class Schedule:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    def next_after(self, at: datetime) -> datetime:
        """The first time strictly after `at` the schedule fires (UTC, to the minute)."""
        return self._walk(at.astimezone(timezone.utc).replace(second=0, microsecond=0), timedelta(minutes=1))

    def last_before(self, at: datetime) -> datetime:
        """The last time at or before `at` the schedule fired."""
        start = at.astimezone(timezone.utc).replace(second=0, microsecond=0) + timedelta(minutes=1)
        return self._walk(start, timedelta(minutes=-1))

    def _walk(self, at: datetime, step: timedelta) -> datetime:
        # whole days and hours that cannot match are skipped, so a yearly schedule costs little
        end = at + (HORIZON if step.total_seconds() > 0 else -HORIZON)
        current = at + step
        forward = step.total_seconds() > 0
        while (current <= end) if forward else (current >= end):
            if current.month not in self.months or not self._day_ok(current):
                current = _day_edge(current, forward)
                continue
            if current.hour not in self.hours:
                current = _hour_edge(current, forward)
                continue
            if current.minute in self.minutes:
                return current
            current += step
        raise ValueError(f"schedule '{self.text}' never fires")

    def _day_ok(self, at: datetime) -> bool:
        day = at.day in self.days
        weekday = (at.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return day and weekday
        return day or weekday


def _day_edge(at: datetime, forward: bool) -> datetime:
    midnight = at.replace(hour=0, minute=0)
    return midnight + timedelta(days=1) if forward else midnight - timedelta(minutes=1)


def _hour_edge(at: datetime, forward: bool) -> datetime:
    top = at.replace(minute=0)
    return top + timedelta(hours=1) if forward else top - timedelta(minutes=1)


def parse(text: str) -> Schedule:
    """A schedule, or ValueError naming the field that is wrong."""
    expression = MACROS.get(text.strip().lower(), text)
    parts = expression.split()
    if len(parts) != 5:
        raise ValueError(
            f"'{text}' is not a cron schedule: give five fields (minute hour day month weekday), as '*/15 * * * *'"
        )
    sets = [_field(part, i) for i, part in enumerate(parts)]
    weekdays = frozenset(d % 7 for d in sets[4])
    schedule = Schedule(
        text=text,
        minutes=frozenset(sets[0]),
        hours=frozenset(sets[1]),
        days=frozenset(sets[2]),
        months=frozenset(sets[3]),
        weekdays=weekdays,
        # as cron: a field starting with * (*/2 too) leaves the other to decide the day
        any_day=parts[2].startswith("*"),
        any_weekday=parts[4].startswith("*"),
    )
    schedule.next_after(datetime(2000, 1, 1, tzinfo=timezone.utc))  # refuses Feb 30 and the like
    return schedule


def _field(text: str, index: int) -> set[int]:
    low, high = BOUNDS[index]
    values: set[int] = set()
    for item in text.lower().split(","):
        body, _, step_text = item.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body == "*":
                start, stop = low, high
            elif "-" in body:
                a, b = body.split("-", 1)
                start, stop = _value(a, index), _value(b, index)
            else:
                start = _value(body, index)
                stop = high if step_text else start
        except ValueError:
            raise ValueError(f"'{item}' is not a valid {FIELDS[index]} in a cron schedule") from None
        if step < 1 or not (low <= start <= stop <= high):
            raise ValueError(f"'{item}' is out of range for the {FIELDS[index]} ({low}-{high})")
        values.update(range(start, stop + 1, step))
    return values


def _value(text: str, index: int) -> int:
    if text in NAMES.get(index, {}):
        return NAMES[index][text]
    return int(text)

"""Reading ``date(...)`` texts for filters: "3 hours ago", "yesterday", "Nov 20 11:25"; pure.

Every result is an aware UTC datetime. Relative texts count from the ``now``
given; a time without a zone is read in local time (``_local_zone``, which
tests replace). The clock is never read here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from labtasker.filters.field_paths import MISSING, as_instant

_UNITS = {
    "s": "seconds", "sec": "seconds", "second": "seconds",
    "m": "minutes", "min": "minutes", "minute": "minutes",
    "h": "hours", "hr": "hours", "hour": "hours",
    "d": "days", "day": "days", "w": "weeks", "week": "weeks",
    "month": "months", "y": "years", "yr": "years", "year": "years",
}  # fmt: skip
_AMOUNT = re.compile(r"(\d+(?:\.\d+)?|an?|one)\s*([a-z]+)[\s,]*(?:and\s+)?")


class BadDate(ValueError):
    """A date() text whose problem is worth telling the user as is."""


def parse_date(text: str, now: datetime) -> datetime:
    """``date(text)``: "3 hours ago", "yesterday", or an absolute time; ValueError if unreadable."""
    try:
        return _read_date(text, now)
    except (TypeError, ArithmeticError) as exc:  # the parsers' own stumbles
        raise ValueError(f"cannot read {text!r}: {exc}") from None


def date_of(now: datetime) -> Callable[[Any], Any]:
    """``date(x)`` for a value read from a task; unreadable gives MISSING."""

    def convert(value: Any) -> Any:
        if isinstance(value, str):
            try:
                return parse_date(value, now)
            except ValueError:
                return MISSING
        return as_instant(value) or MISSING

    return convert


def _read_date(text: str, now: datetime) -> datetime:
    import pendulum  # here: most filters have no date(), and pendulum costs ~0.1 s to import

    words = " ".join(text.lower().split())
    if words in ("now", "today", "yesterday", "tomorrow"):
        if words == "now":
            return now
        today = pendulum.instance(now).in_timezone(_local_zone()).start_of("day")
        return _utc(today.add(days={"today": 0, "yesterday": -1, "tomorrow": 1}[words]))
    sign = -1 if words.endswith(" ago") else 1 if words.startswith("in ") else 0
    if sign:
        return _relative(words.removesuffix(" ago").removeprefix("in "), now, sign)
    return _absolute(text.strip(), now)


def _relative(words: str, now: datetime, sign: int) -> datetime:
    import pendulum

    fixed, moved, end = timedelta(), pendulum.instance(now), 0
    for found in _AMOUNT.finditer(words):
        if found.start() != end:
            break
        end = found.end()
        amount = 1.0 if found[1] in ("a", "an", "one") else float(found[1])
        unit = _UNITS.get(found[2]) or _UNITS.get(found[2].removesuffix("s"))
        if unit is None:
            raise BadDate(f"unknown unit {found[2]!r}")
        if unit in ("months", "years"):  # calendar arithmetic, whole units only
            moved = moved.add(**{unit: sign * int(amount)})
        else:
            fixed += timedelta(**{unit: sign * amount})
    if end != len(words) or not words:
        raise ValueError(f"cannot read {words!r}")
    return _utc(moved + fixed)


def _absolute(text: str, now: datetime) -> datetime:
    import pendulum
    from dateutil import parser as dateutil_parser  # pendulum's own fallback parser

    zone = _local_zone()
    local_now = pendulum.instance(now).in_timezone(zone)
    try:
        parsed: Any = pendulum.parse(text, tz=zone, now=local_now.naive())
    except ValueError:  # "Nov 20 11:25" and friends: the missing parts come from now
        # A stdlib default (a pendulum one would come back naive and stay so).
        default = datetime(local_now.year, local_now.month, local_now.day)  # noqa: DTZ001
        parsed = dateutil_parser.parse(text, default=default, tzinfos=_zone_named)
    if not isinstance(parsed, datetime):
        raise ValueError(f"{text!r} is not a point in time")
    if parsed.tzinfo is None:
        parsed = pendulum.instance(parsed, tz=zone)
    return _utc(parsed)


def _zone_named(name: str | None, offset: int | None) -> int | None:
    """Zones for dateutil: offsets and UTC; a zone name it cannot know is an error, not a guess."""
    if offset is not None or name is None:
        return offset
    if name.upper() in ("UTC", "GMT", "Z"):
        return 0
    raise BadDate(f"unknown time zone {name!r}; write an offset such as +01:00")


def _local_zone() -> Any:
    """The zone a date without one is read in (tests replace this)."""
    from pendulum.tz import get_local_timezone

    return get_local_timezone()


def _utc(moment: datetime) -> datetime:
    """A plain stdlib datetime in UTC, which compares fastest."""
    u = moment.astimezone(timezone.utc)
    return datetime(u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond, tzinfo=timezone.utc)

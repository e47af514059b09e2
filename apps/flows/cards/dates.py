"""Date and time cards: now, add, format, parse, difference.

Dates are aware datetimes (they carry their offset or zone). Seconds, minutes and hours are
elapsed time; days and weeks move the calendar and keep the clock time; months and years are
calendar months, the day clamped to the month's last (31 January + 1 month is 28 or 29
February). `date.add` and `date.difference` follow the same rules, so they undo each other.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from apps.flows.cards.support import choice
from apps.flows.errors import CardError
from apps.flows.registry import Field, card
from apps.flows.types import DATETIME, NUMBER, TEXT

CATEGORY = "Date and time"
ELAPSED_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600}
CALENDAR_DAY_UNITS = {"days": 1, "weeks": 7}
MONTH_UNITS = {"months": 1, "years": 12}
UNITS = (*ELAPSED_UNITS, *CALENDAR_DAY_UNITS, *MONTH_UNITS)
# strftime directives that mean the same on every platform (no locale-specific %c %x %X).
DIRECTIVES = frozenset("aAbBdfGHIjmMpSuUVwWyYzZ%")
_DIRECTIVE = re.compile(r"%(.?)", re.DOTALL)
MAX_FORMAT = 200
OUT_OF_RANGE = "the result is outside the years 1 to 9999"


def _unit(value: str) -> str:
    normalized = value.strip().lower()
    if normalized in {unit[:-1] for unit in UNITS}:  # "day" as well as "days"
        normalized += "s"
    return choice("unit", normalized, UNITS)


@lru_cache(maxsize=256)
def _check_format(pattern: str) -> str | None:
    """None if every directive of the format is allowed, else the first one that is not."""
    for directive in _DIRECTIVE.findall(pattern):
        if directive not in DIRECTIVES:
            return directive
    return None


def _format(name: str, pattern: str) -> str:
    if len(pattern) > MAX_FORMAT:
        raise CardError(f"input '{name}' is over {MAX_FORMAT} characters")
    bad = _check_format(pattern)
    if bad is not None:
        shown = f"%{bad}" if bad else "a lone % at the end"
        raise CardError(
            f"input '{name}': {shown} is not supported; use "
            + " ".join(f"%{d}" for d in sorted(DIRECTIVES))
        )
    return pattern


@lru_cache(maxsize=128)
def _zone_named(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _zone(name: str | None) -> ZoneInfo | None:
    if not name or not name.strip():
        return None
    try:
        return _zone_named(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise CardError(
            f"input 'time_zone': unknown time zone {name!r} (use a name like Europe/Paris or UTC)"
        ) from None


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """`moment` moved by whole calendar months, the day clamped to the month's last day."""
    year, month_index = divmod(moment.year * 12 + moment.month - 1 + months, 12)
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise CardError(OUT_OF_RANGE)
    day = min(moment.day, calendar.monthrange(year, month_index + 1)[1])
    return moment.replace(year=year, month=month_index + 1, day=day)


def _whole_months(start: dt.datetime, end: dt.datetime) -> int:
    """Whole calendar months from start to end (both in the same zone), towards zero."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if months > 0 and add_months(start, months) > end:
        months -= 1
    elif months < 0 and add_months(start, months) < end:
        months += 1
    return months


def _plain_number(value: float) -> int | float:
    return int(value) if value.is_integer() else value


@card(
    "date.now",
    "Now",
    CATEGORY,
    outputs=[Field("datetime", DATETIME), Field("text", TEXT, description="ISO 8601, UTC")],
    idempotent=True,
)
def now(context):
    """Gives the current date and time in UTC, both as a date (to feed other date cards) and
    as ISO 8601 text such as `2025-03-01T09:30:00.123456+00:00`."""
    moment = dt.datetime.now(dt.UTC)
    return {"datetime": moment, "text": moment.isoformat()}


@card(
    "date.add",
    "Add to date",
    CATEGORY,
    inputs=[
        Field("datetime", DATETIME),
        Field("amount", NUMBER, description="negative to subtract"),
        Field("unit", TEXT, description=" ".join(UNITS)),
    ],
    outputs=[Field("datetime", DATETIME)],
    idempotent=True,
)
def add(context, *, datetime, amount, unit):
    """Adds an amount of time to a date; a negative amount subtracts it. Seconds, minutes and
    hours are elapsed time (fractions allowed); days and weeks move the calendar and keep the
    clock time, even across a daylight-saving change; months and years move the calendar
    (whole amounts only) and clamp the day to the end of a shorter month, so 31 January plus one
    month is the last day of February. A result before year 1 or after 9999 fails the card."""
    unit = _unit(unit)
    if not math.isfinite(amount):
        raise CardError("input 'amount' is not a finite number")
    try:
        if unit in MONTH_UNITS:
            if amount != int(amount):
                raise CardError(f"input 'amount' must be a whole number of {unit}, got {amount}")
            return {"datetime": add_months(datetime, int(amount) * MONTH_UNITS[unit])}
        if unit in CALENDAR_DAY_UNITS:
            return {"datetime": datetime + dt.timedelta(days=amount * CALENDAR_DAY_UNITS[unit])}
        delta = dt.timedelta(seconds=amount * ELAPSED_UNITS[unit])
        return {"datetime": (datetime.astimezone(dt.UTC) + delta).astimezone(datetime.tzinfo)}
    except (OverflowError, ValueError):
        raise CardError(OUT_OF_RANGE) from None


@card(
    "date.format",
    "Format date",
    CATEGORY,
    inputs=[
        Field("datetime", DATETIME),
        Field("format", TEXT, required=False, description="e.g. %d %B %Y; empty: ISO 8601"),
        Field("time_zone", TEXT, required=False, description="e.g. Europe/Paris; empty: as is"),
    ],
    outputs=[Field("text", TEXT)],
    idempotent=True,
)
def format_(context, *, datetime, format, time_zone):
    """Writes a date as text. The format uses these strftime codes: `%Y` year, `%m` month,
    `%d` day, `%H` hour (24 h), `%I` hour (12 h) with `%p` AM/PM, `%M` minutes, `%S` seconds,
    `%f` microseconds, `%y` two-digit year, `%B` / `%b` month name, `%A` / `%a` weekday name,
    `%j` day of the year, `%U` `%W` `%V` `%G` `%u` `%w` week numbers and weekdays, `%z` / `%Z`
    offset and zone name, `%%` a percent sign; for example `%d %B %Y at %H:%M` gives
    "01 March 2025 at 09:30". Without a format it gives ISO 8601 text. With a time zone name
    (like Europe/Paris) the date is first converted to that zone's local time."""
    zone = _zone(time_zone)
    moment = datetime.astimezone(zone) if zone else datetime
    if not format:
        return {"text": moment.isoformat()}
    try:
        return {"text": moment.strftime(_format("format", format))}
    except ValueError as error:
        raise CardError(f"input 'format': {error}") from None


@card(
    "date.parse",
    "Parse date",
    CATEGORY,
    inputs=[
        Field("text", TEXT),
        Field("format", TEXT, required=False, description="e.g. %d/%m/%Y; empty: ISO 8601"),
        Field("time_zone", TEXT, required=False, description="for text without an offset"),
    ],
    outputs=[Field("datetime", DATETIME)],
    idempotent=True,
)
def parse(context, *, text, format, time_zone):
    """Reads a date from text. Without a format the text must be ISO 8601, such as
    `2025-03-01`, `2025-03-01T09:30:00Z` or `2025-03-01 09:30+01:00`; with a format it must
    follow the format's strftime codes (the same ones as Format date, e.g. `%d/%m/%Y %H:%M`).
    A text without an offset is read in the given time zone, else in the portal's own (UTC
    unless configured otherwise). Text that does not fit fails the card, quoting it."""
    zone = _zone(time_zone)
    text = text.strip()
    if format:
        try:
            moment = dt.datetime.strptime(text, _format("format", format))
        except ValueError as error:
            raise CardError(
                f"input 'text': {text[:100]!r} does not fit the format: {error}"
            ) from None
    else:
        try:
            moment = parse_datetime(text)
            if moment is None and (day := parse_date(text)) is not None:
                moment = dt.datetime.combine(day, dt.time.min)
        except ValueError:
            moment = None
        if moment is None:
            raise CardError(f"input 'text': {text[:100]!r} is not an ISO 8601 date and time")
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=zone) if zone else timezone.make_aware(moment)
    return {"datetime": moment}


@card(
    "date.difference",
    "Difference between dates",
    CATEGORY,
    inputs=[
        Field("start", DATETIME),
        Field("end", DATETIME),
        Field("unit", TEXT, description=" ".join(UNITS)),
    ],
    outputs=[Field("difference", NUMBER, description="negative when end is before start")],
    idempotent=True,
)
def difference(context, *, start, end, unit):
    """Gives how much time lies from start to end in the unit asked, negative when the end
    comes first. Seconds, minutes and hours are elapsed time and days and weeks count calendar
    days (in the start's zone), all with fractions (36 hours is 1.5 days); months and years
    count whole calendar months and years, like an age (from 15 March 2000 to 14 March 2024 is
    23 years). Round the result with the Round card when you need a whole number."""
    unit = _unit(unit)
    if unit in ELAPSED_UNITS:
        seconds = (end.astimezone(dt.UTC) - start.astimezone(dt.UTC)).total_seconds()
        return {"difference": _plain_number(seconds / ELAPSED_UNITS[unit])}
    local_start = start.replace(tzinfo=None)
    local_end = end.astimezone(start.tzinfo).replace(tzinfo=None)
    if unit in CALENDAR_DAY_UNITS:
        days = (local_end - local_start).total_seconds() / 86400
        return {"difference": _plain_number(days / CALENDAR_DAY_UNITS[unit])}
    months = _whole_months(local_start, local_end)
    return {"difference": math.trunc(months / MONTH_UNITS[unit])}

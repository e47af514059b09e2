"""How a flow starts by itself: the trigger its definition declares, checked before it is saved.

A flow's definition (versioned, exported and imported with it) may hold a `"trigger"` object
whose type matches the flow's kind:

    event     {"type": "event", "events": ["directory.user.*", ...],
               "filters": [{"path": "data.group_name", "op": "equals", "value": "Engineering"}]}
    schedule  {"type": "schedule", "cron": "0 6 1 * *" | null, "interval_minutes": N | null,
               "timezone": "Europe/Paris", "starts_at": iso | null, "ends_at": iso | null,
               "missed": "once" | "skip"}
    api       {"type": "api", "slug": "hello", ...}  (checked by apps.flows.hooks)

Event and scheduled flows need one; helper and delegated flows have none. What each kind of
flow receives as inputs is fixed here too (EVENT_INPUTS, SCHEDULE_INPUTS): a flow declares the
ones it uses, so that references to them are checked like any other input.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from django.conf import settings
from django.utils.dateparse import parse_datetime

from apps.audit import catalogue
from apps.flows.models import FlowKind, InputType

TRIGGER_TYPE_OF_KIND = {
    FlowKind.EVENT: "event",
    FlowKind.SCHEDULED: "schedule",
    FlowKind.API: "api",
}
NEEDS_TRIGGER = (FlowKind.EVENT, FlowKind.SCHEDULED)

# What an event flow is given: the event itself, who did it, what it was done to, its data.
EVENT_INPUTS = {
    "event": InputType.OBJECT,  # uuid, type, published, outcome, message, correlation_id
    "actor": InputType.OBJECT,  # id, username, email, display ("system", id null, when none)
    "target": InputType.OBJECT,  # type, id, display (empty strings when the event has none)
    "data": InputType.OBJECT,  # the event's data, as its type declares in the catalogue
}
# What a scheduled flow is given: the time the run was planned for.
SCHEDULE_INPUTS = {"scheduled_for": InputType.DATETIME}

EVENT_KEYS = frozenset({"type", "events", "filters"})
SCHEDULE_KEYS = frozenset(
    {"type", "cron", "interval_minutes", "timezone", "starts_at", "ends_at", "missed"}
)
FILTER_OPS = ("equals", "not_equals", "in", "not_in", "contains", "starts_with", "exists")
FILTER_ROOTS = frozenset(EVENT_INPUTS)
MISSED_CHOICES = ("once", "skip")
MAX_INTERVAL_MINUTES = 32767  # django-q2's Schedule.minutes; longer periods are cron's job
MAX_EVENT_PATTERNS = 50
MAX_FILTERS = 20

_EVENT_PATTERN = re.compile(r"^[A-Za-z0-9_*-]+(\.[A-Za-z0-9_*-]+)*$")
_FILTER_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z0-9_-]+)*$")
_MISSING = object()


def trigger_of(definition: Any) -> dict[str, Any] | None:
    """The trigger object of a definition, or None."""
    if isinstance(definition, Mapping):
        trigger = definition.get("trigger")
        return trigger if isinstance(trigger, dict) else None
    return None


# --- Validation -----------------------------------------------------------------------------


def validate_trigger(kind: str, trigger: Any) -> list[str]:
    """Every problem of a flow's trigger, each naming its field (`trigger.cron: ...`)."""
    expected = TRIGGER_TYPE_OF_KIND.get(kind)
    if trigger is None:
        if kind in NEEDS_TRIGGER:
            return [f"trigger: a flow of kind '{kind}' needs a trigger of type '{expected}'."]
        return []
    if not isinstance(trigger, dict):
        return ["trigger: must be an object with a 'type'."]
    given = trigger.get("type")
    if expected is None:
        return [f"trigger: a flow of kind '{kind}' has no trigger (others start it)."]
    if given != expected:
        return [
            f"trigger.type: a flow of kind '{kind}' takes a '{expected}' trigger, not {given!r}."
        ]
    if expected == "event":
        return _validate_event(trigger)
    if expected == "schedule":
        return _validate_schedule(trigger)
    return _validate_api(trigger)


def _validate_api(trigger: dict[str, Any]) -> list[str]:
    # The API branch belongs to apps.flows.hooks (the hook endpoint); until that module is
    # present, an API trigger is accepted as far as its type goes.
    try:
        from apps.flows.hooks import validate_api_trigger
    except ImportError:
        return []
    return validate_api_trigger(trigger)


def validate_trigger_inputs(kind: str, inputs: Any) -> list[str]:
    """Event and scheduled flows may declare only the inputs their trigger gives them."""
    offered = {FlowKind.EVENT: EVENT_INPUTS, FlowKind.SCHEDULED: SCHEDULE_INPUTS}.get(kind)
    if offered is None or not isinstance(inputs, list):
        return []
    errors = []
    listing = ", ".join(f"{name} ({input_type})" for name, input_type in offered.items())
    for spec in inputs:
        if not isinstance(spec, dict):
            continue
        name, input_type = spec.get("name"), spec.get("type")
        if name not in offered:
            errors.append(f"Input {name}: a flow of kind '{kind}' is given only {listing}.")
        elif input_type != offered[name]:
            errors.append(f"Input {name}: is of type {offered[name]} in a flow of kind '{kind}'.")
    return errors


def _unknown_keys(trigger: dict[str, Any], allowed: frozenset[str]) -> list[str]:
    return [f"trigger.{key}: unknown key." for key in sorted(set(trigger) - allowed)]


def _validate_event(trigger: dict[str, Any]) -> list[str]:
    errors = _unknown_keys(trigger, EVENT_KEYS)
    patterns = trigger.get("events")
    if not isinstance(patterns, list) or not patterns:
        errors.append("trigger.events: list one or more event types (wildcards: directory.user.*).")
        patterns = []
    elif len(patterns) > MAX_EVENT_PATTERNS:
        errors.append(f"trigger.events: at most {MAX_EVENT_PATTERNS} event types.")
    known = {event_type.name for event_type in catalogue.all_event_types()}
    namespaces = {name.split(".")[0] for name in known}
    for position, pattern in enumerate(patterns):
        where = f"trigger.events[{position}]"
        if not isinstance(pattern, str) or not _EVENT_PATTERN.match(pattern):
            errors.append(f"{where}: {pattern!r} is not an event type such as directory.user.*.")
        elif (
            not any(event_type_matches((pattern,), name) for name in known)
            # a pattern inside a declared family (okta.user.*) stands for types it may receive
            and catalogue.family_of(pattern.replace("*", "x")) is None
            and pattern.split(".")[0] in namespaces
        ):
            # A slip inside one of our apps' names is refused; types other systems send (an
            # identity provider's okta.*) are recorded as they arrive, so they are let through.
            errors.append(
                f"{where}: no event type in the catalogue matches {pattern!r} (see the system "
                "log's event types; * matches several)."
            )
    filters = trigger.get("filters", [])
    if filters is None:
        filters = []
    if not isinstance(filters, list):
        errors.append("trigger.filters: must be a list of {path, op, value}.")
        filters = []
    elif len(filters) > MAX_FILTERS:
        errors.append(f"trigger.filters: at most {MAX_FILTERS} filters.")
    for position, spec in enumerate(filters):
        errors.extend(_validate_filter(f"trigger.filters[{position}]", spec))
    return errors


def _validate_filter(where: str, spec: Any) -> list[str]:
    if not isinstance(spec, dict):
        return [f"{where}: must be an object with path, op and value."]
    errors = [f"{where}.{key}: unknown key." for key in sorted(set(spec) - {"path", "op", "value"})]
    path = spec.get("path")
    if not isinstance(path, str) or not _FILTER_PATH.match(path):
        errors.append(f"{where}.path: a dotted path such as data.group_name.")
    elif path.split(".")[0] not in FILTER_ROOTS:
        errors.append(f"{where}.path: starts with one of {', '.join(sorted(FILTER_ROOTS))}.")
    op = spec.get("op")
    if op not in FILTER_OPS:
        errors.append(f"{where}.op: one of {', '.join(FILTER_OPS)}.")
    elif op == "exists":
        if not isinstance(spec.get("value", True), bool):
            errors.append(f"{where}.value: exists takes true or false.")
    elif "value" not in spec:
        errors.append(f"{where}.value: {op} needs a value.")
    elif op in ("in", "not_in") and not isinstance(spec["value"], list):
        errors.append(f"{where}.value: {op} takes a list of values.")
    elif op == "starts_with" and not isinstance(spec["value"], str):
        errors.append(f"{where}.value: starts_with takes text.")
    return errors


def _validate_schedule(trigger: dict[str, Any]) -> list[str]:
    errors = _unknown_keys(trigger, SCHEDULE_KEYS)
    cron, interval = trigger.get("cron"), trigger.get("interval_minutes")
    if (cron is None) == (interval is None):
        errors.append("trigger.cron: give either a cron expression or interval_minutes.")
    if cron is not None and not (
        isinstance(cron, str) and len(cron.split()) == 5 and croniter.is_valid(cron)
    ):
        errors.append(
            f"trigger.cron: {cron!r} is not a cron expression of five fields "
            "(minute hour day-of-month month day-of-week, e.g. '0 6 1 * *')."
        )
    if interval is not None and (
        not isinstance(interval, int)
        or isinstance(interval, bool)
        or not 1 <= interval <= MAX_INTERVAL_MINUTES
    ):
        errors.append(
            f"trigger.interval_minutes: a whole number of minutes from 1 to "
            f"{MAX_INTERVAL_MINUTES} (use cron for longer periods)."
        )
    zone = trigger.get("timezone")
    if zone is not None and _zone(zone) is None:
        errors.append(f"trigger.timezone: {zone!r} is not a time zone such as Europe/Paris.")
    bounds = {}
    for key in ("starts_at", "ends_at"):
        value = trigger.get(key)
        if value is None:
            continue
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            errors.append(f"trigger.{key}: an ISO date and time such as 2026-01-31T08:00:00Z.")
        else:
            bounds[key] = parsed
    if len(bounds) == 2:
        zone_of_bounds = schedule_zone(trigger)
        if _aware(bounds["ends_at"], zone_of_bounds) <= _aware(bounds["starts_at"], zone_of_bounds):
            errors.append("trigger.ends_at: must come after starts_at.")
    if trigger.get("missed", "once") not in MISSED_CHOICES:
        errors.append("trigger.missed: 'once' (run once after downtime) or 'skip'.")
    return errors


def _zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _aware(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


# --- Events: which flows an event starts ----------------------------------------------------


def event_type_matches(patterns: tuple[str, ...] | list[str], event_type: str) -> bool:
    """Whether an event type is one of the patterns (`*` matches any run of characters)."""
    return any(
        pattern == event_type or ("*" in pattern and fnmatchcase(event_type, pattern))
        for pattern in patterns
    )


def event_inputs(event) -> dict[str, Any]:
    """What an event flow is given for one system log event (see EVENT_INPUTS)."""
    actor = event.actor
    return {
        "event": {
            "uuid": str(event.uuid),
            "type": event.event_type,
            "published": event.published.isoformat(),
            "outcome": event.outcome,
            "message": event.message,
            "correlation_id": event.correlation_id,
        },
        "actor": {
            "id": actor.pk if actor is not None else None,
            "username": getattr(actor, "username", "") if actor is not None else "",
            "email": getattr(actor, "email", "") if actor is not None else "",
            "display": event.actor_display or "system",
        },
        "target": {
            "type": event.target_type,
            "id": event.target_id,
            "display": event.target_display,
        },
        "data": event.data if isinstance(event.data, dict) else {},
    }


def _value_at(context: Mapping[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif (
            isinstance(value, list)
            and part.lstrip("-").isdigit()
            and -len(value) <= int(part) < len(value)
        ):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def filter_passes(spec: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    """Whether the event (as its flow inputs) passes one filter."""
    actual = _value_at(context, spec["path"])
    op, expected = spec["op"], spec.get("value", True)
    if op == "exists":
        return (actual is not _MISSING and actual is not None) == bool(expected)
    if actual is _MISSING:
        return op in ("not_equals", "not_in")
    if op == "equals":
        return actual == expected
    if op == "not_equals":
        return actual != expected
    if op == "in":
        return actual in expected
    if op == "not_in":
        return actual not in expected
    if op == "contains":
        return isinstance(actual, (list, str)) and (
            expected in actual if isinstance(actual, list) or isinstance(expected, str) else False
        )
    if op == "starts_with":
        return isinstance(actual, str) and actual.startswith(expected)
    return False


def filters_pass(filters, context: Mapping[str, Any]) -> bool:
    """Every filter passes (no filter: every event of the types passes)."""
    return all(filter_passes(spec, context) for spec in filters or ())


# --- Schedules: when a scheduled flow runs --------------------------------------------------


def schedule_zone(trigger: Mapping[str, Any]) -> ZoneInfo:
    """The time zone a schedule's cron expression and naive bounds are read in."""
    return _zone(trigger.get("timezone")) or _zone(settings.TIME_ZONE) or ZoneInfo("UTC")


def schedule_bounds(trigger: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """(starts_at, ends_at) as aware datetimes (naive ones read in the schedule's zone)."""
    zone = schedule_zone(trigger)
    bounds = []
    for key in ("starts_at", "ends_at"):
        value = trigger.get(key)
        parsed = parse_datetime(value) if isinstance(value, str) else None
        bounds.append(_aware(parsed, zone) if parsed is not None else None)
    return bounds[0], bounds[1]


def next_fire_times(
    trigger: Mapping[str, Any], *, after: datetime, count: int = 5, anchor: datetime | None = None
) -> list[datetime]:
    """The next `count` times (strictly after `after`, within the bounds) the schedule fires, in
    its time zone. Cron is read in that zone (croniter: 06:00 stays 06:00 across DST); an
    interval counts from `starts_at`, else from `anchor` (the schedule's current next run),
    else from `after`."""
    zone = schedule_zone(trigger)
    starts_at, ends_at = schedule_bounds(trigger)
    after = after.astimezone(zone)
    times: list[datetime] = []
    if trigger.get("cron"):
        start = after
        if starts_at is not None and starts_at > after:
            start = starts_at.astimezone(zone) - timedelta(seconds=1)
        iterator = croniter(trigger["cron"], start)
        while len(times) < count:
            moment = iterator.get_next(datetime)
            if ends_at is not None and moment > ends_at:
                break
            times.append(moment)
        return times
    step = timedelta(minutes=int(trigger["interval_minutes"]))
    origin = starts_at or anchor or after
    periods = 0 if origin > after else math.floor((after - origin) / step) + 1
    first = origin + step * periods
    moment = first.astimezone(UTC)  # an interval is counted in real minutes, not wall-clock
    while len(times) < count and (ends_at is None or moment <= ends_at):
        times.append(moment.astimezone(zone))
        moment = moment + step
    return times

"""The event-type catalogue: every event the system log may hold, with what it means.

Each app registers its types in its own `events.py` (imported from its AppConfig.ready), so the
catalogue is complete as soon as Django is set up and `emit()` can refuse a type nobody declared.

Events that come from outside (an identity provider's sign-ins, another system's JSON) have types
Gatehouse does not choose one by one: a *family* declares them all under a prefix
(`register_family("okta.*", ...)` accepts `okta.user.session.start`). A family's members must be
dotted names of letters, digits, `_` and `-` below the prefix; anything else is still refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from apps.audit.errors import UnknownEventType


@dataclass(frozen=True)
class EventType:
    """One kind of system log event: its dotted name, what it means and the shape of its data."""

    name: str
    description: str
    payload: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.name


_catalogue: dict[str, EventType] = {}
_families: dict[str, EventType] = {}  # by prefix, with its final dot: "okta."
MEMBER_NAME = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
MAX_NAME_LENGTH = 100  # SystemLogEvent.event_type


def register(name: str, description: str, payload: dict[str, str] | None = None) -> EventType:
    """Declare an event type; registering the same name twice with another text is a bug."""
    event_type = EventType(name=name, description=description, payload=payload or {})
    existing = _catalogue.get(name)
    if existing is not None and existing != event_type:
        raise ValueError(f"Event type {name!r} is registered twice with different definitions.")
    _catalogue[name] = event_type
    return event_type


def register_family(pattern: str, description: str, payload: dict[str, str] | None = None):
    """Declare every event type under a prefix: `pattern` is the prefix followed by `.*`."""
    if not pattern.endswith(".*") or not MEMBER_NAME.match(pattern[:-2]):
        raise ValueError(f"A family is declared as 'prefix.*', not {pattern!r}.")
    family = EventType(name=pattern, description=description, payload=payload or {})
    prefix = pattern[:-1]
    existing = _families.get(prefix)
    if existing is not None and existing != family:
        raise ValueError(f"Event family {pattern!r} is registered twice with different texts.")
    _families[prefix] = family
    return family


def get(name: str) -> EventType:
    """The registered event type called `name` (or a member of a declared family), or
    UnknownEventType."""
    registered = _catalogue.get(name)
    if registered is not None:
        return registered
    family = family_of(name)
    if family is not None:
        return EventType(name=name, description=family.description, payload=family.payload)
    raise UnknownEventType(
        f"Event type {name!r} is not in the catalogue; register it in the app's events.py."
    )


def family_of(name: str) -> EventType | None:
    """The declared family (such as okta.*) an event type belongs to, or None."""
    if len(name) > MAX_NAME_LENGTH or not MEMBER_NAME.match(name):
        return None
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):  # the longest declared prefix first
        family = _families.get(".".join(parts[:cut]) + ".")
        if family is not None:
            return family
    return None


def all_event_types() -> list[EventType]:
    """Every registered event type and family (named `prefix.*`), sorted by name."""
    return sorted(
        [*_catalogue.values(), *_families.values()], key=lambda event_type: event_type.name
    )

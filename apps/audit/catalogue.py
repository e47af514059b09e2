"""The event-type catalogue: every event the system log may hold, with what it means.

Each app registers its types in its own `events.py` (imported from its AppConfig.ready), so the
catalogue is complete as soon as Django is set up and `emit()` can refuse a type nobody declared.
"""

from __future__ import annotations

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


def register(name: str, description: str, payload: dict[str, str] | None = None) -> EventType:
    """Declare an event type; registering the same name twice with another text is a bug."""
    event_type = EventType(name=name, description=description, payload=payload or {})
    existing = _catalogue.get(name)
    if existing is not None and existing != event_type:
        raise ValueError(f"Event type {name!r} is registered twice with different definitions.")
    _catalogue[name] = event_type
    return event_type


def get(name: str) -> EventType:
    """The registered event type called `name`, or UnknownEventType."""
    try:
        return _catalogue[name]
    except KeyError:
        raise UnknownEventType(
            f"Event type {name!r} is not in the catalogue; register it in the app's events.py."
        ) from None


def all_event_types() -> list[EventType]:
    """Every registered event type, sorted by name."""
    return sorted(_catalogue.values(), key=lambda event_type: event_type.name)

"""Who wants to hear about events after they are committed (the flow engine, notifications).

Audit imports none of them: they register a dotted path here from their own AppConfig.ready.
"""

from __future__ import annotations

_subscribers: list[str] = []


def register_subscriber(dotted_path: str) -> None:
    """Call the function at `dotted_path` with each committed event, through the task queue."""
    if dotted_path not in _subscribers:
        _subscribers.append(dotted_path)


def unregister_subscriber(dotted_path: str) -> None:
    """Stop delivering events to `dotted_path` (tests use it to clean up)."""
    if dotted_path in _subscribers:
        _subscribers.remove(dotted_path)


def subscriber_paths() -> tuple[str, ...]:
    """The registered subscribers, in registration order."""
    return tuple(_subscribers)

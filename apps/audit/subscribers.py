"""Who wants to hear about events after they are committed (the flow engine, notifications).

Audit imports none of them: they register a dotted path here from their own AppConfig.ready,
optionally with `wants`, a function saying whether they care about an event type at all. An
event no subscriber wants costs no queue task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

_subscribers: list[str] = []
_wants: dict[str, Callable[[str], bool]] = {}


def register_subscriber(dotted_path: str, *, wants: Callable[[str], bool] | None = None) -> None:
    """Call the function at `dotted_path` with each committed event, through the task queue
    (only events whose type `wants` accepts, when given)."""
    if dotted_path not in _subscribers:
        _subscribers.append(dotted_path)
    if wants is not None:
        _wants[dotted_path] = wants
    else:
        _wants.pop(dotted_path, None)


def unregister_subscriber(dotted_path: str) -> None:
    """Stop delivering events to `dotted_path` (tests use it to clean up)."""
    if dotted_path in _subscribers:
        _subscribers.remove(dotted_path)
    _wants.pop(dotted_path, None)


def subscriber_paths() -> tuple[str, ...]:
    """The registered subscribers, in registration order."""
    return tuple(_subscribers)


def subscribers_for(event_type: str) -> tuple[str, ...]:
    """The subscribers that want events of this type (a `wants` that fails counts as yes:
    the subscriber decides again when it gets the event)."""
    wanted = []
    for path in _subscribers:
        wants = _wants.get(path)
        try:
            if wants is None or wants(event_type):
                wanted.append(path)
        except Exception:
            logger.exception("Subscriber %s could not say whether it wants %s", path, event_type)
            wanted.append(path)
    return tuple(wanted)

"""What starts a flow, as its definition declares it: the `trigger` object of a version.

    {"type": "event", ...} | {"type": "schedule", ...} | {"type": "api", "slug": "hello", ...}

The trigger is versioned, exported and imported with the definition; `Flow.kind` stays and must
match its type. Each type's own checks live with the code that serves it (the API endpoint's in
`apps.flows.hooks`).
"""

from __future__ import annotations

from typing import Any

from apps.flows.models import FlowKind

KIND_OF_TRIGGER = {
    "event": FlowKind.EVENT,
    "schedule": FlowKind.SCHEDULED,
    "api": FlowKind.API,
    "helper": FlowKind.HELPER,
    "delegated": FlowKind.DELEGATED,
}


def validate_trigger(kind: str, trigger: Any) -> list[str]:
    """Every problem of a definition's trigger for a flow of `kind` (none: an empty list)."""
    if trigger is None:
        return []
    if not isinstance(trigger, dict):
        return ["'trigger' must be an object with a 'type'."]
    trigger_type = trigger.get("type")
    if trigger_type not in KIND_OF_TRIGGER:
        return [f"Trigger: unknown type {trigger_type!r} (one of {', '.join(KIND_OF_TRIGGER)})."]
    if KIND_OF_TRIGGER[trigger_type] != kind:
        wanted = KIND_OF_TRIGGER[trigger_type]
        return [
            f"Trigger: a '{trigger_type}' trigger needs a flow of kind '{wanted}', not '{kind}'."
        ]
    if trigger_type == "api":
        from apps.flows.hooks import validate_api_trigger

        return validate_api_trigger(trigger)
    return []

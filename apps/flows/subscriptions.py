"""Which event flows listen to which system log events, kept in memory in every process.

The list is read from the enabled event flows' current definitions and kept until the token
in `SubscriptionsVersion` changes: the services change it whenever a flow is saved, enabled,
disabled or deleted. The process that saved the flow drops its copy at once; every other
process (web workers, queue workers) reads the token again at most every
FLOWS_SUBSCRIPTIONS_RECHECK_SECONDS (default 1 s), so checking an event usually costs no query
at all, and never a queue task when no flow listens.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from apps.flows import triggers
from apps.flows.models import Flow, FlowKind, SubscriptionsVersion

logger = logging.getLogger(__name__)

VERSION_ROW = 1


@dataclass(frozen=True)
class Subscription:
    """One enabled event flow: the event types it listens to and its filters."""

    flow_id: int
    events: tuple[str, ...]
    filters: tuple[dict[str, Any], ...]

    def wants_type(self, event_type: str) -> bool:
        return triggers.event_type_matches(self.events, event_type)


_lock = threading.Lock()
_loaded: dict[str, Any] = {"version": None, "subscriptions": (), "checked_at": 0.0}


def current_version() -> str:
    """The subscriptions' version token as the database holds it now."""
    token = (
        SubscriptionsVersion.objects.filter(pk=VERSION_ROW).values_list("token", flat=True).first()
    )
    return token or ""


def changed() -> None:
    """Say that a flow's subscription may have changed (in the caller's transaction)."""
    token = uuid.uuid4().hex
    if not SubscriptionsVersion.objects.filter(pk=VERSION_ROW).update(token=token):
        SubscriptionsVersion.objects.get_or_create(pk=VERSION_ROW, defaults={"token": token})
    forget()


def forget() -> None:
    """Drop this process's copy: the next event reads the list again."""
    with _lock:
        _loaded["version"] = None


def _load() -> tuple[Subscription, ...]:
    flows = Flow.objects.filter(
        kind=FlowKind.EVENT, enabled=True, current_version__isnull=False
    ).select_related("current_version")
    loaded = []
    for flow in flows:
        trigger = triggers.trigger_of(flow.current_version.definition)
        if not trigger or trigger.get("type") != "event":
            continue
        loaded.append(
            Subscription(
                flow_id=flow.pk,
                events=tuple(trigger.get("events") or ()),
                filters=tuple(trigger.get("filters") or ()),
            )
        )
    return tuple(loaded)


def subscriptions() -> tuple[Subscription, ...]:
    """The enabled event flows' subscriptions: the token is read again once the recheck
    interval has passed, and the flows only when it changed."""
    now = time.monotonic()
    recheck = settings.FLOWS_SUBSCRIPTIONS_RECHECK_SECONDS
    with _lock:
        if _loaded["version"] is not None and now - _loaded["checked_at"] < recheck:
            return _loaded["subscriptions"]
    version = current_version()
    with _lock:
        if _loaded["version"] == version:
            _loaded["checked_at"] = now
            return _loaded["subscriptions"]
    loaded = _load()  # read after the version: a change meanwhile changes it again
    with _lock:
        _loaded.update(version=version, subscriptions=loaded, checked_at=now)
    return loaded


def wants(event_type: str) -> bool:
    """Whether any enabled event flow listens to this event type (the system log asks before
    queueing the delivery of an event)."""
    try:
        return any(subscription.wants_type(event_type) for subscription in subscriptions())
    except DatabaseError:  # e.g. during migrations, before the table exists: let it through
        logger.warning("Event subscriptions could not be read; delivering %s anyway", event_type)
        return True


def subscribed_to(event_type: str) -> list[Subscription]:
    """The subscriptions whose event types include this one (filters not yet applied)."""
    return [subscription for subscription in subscriptions() if subscription.wants_type(event_type)]

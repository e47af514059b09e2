"""Writing to the system log."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django_q.tasks import async_task

from apps.audit import catalogue
from apps.audit.context import client_ip_var, current_correlation_id
from apps.audit.models import Outcome, SystemLogEvent, target_type_of
from apps.audit.subscribers import subscriber_paths, subscribers_for

Target = models.Model | tuple[str, str, str] | None


def emit(
    event_type: str | catalogue.EventType,
    *,
    actor: models.Model | None = None,
    target: Target = None,
    data: dict[str, Any] | None = None,
    outcome: str = Outcome.SUCCESS,
    message: str = "",
) -> SystemLogEvent:
    """Write one event in the caller's transaction; subscribers hear of it after commit.

    `target` is a model instance or a `(type, id, display)` triple for things that are not rows.
    """
    registered = catalogue.get(str(event_type))
    if isinstance(target, models.Model):
        target_type, target_id, target_display = target_type_of(target), str(target.pk), str(target)
    elif target is not None:
        target_type, target_id, target_display = target
    else:
        target_type = target_id = target_display = ""

    event = SystemLogEvent.objects.create(
        event_type=registered.name,
        actor=actor if actor is not None and actor.pk else None,
        actor_display=_display_actor(actor),
        target_type=target_type,
        target_id=str(target_id),
        target_display=str(target_display)[:255],
        outcome=outcome,
        message=message[:500],
        data=data or {},
        correlation_id=current_correlation_id(),
        client_ip=client_ip_var.get(),
    )
    if subscriber_paths():
        transaction.on_commit(lambda: _deliver_if_wanted(event.pk, registered.name))
    return event


def _deliver_if_wanted(event_id: int, event_type: str) -> None:
    """After commit: queue the delivery only when some subscriber wants this type."""
    if subscribers_for(event_type):
        async_task("apps.audit.tasks.deliver_event", event_id, task_name=f"event {event_type}")


def _display_actor(actor: models.Model | None) -> str:
    if actor is None:
        return "system"
    email = getattr(actor, "email", "")
    return (email or str(actor))[:255]

"""Queue work for the system log: fan an event out to its subscribers."""

from __future__ import annotations

import logging

from django.utils.module_loading import import_string

from apps.audit.context import correlation
from apps.audit.models import SystemLogEvent
from apps.audit.subscribers import subscribers_for

logger = logging.getLogger(__name__)


def deliver_event(event_id: int) -> int:
    """Hand one committed event to every subscriber that wants its type; one failing does not
    stop the others."""
    event = SystemLogEvent.objects.select_related("actor").get(pk=event_id)
    delivered = 0
    with correlation(event.correlation_id):
        for path in subscribers_for(event.event_type):
            try:
                import_string(path)(event)
            except Exception:
                logger.exception("Subscriber %s failed on event %s", path, event.uuid)
            else:
                delivered += 1
    return delivered

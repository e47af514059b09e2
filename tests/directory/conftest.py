"""Fixtures of the directory tests: watch the system log events a test writes."""

from __future__ import annotations

import pytest
from django.db.models import Max

from apps.audit.models import SystemLogEvent
from tests.factories import UserFactory

PASSWORD = "pass-word-123"  # what UserFactory sets


class SystemLogWatch:
    """The system log events written since the last `mark()` (or since the fixture started)."""

    def __init__(self) -> None:
        self.mark()

    def mark(self) -> None:
        """Forget the events written so far (sign-ins and set-up, say)."""
        self._after = SystemLogEvent.objects.aggregate(last=Max("id"))["last"] or 0

    def new(self, event_type: str | None = None) -> list[SystemLogEvent]:
        """The events written since the mark, oldest first, optionally of one type."""
        events = SystemLogEvent.objects.filter(id__gt=self._after).order_by("id")
        if event_type is not None:
            events = events.filter(event_type=event_type)
        return list(events.select_related("actor"))

    def one(self) -> SystemLogEvent:
        """The single event written since the mark; fails when there are none or several."""
        events = self.new()
        assert len(events) == 1, f"expected one event, got {[e.event_type for e in events]}"
        return events[0]


@pytest.fixture
def system_log(db) -> SystemLogWatch:
    return SystemLogWatch()


@pytest.fixture
def actor(admin_user):
    """The administrator who makes the changes under test."""
    return admin_user


@pytest.fixture
def staff_user(db):
    return UserFactory(username="helpdesk", is_staff=True)

"""Time-bound grants: the sweep removes what has ended, logs why, and leaves the rest."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.directory import tasks
from apps.directory.models import AppAssignment, GroupMembership
from apps.directory.services import revoke_expired_grants
from tests.factories import ApplicationFactory, GroupFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def grants(db):
    """One expired, one ending tomorrow and one open-ended membership and assignment."""
    now = timezone.now()
    group, application = GroupFactory(name="Finance"), ApplicationFactory(name="CRM")
    expired, tomorrow, forever = UserFactory(), UserFactory(), UserFactory()
    ends = {expired: now - dt.timedelta(minutes=1), tomorrow: now + dt.timedelta(days=1)}
    for person in (expired, tomorrow, forever):
        # Built directly: the services refuse an end date that has already passed.
        GroupMembership.objects.create(group=group, user=person, expires_at=ends.get(person))
        AppAssignment.objects.create(
            application=application, user=person, expires_at=ends.get(person)
        )
    return {"expired": expired, "tomorrow": tomorrow, "forever": forever}


def holders(model) -> set:
    return set(model.objects.values_list("user__username", flat=True))


def test_sweep_removes_expired_grants_and_logs_reason_expired(grants, system_log):
    removed = revoke_expired_grants()

    assert removed == 2
    kept = {grants["tomorrow"].username, grants["forever"].username}
    assert holders(GroupMembership) == kept
    assert holders(AppAssignment) == kept
    events = system_log.new()
    assert [event.event_type for event in events] == [
        "directory.user.removed_from_group",
        "directory.user.unassigned_from_application",
    ]
    for event in events:
        assert event.target_id == str(grants["expired"].pk)
        assert event.actor is None
        assert event.data["reason"] == "expired"
        assert event.data["old"]["expires_at"] is not None
        assert event.data["new"] is None


def test_sweep_at_a_later_time_removes_what_has_ended_by_then(grants):
    removed = revoke_expired_grants(now=timezone.now() + dt.timedelta(days=2))

    assert removed == 4
    assert holders(GroupMembership) == {grants["forever"].username}
    assert holders(AppAssignment) == {grants["forever"].username}


def test_sweeping_twice_is_safe(grants, system_log):
    revoke_expired_grants()
    system_log.mark()

    assert revoke_expired_grants() == 0
    assert system_log.new() == []


def test_scheduled_task_sweeps_expired_grants(grants, system_log):
    assert tasks.sweep_expired_grants() == 2

    assert grants["expired"].username not in holders(GroupMembership)
    assert len(system_log.new()) == 2

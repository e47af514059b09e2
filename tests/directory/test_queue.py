"""Directory work done by a real queue worker, as in production."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.tasks import async_task

from apps.audit.models import SystemLogEvent
from apps.directory.models import GroupMembership
from tests.factories import GroupFactory, UserFactory
from tests.queue import wait_for

pytestmark = pytest.mark.queue


def test_a_real_worker_removes_expired_memberships(queue_cluster):
    group = GroupFactory()
    expired = GroupMembership.objects.create(
        group=group, user=UserFactory(), expires_at=timezone.now() - timedelta(minutes=1)
    )
    current = GroupMembership.objects.create(
        group=group, user=UserFactory(), expires_at=timezone.now() + timedelta(days=1)
    )

    async_task("apps.directory.tasks.sweep_expired_grants")

    wait_for(
        lambda: not GroupMembership.objects.filter(pk=expired.pk).exists(),
        what="the worker to remove the expired membership",
    )
    assert GroupMembership.objects.filter(pk=current.pk).exists()
    event = SystemLogEvent.objects.get(event_type="directory.user.removed_from_group")
    assert event.data["reason"] == "expired"
    assert event.target_id == str(expired.user_id)

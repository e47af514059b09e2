"""Idempotency keys are forgotten after they expire, by a recurring job."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_q.models import Schedule

from apps.core import tasks
from apps.core.models import IdempotencyKey
from apps.core.schedules import ensure_schedules
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _key(caller, key: str, expires_at: dt.datetime) -> IdempotencyKey:
    return IdempotencyKey.objects.create(
        caller=caller,
        key=key,
        fingerprint="f" * 64,
        response_status=201,
        response_body="{}",
        expires_at=expires_at,
    )


def test_purge_removes_only_expired_keys():
    caller = UserFactory()
    now = timezone.now()
    _key(caller, "old", now - dt.timedelta(minutes=1))
    kept = _key(caller, "fresh", now + dt.timedelta(hours=1))

    assert tasks.purge_expired_idempotency_keys() == 1
    assert list(IdempotencyKey.objects.all()) == [kept]


def test_the_purge_is_a_recurring_schedule():
    ensure_schedules()
    assert Schedule.objects.filter(func="apps.core.tasks.purge_expired_idempotency_keys").exists()

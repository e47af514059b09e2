"""The user lifecycle: which moves the services allow, what they log, and what they refuse."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.core.statemachine import IllegalTransition
from apps.directory import services
from apps.directory.models import USER_LIFECYCLE, GroupMembership, UserStatus
from tests.factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db

# Written out by hand so that a change to the table has to change this test too.
ALLOWED_MOVES = [
    ("activate", "staged", "active"),
    ("suspend", "active", "suspended"),
    ("unsuspend", "suspended", "active"),
    ("deactivate", "staged", "deprovisioned"),
    ("deactivate", "active", "deprovisioned"),
    ("deactivate", "suspended", "deprovisioned"),
    ("reactivate", "deprovisioned", "staged"),
]
SERVICES = {
    "activate": services.user_activate,
    "suspend": services.user_suspend,
    "unsuspend": services.user_unsuspend,
    "deactivate": services.user_deactivate,
    "reactivate": services.user_reactivate,
}
EVENT_TYPES = {
    "activate": "directory.user.activated",
    "suspend": "directory.user.suspended",
    "unsuspend": "directory.user.unsuspended",
    "deactivate": "directory.user.deactivated",
    "reactivate": "directory.user.reactivated",
}
_ALLOWED_PAIRS = {(verb, source) for verb, source, _ in ALLOWED_MOVES}
REFUSED_MOVES = [
    (verb, status)
    for verb in SERVICES
    for status in UserStatus.values
    if (verb, status) not in _ALLOWED_PAIRS
]
EARLIER = timezone.now() - dt.timedelta(days=30)


def test_lifecycle_table_holds_exactly_the_documented_moves():
    table = {
        (verb, source, target)
        for verb, (sources, target) in USER_LIFECYCLE.moves.items()
        for source in sources
    }
    assert table == set(ALLOWED_MOVES)
    assert set(services.LIFECYCLE_SERVICES) == set(SERVICES)
    assert len(REFUSED_MOVES) == 5 * 4 - 7


@pytest.mark.parametrize(("verb", "from_status", "to_status"), ALLOWED_MOVES)
def test_allowed_move_changes_status_and_logs_one_event(
    verb, from_status, to_status, actor, system_log
):
    user = UserFactory(status=from_status, status_changed_at=EARLIER)
    system_log.mark()

    returned = SERVICES[verb](user=user, actor=actor)

    user.refresh_from_db()
    assert user.status == to_status
    assert returned.status == to_status
    assert user.status_changed_at > EARLIER
    event = system_log.one()
    assert event.event_type == EVENT_TYPES[verb]
    assert (event.target_type, event.target_id) == ("directory.user", str(user.pk))
    assert event.actor == actor
    assert event.data == {"old": {"status": from_status}, "new": {"status": to_status}}


@pytest.mark.parametrize(("verb", "from_status"), REFUSED_MOVES)
def test_refused_move_raises_illegal_transition_and_writes_nothing(
    verb, from_status, actor, system_log
):
    user = UserFactory(status=from_status, status_changed_at=EARLIER)
    system_log.mark()

    with pytest.raises(IllegalTransition) as refused:
        SERVICES[verb](user=user, actor=actor)

    assert (refused.value.verb, refused.value.current) == (verb, from_status)
    user.refresh_from_db()
    assert user.status == from_status
    assert user.status_changed_at == EARLIER
    assert system_log.new() == []


def test_suspension_keeps_group_memberships(actor):
    user = UserFactory()
    group = GroupFactory()
    GroupMembership.objects.create(group=group, user=user)

    services.user_suspend(user=user, actor=actor)

    assert GroupMembership.objects.filter(group=group, user=user).exists()


def test_reactivated_user_must_be_activated_again_before_signing_in(actor):
    user = UserFactory(status=UserStatus.DEPROVISIONED)

    user = services.user_reactivate(user=user, actor=actor)
    assert user.status == UserStatus.STAGED
    assert not user.is_active

    user = services.user_activate(user=user, actor=actor)
    assert user.is_active

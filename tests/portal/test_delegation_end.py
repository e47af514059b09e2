"""Ending a delegation from the portal."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from apps.access_requests import services
from apps.audit.models import SystemLogEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_an_approver_ends_their_delegation_and_nobody_else_can(client):
    boss, deputy, stranger = UserFactory(), UserFactory(), UserFactory()
    delegation = services.delegation_create(
        approver=boss,
        delegate=deputy,
        starts_at=timezone.now() - dt.timedelta(hours=1),
        ends_at=timezone.now() + dt.timedelta(days=3),
        actor=boss,
    )
    url = reverse("portal:delegation-end", args=[delegation.pk])

    client.force_login(stranger)
    assert client.post(url).status_code == 404
    client.force_login(boss)
    assert client.get(url).status_code == 405
    assert "End now" in client.get(reverse("portal:delegations")).content.decode()
    response = client.post(url)

    assert response.status_code == 302
    delegation.refresh_from_db()
    assert delegation.ends_at <= timezone.now()


def _delegate(approver, delegate, *, starts_in_days, ends_in_days):
    now = timezone.now()
    return services.delegation_create(
        approver=approver,
        delegate=delegate,
        starts_at=now + dt.timedelta(days=starts_in_days),
        ends_at=now + dt.timedelta(days=ends_in_days),
        actor=approver,
    )


def test_ending_an_upcoming_delegation_shows_it_ended(client):
    boss, deputy = UserFactory(), UserFactory()
    upcoming = _delegate(boss, deputy, starts_in_days=2, ends_in_days=5)
    client.force_login(boss)
    page = client.get(reverse("portal:delegations")).content.decode()
    assert "Upcoming" in page and "End now" in page

    assert client.post(reverse("portal:delegation-end", args=[upcoming.pk])).status_code == 302

    upcoming.refresh_from_db()
    assert upcoming.ends_at <= timezone.now()
    page = client.get(reverse("portal:delegations")).content.decode()
    assert "Ended" in page
    assert "Upcoming" not in page and "End now" not in page
    # The system log keeps the period it had planned.
    ended = SystemLogEvent.objects.get(event_type="access_request.delegation.ended")
    assert ended.data["old"]["starts_at"] > timezone.now().isoformat()
    # It never hands an approval to the deputy, not even when its planned start comes.
    later = timezone.now() + dt.timedelta(days=3)
    assert not services.ApproverDelegation.objects.filter(
        approver=boss, starts_at__lte=later, ends_at__gt=later
    ).exists()


@pytest.mark.parametrize(
    ("starts_in_days", "ends_in_days"),
    [(1, 4), (-1, 3), (3, 10), (0.5, 2), (-2, 20)],
    ids=["inside", "across-start", "across-end", "same-span", "around"],
)
def test_a_delegation_overlapping_another_is_refused(starts_in_days, ends_in_days):
    boss, deputy, other = UserFactory(), UserFactory(), UserFactory()
    _delegate(boss, deputy, starts_in_days=0, ends_in_days=5)

    with pytest.raises(ValidationError) as refused:
        _delegate(boss, other, starts_in_days=starts_in_days, ends_in_days=ends_in_days)

    assert "already delegated" in " ".join(refused.value.messages)
    assert services.ApproverDelegation.objects.filter(approver=boss).count() == 1


def test_delegations_that_do_not_overlap_are_accepted():
    boss, deputy, other = UserFactory(), UserFactory(), UserFactory()
    first = _delegate(boss, deputy, starts_in_days=1, ends_in_days=5)
    _delegate(boss, other, starts_in_days=5, ends_in_days=8)  # starts when the first ends
    _delegate(boss, other, starts_in_days=-1, ends_in_days=0.5)  # ends before the first starts
    # Someone else's delegation never stands in the way.
    _delegate(deputy, other, starts_in_days=0, ends_in_days=9)
    # An ended delegation frees its period.
    services.delegation_end(delegation=first, actor=boss)
    _delegate(boss, deputy, starts_in_days=2, ends_in_days=4)


def test_the_portal_form_refuses_an_overlap(client):
    boss, deputy = UserFactory(), UserFactory()
    UserFactory(username="other")
    _delegate(boss, deputy, starts_in_days=0, ends_in_days=5)
    client.force_login(boss)

    def moment(days):
        return (timezone.localtime() + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")

    response = client.post(
        reverse("portal:delegations"),
        {"delegate": "other", "starts_at": moment(1), "ends_at": moment(2)},
    )

    assert response.status_code == 200
    errors = " ".join(response.context["form"].non_field_errors())
    assert "already delegated" in errors
    assert "already delegated" in response.content.decode()
    assert services.ApproverDelegation.objects.filter(approver=boss).count() == 1

"""The demo organisation: what a newcomer sees after `make run`."""

import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory

from apps.audit.models import SystemLogEvent
from apps.catalog.models import ConfigList
from apps.directory.models import Group, User
from apps.teams.models import Team

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_the_documented_organisation():
    call_command("seed_demo", stdout=io.StringIO())

    alice = User.objects.get(username="alice")
    assert alice.manager.username == "bob"
    assert User.objects.count() >= 50
    assert User.objects.filter(manager__isnull=False).count() >= 45
    badge = Team.objects.get(name="Badge Access")
    assert set(badge.members.values_list("username", flat=True)) == {"carol", "dave"}
    buildings = ConfigList.objects.get(key="buildings")
    assert list(buildings.items.values_list("label", flat=True)) == [
        "HQ Paris",
        "Lyon Office",
        "Data Center",
    ]
    assert list(buildings.teams.all()) == [badge]
    assert Group.objects.filter(name="Engineering").exists()
    sign_in = RequestFactory().post("/login/")  # sign-in is throttled per client: it needs one
    assert authenticate(sign_in, username="admin", password="gatehouse-admin").is_superuser
    assert (
        authenticate(sign_in, username="alice@gatehouse.example", password="gatehouse-demo")
        == alice
    )


def test_seed_demo_twice_changes_nothing():
    call_command("seed_demo", stdout=io.StringIO())
    counts = (User.objects.count(), Group.objects.count(), SystemLogEvent.objects.count())

    call_command("seed_demo", stdout=io.StringIO())

    assert (User.objects.count(), Group.objects.count(), SystemLogEvent.objects.count()) == counts


def test_seed_demo_offers_the_badge_journey_with_a_pending_request_for_bob():
    from apps.access_requests.models import AccessRequest, RequestStatus, RequestType

    call_command("seed_demo", stdout=io.StringIO())

    badge = RequestType.objects.get(name="Badge access to a building")
    kinds = list(badge.steps.values_list("kind", flat=True))
    assert kinds.count("question") == 4 and "approval" in kinds and kinds[-1] == "task"
    request = AccessRequest.objects.get(request_type=badge, requester__username="alice")
    assert request.status == RequestStatus.PENDING
    assert request.assignee.username in {"carol", "dave"}
    assert [a.approver.username for a in request.approvals.all()] == ["bob"]
    assert RequestType.objects.filter(resource_group__name="VPN Users").exists()

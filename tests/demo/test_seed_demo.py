"""The demo organisation: what a newcomer sees after `make run`."""

import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

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
    assert authenticate(username="admin", password="gatehouse-admin").is_superuser
    assert authenticate(username="alice@gatehouse.example", password="gatehouse-demo") == alice


def test_seed_demo_twice_changes_nothing():
    call_command("seed_demo", stdout=io.StringIO())
    counts = (User.objects.count(), Group.objects.count(), SystemLogEvent.objects.count())

    call_command("seed_demo", stdout=io.StringIO())

    assert (User.objects.count(), Group.objects.count(), SystemLogEvent.objects.count()) == counts

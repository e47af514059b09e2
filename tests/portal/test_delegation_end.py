"""Ending a delegation from the portal."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.access_requests import services
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

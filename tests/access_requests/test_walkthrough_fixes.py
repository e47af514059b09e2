"""Bugs found walking the portal as an admin and an employee: each refused cleanly, not a 500."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.access_requests.models import RequestType
from tests.access_requests.test_admin import add_page, post_add
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def team(db):
    return TeamFactory(name="Badge Access")


# --- Inactivity days are bounded ------------------------------------------------------------


@pytest.mark.parametrize("days", ["99999999999999", "0", "3651"])
def test_admin_refuses_inactivity_days_out_of_range(admin_client, team, days):
    data, _prefix = add_page(admin_client, team, inactivity_days=days)
    response = post_add(admin_client, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "inactivity_days" in errors, errors
    assert not RequestType.objects.exists()


def test_admin_accepts_the_bounds(admin_client, team):
    data, _prefix = add_page(admin_client, team, inactivity_days="3650")
    assert post_add(admin_client, data).status_code == 302
    assert RequestType.objects.get().inactivity_days == 3650


@pytest.mark.parametrize("days", [0, 3651, 99999999999999])
def test_the_model_refuses_inactivity_days_out_of_range(team, days):
    request_type = RequestType(name="Badge", owning_team=team, inactivity_days=days)
    with pytest.raises(ValidationError) as refused:
        request_type.full_clean()
    assert "inactivity_days" in refused.value.message_dict


# --- Request type names are unique, whatever the case ---------------------------------------


def test_admin_refuses_a_name_already_taken_in_another_case(admin_client, team):
    RequestType.objects.create(name="Badge access", owning_team=team)
    data, _prefix = add_page(admin_client, team)
    data["name"] = "BADGE Access"

    response = post_add(admin_client, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["name"] == ["A request type with that name already exists."]
    assert RequestType.objects.count() == 1


def test_the_database_refuses_a_duplicate_name(team):
    from django.db import IntegrityError, transaction

    RequestType.objects.create(name="Badge access", owning_team=team)
    with pytest.raises(IntegrityError), transaction.atomic():
        RequestType.objects.create(name="badge ACCESS", owning_team=team)

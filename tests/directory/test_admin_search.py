"""Searching people in the admin uses the indexes: the start of a username, e-mail or name."""

import pytest
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def found(admin_client, term):
    response = admin_client.get(reverse("admin:directory_user_changelist"), {"q": term})
    assert response.status_code == 200
    return {user.username for user in response.context["cl"].result_list}


def test_search_matches_the_start_of_username_email_or_last_name_whatever_the_case(
    admin_client,
):
    UserFactory(username="alice", email="a.durand@example.com", last_name="Durand")
    UserFactory(username="malice", email="m@example.com", last_name="Smith", employee_number="E42")

    assert found(admin_client, "ALI") == {"alice"}
    assert found(admin_client, "a.dur") == {"alice"}
    assert found(admin_client, "durand") == {"alice"}
    assert found(admin_client, "E42") == {"malice"}
    assert found(admin_client, "zzz") == set()

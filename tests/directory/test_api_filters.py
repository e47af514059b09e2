"""Query parameters of the people list: refused with a 400 naming them, never a 500."""

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("manager", "abc"),
        ("manager", "99999999999999999999999"),
        ("manager", ""),
        ("status", "bogus"),
        ("status", ""),
        ("email", ""),
        ("username", ""),
    ],
)
def test_a_bad_or_empty_filter_is_a_400_naming_it(api, parameter, value):
    response = api.get("/api/v1/users/", {parameter: value})
    assert response.status_code == 400, response.content
    assert parameter in response.json()


def test_the_filters_select_people(api, admin_user):
    boss = UserFactory(username="boss")
    report = UserFactory(username="report", manager=boss, email="Report@Example.com")
    UserFactory(username="other", status="suspended")

    def names(**params):
        return [row["username"] for row in api.get("/api/v1/users/", params).json()["results"]]

    assert names(manager=boss.pk) == ["report"]
    assert names(status="suspended") == ["other"]
    assert names(email="report@example.com") == ["report"]
    assert names(username="REPORT") == ["report"]
    assert report.pk

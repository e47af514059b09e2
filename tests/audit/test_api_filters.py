"""Query parameters of the system log: refused with a 400 naming them, never a 500."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("since", ""),
        ("until", "2026-13-45T00:00:00Z"),
        ("event_type", ""),
        ("actor", ""),
        ("target_type", ""),
        ("target_id", ""),
        ("outcome", "sideways"),
        ("correlation_id", ""),
    ],
)
def test_a_bad_or_empty_filter_is_a_400_naming_it(admin_user, parameter, value):
    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.get("/api/v1/system-log/", {parameter: value})
    assert response.status_code == 400, response.content
    assert parameter in response.json()


def test_a_malformed_cursor_is_a_404_as_documented(admin_user):
    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.get("/api/v1/system-log/", {"cursor": "not-a-cursor"})
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}

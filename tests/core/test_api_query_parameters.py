"""Query parameters the API refuses rather than guesses at: empty or malformed page numbers and
cursors, and a filter given twice."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(admin_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


@pytest.mark.parametrize("page", ["", "0", "-1", "1.5", "1\u00a0", " 1", "abc", "99"])
def test_a_page_that_is_not_a_page_number_is_a_404(api, page):
    response = api.get(f"/api/v1/users/?page={page}")
    assert response.status_code == 404, page
    assert set(response.json()) == {"detail"}


def test_a_page_given_twice_is_a_404(api):
    assert api.get("/api/v1/users/?page=1&page=1").status_code == 404


def test_a_real_page_is_served(api):
    response = api.get("/api/v1/users/?page=1")
    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.parametrize("cursor", ["", "%%%"])
def test_an_empty_or_malformed_cursor_is_a_404(api, cursor):
    response = api.get(f"/api/v1/system-log/?cursor={cursor}")
    assert response.status_code == 404, cursor


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/users/?status=active&status=suspended",
        "/api/v1/system-log/?outcome=success&outcome=failure",
        "/api/v1/requests/?status=pending&status=approved",
        "/api/v1/approvals/?status=all&status=pending",
        "/api/v1/tasks/?status=all&status=open",
    ],
)
def test_a_filter_given_twice_is_a_400_naming_it(api, query):
    response = api.get(query)
    assert response.status_code == 400, query
    assert "status" in response.json() or "outcome" in response.json()


def test_an_unknown_path_refuses_writes_with_a_json_404_too():
    client = APIClient(enforce_csrf_checks=True)
    response = client.post("/api/v1/users/0.5/lifecycle/AAA/", {})
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"

"""No API answers bad input with a 500: each malformed call gets a 4xx with a reason."""

import io

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

CASES = [
    ("post", "/api/v1/requests/", {"request_type": "abc", "answers": []}),
    ("post", "/api/v1/requests/", {"request_type": 1, "answers": "x"}),
    ("post", "/api/v1/requests/", ["not", "an", "object"]),
    ("post", "/api/v1/requests/", {"request_type": 99999, "answers": {}}),
    (
        "post",
        "/api/v1/requests/",
        {"request_type": 1, "answers": {"end_date": {"x": 1}, "building": [1]}},
    ),
    ("post", "/api/v1/approvals/abc/approve/", {}),
    ("post", "/api/v1/approvals/1/approve/", {"comment": ["x"]}),
    ("post", "/api/v1/tasks/1/complete/", {"note": {"a": 1}}),
    ("post", "/api/v1/flows/1/run/", {"inputs": []}),
    ("post", "/api/v1/flows/1/run/", {"inputs": {"requesterEmail": {"x": 1}}}),
    ("post", "/api/v1/flows/1/run/", "garbage"),
    ("patch", "/api/v1/users/1/", []),
    ("patch", "/api/v1/users/1/", {"manager": "abc"}),
    ("patch", "/api/v1/users/1/", {"email": "not-an-email"}),
    ("post", "/api/v1/groups/1/holders/", {"user": "x", "expires_at": "nope"}),
    ("get", "/api/v1/system-log/?since=2020-13-45T99:00", None),
    ("get", "/api/v1/requests/?status=bogus", None),
    ("get", "/api/v1/approvals/?status=bogus", None),
]


@pytest.mark.parametrize("method,url,body", CASES)
def test_bad_input_never_500(method, url, body):
    call_command("seed_demo", stdout=io.StringIO())
    from apps.directory.models import User

    client = APIClient()
    client.force_authenticate(User.objects.get(username="admin"))
    response = (
        getattr(client, method)(url, body, format="json") if body is not None else client.get(url)
    )
    assert response.status_code < 500, (response.status_code, response.content[:300])
    assert response.status_code in (400, 403, 404, 405, 409), (
        response.status_code,
        response.content[:300],
    )

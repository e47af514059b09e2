"""The request form submits once: a one-time token, consumed with the request it filed."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from apps.access_requests.models import AccessRequest
from tests.portal.conftest import make_type, manager_approval, question

pytestmark = pytest.mark.django_db

TOKEN_FIELD = "once-token"


def _token(page: str) -> str:
    match = re.search(rf'name="{TOKEN_FIELD}" value="([^"]+)"', page)
    assert match, "the form carries no one-time token"
    return match.group(1)


@pytest.fixture
def badge(org):
    return make_type(org.team, question("reason"), manager_approval())


def test_the_form_carries_a_fresh_token_each_time(client, org, badge):
    client.force_login(org.alice)
    url = reverse("portal:request-new", args=[badge.pk])
    assert _token(client.get(url).content.decode()) != _token(client.get(url).content.decode())


def test_posting_the_same_form_twice_files_one_request_and_shows_it(client, org, badge):
    client.force_login(org.alice)
    url = reverse("portal:request-new", args=[badge.pk])
    token = _token(client.get(url).content.decode())

    first = client.post(url, {"reason": "New office", TOKEN_FIELD: token})
    second = client.post(url, {"reason": "New office", TOKEN_FIELD: token})

    created = AccessRequest.objects.get()
    detail = reverse("portal:request-detail", args=[created.pk])
    assert first.status_code == second.status_code == 302
    assert first.url == second.url == detail
    page = client.get(detail)
    assert page.status_code == 200
    shown = " ".join(str(m) for m in page.context["messages"])
    assert f"#{created.pk}" in shown and "already submitted" in shown


def test_a_refused_submission_keeps_the_token_for_the_corrected_one(client, org, badge):
    client.force_login(org.alice)
    url = reverse("portal:request-new", args=[badge.pk])
    token = _token(client.get(url).content.decode())

    refused = client.post(url, {"reason": "", TOKEN_FIELD: token})
    assert refused.status_code == 200
    assert _token(refused.content.decode()) == token
    corrected = client.post(url, {"reason": "New office", TOKEN_FIELD: token})
    assert corrected.status_code == 302
    assert AccessRequest.objects.count() == 1


def test_a_new_form_files_a_new_request(client, org, badge):
    client.force_login(org.alice)
    url = reverse("portal:request-new", args=[badge.pk])
    for _ in range(2):
        token = _token(client.get(url).content.decode())
        client.post(url, {"reason": "New office", TOKEN_FIELD: token})
    assert AccessRequest.objects.count() == 2


def test_a_comment_posted_twice_is_added_once(client, org, pending_request):
    from apps.access_requests.models import TimelineKind

    client.force_login(org.alice)
    detail = reverse("portal:request-detail", args=[pending_request.pk])
    token = _token(client.get(detail).content.decode())
    url = reverse("portal:request-comment", args=[pending_request.pk])

    first = client.post(url, {"text": "Which door?", TOKEN_FIELD: token})
    second = client.post(url, {"text": "Which door?", TOKEN_FIELD: token})

    assert first.status_code == second.status_code == 302
    assert pending_request.timeline.filter(kind=TimelineKind.COMMENT).count() == 1
    shown = " ".join(str(m) for m in client.get(detail).context["messages"])
    assert "already added" in shown

"""Double submits over the API: an `Idempotency-Key` makes a creating POST happen once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.access_requests.models import AccessRequest, TimelineEntry, TimelineKind
from apps.core.models import IdempotencyKey
from tests.factories import (
    ApprovalStepFactory,
    QuestionStepFactory,
    RequestTypeFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def badge():
    request_type = RequestTypeFactory(name="Badge")
    QuestionStepFactory(request_type=request_type, key="reason", required=True)
    ApprovalStepFactory(request_type=request_type)
    return request_type


@pytest.fixture
def alice():
    return UserFactory(username="alice", manager=UserFactory(username="boss"))


def _submit(client, badge, key=None, reason="New office"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(
        "/api/v1/requests/",
        {"request_type": badge.pk, "answers": {"reason": reason}},
        format="json",
        **headers,
    )


def test_the_same_key_twice_creates_one_request_and_answers_the_same(alice, badge):
    client = client_for(alice)
    first = _submit(client, badge, key="submit-1")
    second = _submit(client, badge, key="submit-1")

    assert first.status_code == 201, first.content
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second["Location"] == first["Location"]
    assert second["Idempotent-Replayed"] == "true"
    assert AccessRequest.objects.count() == 1


def test_without_a_key_each_post_creates(alice, badge):
    client = client_for(alice)
    _submit(client, badge)
    _submit(client, badge)
    assert AccessRequest.objects.count() == 2


def test_the_same_key_with_another_body_is_refused_with_a_reason(alice, badge):
    client = client_for(alice)
    _submit(client, badge, key="submit-1", reason="New office")
    other = _submit(client, badge, key="submit-1", reason="Another reason")

    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["detail"]
    assert AccessRequest.objects.count() == 1


def test_keys_belong_to_their_caller(alice, badge):
    bob = UserFactory(username="bob", manager=UserFactory())
    _submit(client_for(alice), badge, key="same")
    answer = _submit(client_for(bob), badge, key="same")

    assert answer.status_code == 201
    assert AccessRequest.objects.filter(requester=bob).count() == 1
    assert AccessRequest.objects.count() == 2


def test_a_refused_post_is_not_remembered_so_the_fixed_one_goes_through(alice, badge):
    client = client_for(alice)
    refused = _submit(client, badge, key="submit-1", reason="")
    assert refused.status_code == 400
    fixed = _submit(client, badge, key="submit-1", reason="New office")
    assert fixed.status_code == 201, fixed.content
    assert AccessRequest.objects.count() == 1


def test_an_unusable_key_is_a_400(alice, badge):
    answer = _submit(client_for(alice), badge, key="x" * 256)
    assert answer.status_code == 400
    assert "Idempotency-Key" in answer.json()["detail"]
    assert AccessRequest.objects.count() == 0


def test_an_expired_key_creates_again(alice, badge):
    client = client_for(alice)
    _submit(client, badge, key="submit-1")
    IdempotencyKey.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    again = _submit(client, badge, key="submit-1")
    assert again.status_code == 201
    assert AccessRequest.objects.count() == 2


def test_comments_honour_the_key(alice, badge):
    client = client_for(alice)
    request_id = _submit(client, badge).json()["id"]
    url = f"/api/v1/requests/{request_id}/comments/"
    first = client.post(url, {"text": "Hello"}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    second = client.post(url, {"text": "Hello"}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert TimelineEntry.objects.filter(kind=TimelineKind.COMMENT).count() == 1


def test_the_same_key_on_another_endpoint_is_refused(alice, badge):
    client = client_for(alice)
    request_id = _submit(client, badge, key="k").json()["id"]
    answer = client.post(
        f"/api/v1/requests/{request_id}/comments/",
        {"text": "Hello"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert answer.status_code == 422
    assert not TimelineEntry.objects.filter(kind=TimelineKind.COMMENT).exists()


def test_the_schema_documents_the_header_on_each_creating_post():
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    for path in ("/api/v1/requests/", "/api/v1/requests/{id}/comments/"):
        names = [parameter["name"] for parameter in paths[path]["post"].get("parameters", [])]
        assert "Idempotency-Key" in names, path

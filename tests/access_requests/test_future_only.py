"""A date question can say "future only": a past date is refused in the service, the API and
the portal, before anything reaches a flow."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.access_requests import chain, services
from apps.access_requests.models import AccessRequest, QuestionType, RequestType, Step
from tests.factories import QuestionStepFactory, RequestTypeFactory, UserFactory

pytestmark = pytest.mark.django_db

YESTERDAY = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
TODAY = timezone.localdate().isoformat()


@pytest.fixture
def until_type():
    request_type = RequestTypeFactory(name="Badge")
    QuestionStepFactory(
        request_type=request_type,
        key="until",
        label="Access needed until",
        question_type=QuestionType.DATE,
        future_only=True,
    )
    return request_type


def test_the_service_refuses_a_past_date(until_type):
    with pytest.raises(ValidationError) as refused:
        services.request_submit(
            request_type=until_type, requester=UserFactory(), answers={"until": YESTERDAY}
        )
    assert refused.value.message_dict == {"until": ["Choose a date in the future."]}
    assert not AccessRequest.objects.exists()


def test_today_counts_as_the_future_for_a_date(until_type):
    request = services.request_submit(
        request_type=until_type, requester=UserFactory(), answers={"until": TODAY}
    )
    assert request.answers["until"] == TODAY


def test_a_date_and_time_must_be_after_now():
    request_type = RequestTypeFactory()
    QuestionStepFactory(
        request_type=request_type, key="at", question_type=QuestionType.DATETIME, future_only=True
    )
    past = (timezone.now() - dt.timedelta(minutes=5)).isoformat()
    with pytest.raises(ValidationError):
        services.request_submit(
            request_type=request_type, requester=UserFactory(), answers={"at": past}
        )


def test_without_future_only_a_past_date_is_an_answer():
    request_type = RequestTypeFactory()
    QuestionStepFactory(request_type=request_type, key="born", question_type=QuestionType.DATE)
    request = services.request_submit(
        request_type=request_type, requester=UserFactory(), answers={"born": "1990-01-01"}
    )
    assert request.answers["born"] == "1990-01-01"


def test_the_api_refuses_a_past_date(until_type):
    client = APIClient()
    client.force_authenticate(UserFactory())
    response = client.post(
        "/api/v1/requests/",
        {"request_type": until_type.pk, "answers": {"until": YESTERDAY}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"answers": {"until": ["Choose a date in the future."]}}
    catalog = client.get(f"/api/v1/request-types/{until_type.pk}/").json()
    assert catalog["questions"][0]["future_only"] is True


def test_the_portal_refuses_a_past_date_and_sets_the_minimum(client, until_type):
    client.force_login(UserFactory())
    url = reverse("portal:request-new", args=[until_type.pk])
    assert f'min="{TODAY}"' in client.get(url).content.decode()
    response = client.post(url, {"until": YESTERDAY})
    assert response.status_code == 200
    assert response.context["form"].errors["until"] == ["Choose a date in the future."]
    assert not AccessRequest.objects.exists()


def test_future_only_is_for_date_questions(until_type):
    step = Step(
        request_type=until_type,
        position=5,
        kind="question",
        key="why",
        label="Why?",
        question_type=QuestionType.TEXT,
        future_only=True,
    )
    with pytest.raises(ValidationError) as refused:
        chain.validate_step_chain(until_type, [*until_type.steps.all(), step])
    assert "Step at position 5 (Question): 'future only' is for date" in refused.value.messages[0]


def test_the_demo_badge_end_date_is_future_only():
    call_command("seed_demo", stdout=io.StringIO())
    badge = RequestType.objects.get(name="Badge access to a building")
    assert badge.steps.get(key="end_date").future_only is True

"""The request form reports every problem in one round, not the parse errors first."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.access_requests.models import AccessRequest, QuestionType
from tests.portal.conftest import make_type, question, task

pytestmark = pytest.mark.django_db


@pytest.fixture
def form_type(org):
    return make_type(
        org.team,
        question("reason"),
        question("start", QuestionType.DATE),
        question("night", QuestionType.BOOLEAN),
        question("night_reason", condition_key="night", condition_operator="is_true"),
        task(),
    )


def test_a_bad_date_and_a_missing_answer_are_reported_together(client, org, form_type):
    client.force_login(org.alice)
    response = client.post(
        reverse("portal:request-new", args=[form_type.pk]),
        {"reason": "", "start": "soon", "night": "true", "night_reason": ""},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["reason"] == ["This question needs an answer."]
    assert errors["night_reason"] == ["This question needs an answer."]
    assert errors["start"] == ["Enter a valid date."]  # one message, not also "needs an answer"
    assert not AccessRequest.objects.exists()

"""A denial gives a reason (unless the request type says it need not), and it reaches the
requester: the timeline shows it, and the API refuses a denial without one."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from apps.access_requests import services
from apps.access_requests.models import ApprovalStatus, RequestStatus, TimelineKind
from tests.factories import ApprovalStepFactory, RequestTypeFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss():
    return UserFactory(username="boss")


def pending(boss, **type_fields):
    request_type = RequestTypeFactory(**type_fields)
    ApprovalStepFactory(request_type=request_type)
    return services.request_submit(
        request_type=request_type, requester=UserFactory(manager=boss), answers={}
    )


def test_a_denial_without_a_reason_is_refused_and_changes_nothing(boss):
    request = pending(boss)
    approval = request.approvals.get()

    with pytest.raises(ValidationError) as refused:
        services.approval_decide(approval=approval, actor=boss, approve=False, comment="  ")

    assert "comment" in refused.value.message_dict
    approval.refresh_from_db()
    request.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert request.status == RequestStatus.PENDING


def test_the_reason_is_on_the_timeline(boss):
    request = pending(boss)
    services.approval_decide(
        approval=request.approvals.get(), actor=boss, approve=False, comment="No budget left."
    )
    request.refresh_from_db()
    decision = request.timeline.get(kind=TimelineKind.DECISION)
    assert decision.message == f"{boss} denied: No budget left."
    assert request.denial_reason == "No budget left."


def test_a_type_may_let_approvers_deny_without_a_reason(boss):
    request = pending(boss, deny_reason_required=False)
    services.approval_decide(approval=request.approvals.get(), actor=boss, approve=False)
    request.refresh_from_db()
    assert request.status == RequestStatus.DENIED


def test_approving_needs_no_comment(boss):
    request = pending(boss)
    services.approval_decide(approval=request.approvals.get(), actor=boss, approve=True)
    request.refresh_from_db()
    assert request.status != RequestStatus.PENDING


def test_the_api_says_a_denial_needs_a_reason(boss):
    request = pending(boss)
    approval = request.approvals.get()
    client = APIClient()
    client.force_authenticate(boss)

    listed = client.get("/api/v1/approvals/").json()["results"]
    assert [a["deny_reason_required"] for a in listed] == [True]
    refused = client.post(f"/api/v1/approvals/{approval.pk}/deny/", {}, format="json")
    assert refused.status_code == 400
    assert "reason" in refused.json()["comment"][0]
    denied = client.post(
        f"/api/v1/approvals/{approval.pk}/deny/", {"comment": "Not for contractors."}
    )
    assert denied.status_code == 200
    assert denied.json()["comment"] == "Not for contractors."

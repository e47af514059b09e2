"""Denying in the portal asks for a reason; the requester reads it on the page and in the mail."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from apps.access_requests import notifications
from apps.access_requests.models import ApprovalStatus, RequestStatus

pytestmark = pytest.mark.django_db


def messages_after(client, response) -> str:
    return " ".join(str(m) for m in client.get(response.url).context["messages"])


def test_the_deny_form_asks_for_a_reason(client, org, pending_request):
    client.force_login(org.boss)
    page = client.get(reverse("portal:approvals")).content.decode()
    assert "data-deny-reason-required" in page
    assert "required to deny" in page


def test_denying_from_the_inbox_without_a_reason_is_refused(client, org, pending_request):
    approval = pending_request.approvals.get()
    client.force_login(org.boss)
    response = client.post(
        reverse("portal:approval-decide", args=[approval.pk]), {"decision": "deny", "comment": ""}
    )
    assert response.status_code == 302
    assert "reason" in messages_after(client, response)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


def test_denying_from_the_e_mail_link_page_without_a_reason_is_refused(
    client, org, pending_request
):
    approval = pending_request.approvals.get()
    client.force_login(org.boss)
    url = reverse("portal:approval-link", args=[notifications.approval_link_token(approval.pk)])
    assert "required to deny" in client.get(url).content.decode()
    response = client.post(url, {"decision": "deny"})
    assert response.status_code == 302
    assert "reason" in messages_after(client, response)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


def test_the_requester_sees_the_reason_on_the_page_and_in_the_mail(
    client, org, pending_request, django_capture_on_commit_callbacks
):
    approval = pending_request.approvals.get()
    client.force_login(org.boss)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("portal:approval-decide", args=[approval.pk]),
            {"decision": "deny", "comment": "Only for the storage team."},
        )
    pending_request.refresh_from_db()
    assert pending_request.status == RequestStatus.DENIED

    client.force_login(org.alice)
    page = client.get(reverse("portal:request-detail", args=[pending_request.pk]))
    assert "Only for the storage team." in page.content.decode()
    (denial,) = [m for m in mail.outbox if org.alice.email in m.to]
    assert "Only for the storage team." in denial.body
    assert "Only for the storage team." in denial.alternatives[0][0]

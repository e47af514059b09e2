"""E-mails about requests: delivered through a real SMTP server, and every template rendered."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from apps.access_requests import notifications, services
from apps.access_requests.models import AccessGrant, ApprovalStatus, RequestStatus
from tests.factories import GroupFactory
from tests.mail import body_parts
from tests.portal.conftest import make_type, manager_approval, question, task

pytestmark = pytest.mark.django_db

LINK = re.compile(re.escape(settings.SITE_URL) + r"(/approvals/link/[^/\s\"<]+/)")


def only(messages):
    assert len(messages) == 1, [m["Subject"] for m in messages]
    return messages[0]


def test_approval_by_e_mail_link_end_to_end(
    client, org, approval_type, smtp_server, django_capture_on_commit_callbacks
):
    # Alice submits: her manager is asked by e-mail, and the assignee is told.
    with django_capture_on_commit_callbacks(execute=True):
        created = org.submit(approval_type, reason="New office")
    to_boss = only(smtp_server.to(org.boss.email))
    assert to_boss["To"] == org.boss.email
    assert to_boss["Subject"] == f"Approval needed: #{created.pk} {created.subject}"
    assert to_boss.is_multipart()
    parts = body_parts(to_boss)
    assert set(parts) == {"text/plain", "text/html"}
    text_link = LINK.search(parts["text/plain"]).group(1)
    assert LINK.search(parts["text/html"]).group(1) == text_link
    assigned = only(smtp_server.to(org.carol.email))
    assert assigned["Subject"] == f"Assigned to you: #{created.pk} {created.subject}"

    # Opening the link shows a confirmation page and decides nothing.
    client.force_login(org.boss)
    page = client.get(text_link)
    assert page.status_code == 200
    assert created.subject in page.content.decode()
    approval = created.approvals.get()
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert not smtp_server.to(org.alice.email)

    # Approving there decides; the requester hears of it, the assignee gets the task.
    smtp_server.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(text_link, {"decision": "approve", "comment": "Go ahead"})
    assert response.status_code == 302
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED
    created.refresh_from_db()
    assert created.status == RequestStatus.APPROVED

    decision = only(smtp_server.to(org.alice.email))
    assert decision["To"] == org.alice.email
    assert decision["Subject"] == f"Request #{created.pk} approved, in progress: {created.subject}"
    decision_parts = body_parts(decision)
    assert set(decision_parts) == {"text/plain", "text/html"}
    assert "approved and is now in progress" in decision_parts["text/plain"]
    request_url = settings.SITE_URL + reverse("portal:request-detail", args=[created.pk])
    assert (
        request_url in decision_parts["text/plain"] and request_url in decision_parts["text/html"]
    )

    task_mail = only(smtp_server.to(org.carol.email))
    assert task_mail["Subject"] == f"New task: Program the badge (#{created.pk} {created.subject})"
    task_parts = body_parts(task_mail)
    assert set(task_parts) == {"text/plain", "text/html"}
    assert "Use the badge printer." in task_parts["text/plain"]
    assert settings.SITE_URL + reverse("portal:tasks") in task_parts["text/html"]


def test_denial_reaches_the_requester(
    client, org, approval_type, smtp_server, django_capture_on_commit_callbacks
):
    created = org.submit(approval_type, reason="x")
    client.force_login(org.boss)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("portal:approval-decide", args=[created.approvals.get().pk]),
            {"decision": "deny", "comment": "Not for visitors."},
        )
    denial = only(smtp_server.to(org.alice.email))
    assert denial["Subject"] == f"Request #{created.pk} denied: {created.subject}"
    assert "Your request was denied." in body_parts(denial)["text/plain"]
    assert "Reason: Not for visitors." in body_parts(denial)["text/plain"]
    assert not smtp_server.to(org.carol.email)


# --- Every template renders, in text without HTML escapes ------------------------------------


@pytest.fixture
def quoted_org(org):
    """Names that HTML would escape, to catch escaping in the plain-text parts."""
    org.alice.last_name = "O'Brien & Co"
    org.alice.save()
    return org


def _notifications(org):
    """One (kind, ids, recipient) of each notification kind."""
    request_type = make_type(
        org.team, question("reason"), manager_approval(), task("Program <the> badge")
    )
    pending = org.submit(request_type, reason="x")
    level = pending.levels.get()
    entry = services.request_comment(request=pending, actor=org.boss, text="Which <door>?")
    grant_type = make_type(
        org.team,
        {"kind": "action", "action_kind": "grant_resource", "duration_days": 1},
        task(),
        name="VPN",
        resource_group=GroupFactory(name="VPN Users"),
    )
    granted = org.submit(grant_type)
    grant = AccessGrant.objects.get(request=granted)
    work = granted.tasks.get()
    return [
        ("approval_requested", {"level_id": level.pk}, org.boss, pending),
        ("approval_reminder", {"level_id": level.pk}, org.boss, pending),
        ("status_changed", {"request_id": granted.pk}, org.alice, granted),
        ("expiry_warning", {"request_id": pending.pk}, org.alice, pending),
        ("assigned", {"request_id": pending.pk}, org.carol, pending),
        ("task_created", {"task_id": work.pk}, org.carol, granted),
        ("grant_ending", {"grant_id": grant.pk}, org.alice, granted),
        ("commented", {"entry_id": entry.pk}, org.alice, pending),
    ]


def test_every_kind_renders_subject_text_and_html(quoted_org):
    org = quoted_org
    for kind, ids, person, request in _notifications(org):
        mail.outbox.clear()
        sent = notifications.send(kind, ids)
        # A comment reaches everyone in the conversation but its author; the rest one person.
        assert sent == (2 if kind == "commented" else 1), kind
        message = next(m for m in mail.outbox if m.to == [person.email])
        subject = message.subject
        assert subject and "\n" not in subject and "{" not in subject, (kind, subject)
        assert "&amp;" not in subject and "&#x27;" not in subject, (kind, subject)
        text = message.body
        html, mimetype = message.alternatives[0]
        assert mimetype == "text/html"
        for body in (text, html):
            assert "{{" not in body and "{%" not in body, kind
            assert f"#{request.pk}" in body or str(request.subject) in body, kind
        request_url = settings.SITE_URL + reverse("portal:request-detail", args=[request.pk])
        assert request_url in text and request_url in html, kind
        assert "&amp;" not in text and "&#x27;" not in text and "&lt;" not in text, (kind, text)
        assert "<script" not in html and "<link" not in html, kind
        assert html.lstrip().startswith("<!doctype html>"), kind


def test_approval_e_mails_carry_the_signed_link(org, pending_request):
    approval = pending_request.approvals.get()
    for kind in ("approval_requested", "approval_reminder"):
        mail.outbox.clear()
        notifications.send(kind, {"level_id": approval.level_id})
        message = only(mail.outbox)
        path = LINK.search(message.body).group(1)
        token = path.rstrip("/").rsplit("/", 1)[1]
        assert notifications.approval_from_token(token) == approval.pk
        assert path in message.alternatives[0][0]


def test_html_escapes_what_people_typed(org):
    request_type = make_type(org.team, question("reason"), task())
    created = org.submit(request_type, reason="x")
    entry = services.request_comment(
        request=created, actor=org.carol, text="<script>alert(1)</script>"
    )
    notifications.send("commented", {"entry_id": entry.pk})
    message = mail.outbox[-1]
    assert "<script>alert(1)</script>" in message.body
    assert "<script>" not in message.alternatives[0][0]
    assert "&lt;script&gt;" in message.alternatives[0][0]


def test_a_comment_greets_each_recipient_with_their_own_part(org, pending_request):
    # Dave comments on alice's request, waiting for her manager and assigned to carol: each of
    # the three hears of it by name, with the reason that is theirs.
    entry = services.request_comment(request=pending_request, actor=org.dave, text="Which door?")
    mail.outbox.clear()
    assert notifications.send("commented", {"entry_id": entry.pk}) == 3
    by_recipient = {message.to[0]: message for message in mail.outbox}
    expected = {
        org.alice.email: ("Alice", "New comment on your request", "you made this request"),
        org.boss.email: (
            "Bea",
            "New comment on a request you approve",
            "an approver of this request",
        ),
        org.carol.email: (
            "Carol",
            "New comment on a request assigned to you",
            "the assignee of this request",
        ),
    }
    assert set(by_recipient) == set(expected)
    for address, (name, heading, reason) in expected.items():
        message = by_recipient[address]
        html = message.alternatives[0][0]
        for body in (message.body, html):
            assert f"Hello {name}," in body, (address, body)
            assert reason in body, (address, body)
            others = {n for n, _, _ in expected.values()} - {name}
            assert not any(f"Hello {other}" in body for other in others), (address, body)
        assert heading in html, address
    assert "you made this request" not in by_recipient[org.carol.email].body

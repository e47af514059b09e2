"""E-mails about requests: rendered from plain-text and HTML templates, sent by the queue.

Services call `later(kind, **ids)` inside their transaction; the e-mail is queued only after
commit, so a rolled-back change never sends mail, and a slow mail server never slows a decision.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django_q.tasks import async_task

logger = logging.getLogger(__name__)

APPROVAL_LINK_SALT = "gatehouse.approval-link"
APPROVAL_LINK_MAX_AGE = 60 * 60 * 24 * 14  # links in e-mails work for two weeks


def later(kind: str, **ids: Any) -> None:
    """Queue the e-mails of `kind` once the current transaction commits."""
    transaction.on_commit(
        lambda: async_task(
            "apps.access_requests.tasks.send_notification", kind, ids, task_name=f"mail {kind}"
        )
    )


def approval_link_token(approval_id: int) -> str:
    """A signed, expiring token naming one approval, for the link in an approver's e-mail."""
    return signing.dumps({"approval": approval_id}, salt=APPROVAL_LINK_SALT, compress=True)


def approval_from_token(token: str) -> int:
    """The approval id in a link token; BadSignature (or SignatureExpired) when not valid."""
    return signing.loads(token, salt=APPROVAL_LINK_SALT, max_age=APPROVAL_LINK_MAX_AGE)["approval"]


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


@dataclass
class Mail:
    """One e-mail to one person."""

    to: str
    template: str
    context: dict[str, Any]


def build(kind: str, ids: dict[str, Any]) -> list[Mail]:
    """The e-mails for one notification, read fresh from the database."""
    from apps.access_requests.models import (
        AccessGrant,
        AccessRequest,
        ApprovalLevel,
        ApprovalStatus,
        Task,
        TimelineEntry,
    )

    def request_context(request):
        return {
            "request": request,
            "request_url": absolute(reverse("portal:request-detail", args=[request.pk])),
            "site_url": settings.SITE_URL,
        }

    if kind in ("approval_requested", "approval_reminder"):
        level = ApprovalLevel.objects.select_related("request__requester").get(pk=ids["level_id"])
        approvals = level.approvals.filter(status=ApprovalStatus.PENDING).select_related(
            "approver", "delegated_from"
        )
        if ids.get("escalated"):
            approvals = approvals.filter(escalated=True)
        return [
            Mail(
                approval.approver.email,
                kind,
                {
                    **request_context(level.request),
                    "approval": approval,
                    "approver": approval.approver,
                    "link": absolute(
                        reverse("portal:approval-link", args=[approval_link_token(approval.pk)])
                    ),
                },
            )
            for approval in approvals
            if approval.approver.email
        ]
    if kind in ("status_changed", "expiry_warning", "assigned"):
        request = AccessRequest.objects.select_related("requester", "assignee").get(
            pk=ids["request_id"]
        )
        person = request.assignee if kind == "assigned" else request.requester
        if person is None or not person.email:
            return []
        if kind == "status_changed" and ids.get("status", request.status) != request.status:
            return []  # it moved on again in the same change (approved, then closed): tell once
        return [Mail(person.email, kind, {**request_context(request), "person": person})]
    if kind == "task_created":
        task = Task.objects.select_related("request", "assignee").get(pk=ids["task_id"])
        if task.assignee is None or not task.assignee.email:
            return []
        return [
            Mail(
                task.assignee.email,
                kind,
                {
                    **request_context(task.request),
                    "task": task,
                    "tasks_url": absolute(reverse("portal:tasks")),
                },
            )
        ]
    if kind == "grant_ending":
        grant = AccessGrant.objects.select_related("request", "user", "group", "application").get(
            pk=ids["grant_id"]
        )
        if not grant.user.email:
            return []
        return [Mail(grant.user.email, kind, {**request_context(grant.request), "grant": grant})]
    if kind == "commented":
        entry = TimelineEntry.objects.select_related(
            "request__requester", "request__assignee", "actor"
        ).get(pk=ids["entry_id"])
        request = entry.request
        # Everyone in the conversation but the author: requester, pending approvers, assignee,
        # each greeted by name with their own part (the first that applies, in that order).
        parts_by_person = {request.requester_id: (request.requester, "requester")}
        for approval in request.approvals.filter(status=ApprovalStatus.PENDING).select_related(
            "approver"
        ):
            parts_by_person.setdefault(approval.approver_id, (approval.approver, "approver"))
        if request.assignee is not None:
            parts_by_person.setdefault(request.assignee_id, (request.assignee, "assignee"))
        parts_by_person.pop(entry.actor_id, None)
        context = {**request_context(request), "entry": entry}
        return [
            Mail(person.email, kind, {**context, "person": person, "part": part})
            for person, part in parts_by_person.values()
            if person.email
        ]
    raise ValueError(f"Unknown notification {kind!r}")


def send(kind: str, ids: dict[str, Any]) -> int:
    """Render and send the e-mails of one notification; returns how many were sent."""
    mails = build(kind, ids)
    if not mails:
        return 0
    messages = []
    for mail in mails:
        subject = render_to_string(f"emails/{mail.template}.subject.txt", mail.context)
        text = render_to_string(f"emails/{mail.template}.txt", mail.context)
        html = render_to_string(f"emails/{mail.template}.html", mail.context)
        message = EmailMultiAlternatives(subject=" ".join(subject.split()), body=text, to=[mail.to])
        message.attach_alternative(html, "text/html")
        messages.append(message)
    with get_connection() as connection:
        return connection.send_messages(messages) or 0

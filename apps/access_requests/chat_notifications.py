"""Request events in chat: the same moments as the e-mails (a new approval for someone, a
request decided or closed, a task or a request assigned) posted to Slack or Microsoft Teams
incoming webhooks, as well as the e-mails.

Each chat connection chooses what it hears, and a request's events go to every one that
applies: the request type's own connection, connections posting for the team that owns the
type, and connections posting every request (a workspace-wide channel). Posting runs in the
queued notification task; a webhook that refuses or is down is logged and never holds back
the e-mails. Requesters' subjects are posted as plain text (Slack's `<!channel>` and links in
them are escaped).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.urls import reverse

from apps.flows.cards.chat import post_message
from apps.flows.errors import CardError
from apps.flows.models import CHAT_CONNECTION_KINDS, Connection

logger = logging.getLogger(__name__)

CHAT_KINDS = frozenset({"approval_requested", "status_changed", "task_created", "assigned"})
STATUS_TITLES = {
    "approved": "Request approved",
    "denied": "Request denied",
    "closed": "Request closed",
    "canceled": "Request canceled",
    "expired": "Request expired",
}


@dataclass
class ChatMessage:
    request: Any
    title: str
    text: str


def connections_for(request_type) -> list[str]:
    """Names of the enabled chat connections that hear of requests of `request_type`."""
    return list(
        Connection.objects.filter(enabled=True, kind__in=CHAT_CONNECTION_KINDS)
        .filter(
            Q(notify_every_request=True)
            | Q(notify_teams=request_type.owning_team_id)
            | Q(pk=request_type.chat_connection_id)
        )
        .order_by("name")
        .values_list("name", flat=True)
        .distinct()
    )


def _name(person) -> str:
    return (person.get_full_name() or person.username) if person else "nobody yet"


def build(kind: str, ids: dict[str, Any]) -> ChatMessage | None:
    """The chat message of one notification, read fresh from the database (None: nothing to
    say, e.g. a status that moved on again in the same change)."""
    from apps.access_requests.models import AccessRequest, ApprovalLevel, ApprovalStatus, Task
    from apps.access_requests.notifications import absolute

    def link(request) -> str:
        return absolute(reverse("portal:request-detail", args=[request.pk]))

    if kind == "approval_requested":
        level = ApprovalLevel.objects.select_related(
            "request__requester", "request__request_type"
        ).get(pk=ids["level_id"])
        approvals = level.approvals.filter(status=ApprovalStatus.PENDING).select_related("approver")
        if ids.get("escalated"):
            approvals = approvals.filter(escalated=True)
        approvers = [_name(approval.approver) for approval in approvals]
        if not approvers:
            return None
        request = level.request
        return ChatMessage(
            request,
            "Approval escalated" if ids.get("escalated") else "Approval needed",
            f"{', '.join(approvers)}: please decide on request #{request.pk} "
            f'"{request.subject}" ({request.request_type}) from {_name(request.requester)}. '
            f"{link(request)}",
        )
    if kind in ("status_changed", "assigned"):
        request = AccessRequest.objects.select_related("requester", "assignee", "request_type").get(
            pk=ids["request_id"]
        )
        if kind == "assigned":
            return ChatMessage(
                request,
                "Request assigned",
                f'Request #{request.pk} "{request.subject}" ({request.request_type}) is '
                f"assigned to {_name(request.assignee)}. {link(request)}",
            )
        status = ids.get("status", request.status)
        if status != request.status or status not in STATUS_TITLES:
            return None
        return ChatMessage(
            request,
            STATUS_TITLES[status],
            f'Request #{request.pk} "{request.subject}" ({request.request_type}) from '
            f"{_name(request.requester)} is {request.get_status_display().lower()}. "
            f"{link(request)}",
        )
    if kind == "task_created":
        task = Task.objects.select_related("request__request_type", "assignee").get(
            pk=ids["task_id"]
        )
        request = task.request
        return ChatMessage(
            request,
            "Task assigned",
            f'Task "{task.title}" for request #{request.pk} "{request.subject}" '
            f"({request.request_type}) is assigned to {_name(task.assignee)}. {link(request)}",
        )
    return None


def post(kind: str, ids: dict[str, Any]) -> int:
    """Post one notification to every chat connection that hears of it; how many took it.
    Never raises for a webhook's answer: the e-mails go out regardless."""
    if kind not in CHAT_KINDS:
        return 0
    if not Connection.objects.filter(enabled=True, kind__in=CHAT_CONNECTION_KINDS).exists():
        return 0  # one cheap query when nobody posts request events to chat
    message = build(kind, ids)
    if message is None:
        return 0
    posted = 0
    for name in connections_for(message.request.request_type):
        try:
            post_message(name, text=message.text, title=message.title, plain=True)
        except CardError as error:
            logger.warning("chat notification %s to %r not posted: %s", kind, name, error)
        else:
            posted += 1
    return posted

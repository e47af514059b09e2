"""Named reads of access requests, each limited to what the asking person may see.

List reads return querysets with their related rows joined, so a page costs the same number of
queries whatever the amount of data.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from apps.access_requests.models import (
    AccessRequest,
    Approval,
    ApprovalStatus,
    ApproverDelegation,
    Audience,
    RequestType,
    RequestTypeStatus,
    Task,
    TaskStatus,
)
from apps.core.permissions import staff_may
from apps.directory.models import GroupMembership, User
from apps.teams.models import TeamMembership


def may_see_everything(user: User) -> bool:
    """Admins (superusers, and staff with the view permission) see every request."""
    return staff_may(user, "access_requests.view_accessrequest")


def may_administer(user: User) -> bool:
    """Admins who may act on anyone's request: superusers, and staff with the change permission."""
    return staff_may(user, "access_requests.change_accessrequest")


# --- Who may act on a request (the portal, the API and the services all ask these) ---------


def may_cancel_request(user: User, request: AccessRequest) -> bool:
    """The requester, or an admin who may change requests."""
    return request.requester_id == user.pk or may_administer(user)


def may_comment(user: User, request: AccessRequest) -> bool:
    """Those the request involves (requester, approvers, assignee, owning team), or an admin
    who may change requests: seeing a request with the view permission alone is not enough."""
    if may_administer(user):
        return True
    return AccessRequest.objects.filter(pk=request.pk).filter(visibility_filter(user)).exists()


def may_manage_delegations_of(user: User, approver: User) -> bool:
    """Approvers hand over (and take back) their own approvals; admins who may change requests
    do it for anyone."""
    return user.pk == approver.pk or may_administer(user)


def may_complete_task(user: User, task: Task) -> bool:
    """Whose work a task is: its assignee's; an unassigned task is its team's (any member may
    take it); an admin who may change requests may complete any.

    A task assigned to one member is not a colleague's to close: the team's assignment chose
    who does the work, and the task then names who did it. Work moves to a colleague by
    reassigning it, or an admin closes it.
    """
    if task.assignee_id is not None:
        return task.assignee_id == user.pk or may_administer(user)
    return (
        may_administer(user)
        or TeamMembership.objects.filter(team_id=task.team_id, user_id=user.pk).exists()
    )


def visibility_filter(user: User) -> Q:
    """Requests `user` may see: theirs, assigned, to approve (or delegated), their team's."""
    return (
        Q(requester=user)
        | Q(assignee=user)
        | Q(pk__in=Approval.objects.filter(approver=user).values("request_id"))
        | Q(pk__in=Approval.objects.filter(delegated_from=user).values("request_id"))
        | Q(owning_team__in=user.teams.values("pk"))
    )


def _audience_filter(user: User) -> Q:
    """Types for everyone, or restricted to a group or team `user` belongs to."""
    group_ids = GroupMembership.objects.filter(user=user).values("group_id")
    team_ids = TeamMembership.objects.filter(user=user).values("team_id")
    in_audience = RequestType.objects.filter(pk=OuterRef("pk")).filter(
        Q(audience_groups__in=group_ids) | Q(audience_teams__in=team_ids)
    )
    return Q(audience=Audience.EVERYONE) | Q(Exists(in_audience))


def catalog_for(user: User) -> QuerySet[RequestType]:
    """Active request types offered to `user`, by name."""
    return (
        RequestType.objects.filter(status=RequestTypeStatus.ACTIVE)
        .filter(_audience_filter(user))
        .select_related("owning_team")
        .order_by("name")
    )


def request_type_visible_to(request_type: RequestType, user: User) -> bool:
    """Whether `user` is in the type's audience."""
    return RequestType.objects.filter(pk=request_type.pk).filter(_audience_filter(user)).exists()


def requests_visible_to(user: User) -> QuerySet[AccessRequest]:
    """Every request `user` may see: all for admins; else theirs, to approve, assigned, team's."""
    requests = AccessRequest.objects.select_related("request_type", "requester", "assignee")
    if may_see_everything(user):
        return requests
    return requests.filter(visibility_filter(user))


def can_see_request(user: User, request: AccessRequest) -> bool:
    """Whether `user` may open `request` (others get a 404)."""
    if may_see_everything(user):
        return True
    return AccessRequest.objects.filter(pk=request.pk).filter(visibility_filter(user)).exists()


def requests_of(user: User) -> QuerySet[AccessRequest]:
    """`user`'s own requests, newest first."""
    return AccessRequest.objects.filter(requester=user).select_related(
        "request_type", "requester", "assignee"
    )


def approvals_for(user: User, *, status: str | None = ApprovalStatus.PENDING) -> QuerySet[Approval]:
    """Approvals assigned to `user`, newest first (pending ones by default)."""
    approvals = Approval.objects.filter(approver=user).select_related(
        "request", "request__requester", "request__request_type", "level", "delegated_from"
    )
    return approvals.filter(status=status) if status else approvals


def tasks_for(user: User, *, status: str | None = TaskStatus.OPEN) -> QuerySet[Task]:
    """Tasks assigned to `user`, or unassigned in a team `user` belongs to."""
    team_ids = user.teams.values("pk")
    tasks = Task.objects.filter(
        Q(assignee=user) | Q(assignee__isnull=True, team__in=team_ids)
    ).select_related("request", "request__requester", "request__request_type", "assignee")
    return tasks.filter(status=status) if status else tasks


def open_work_counts(team, user_ids) -> dict[int, int]:
    """Open tasks per member, for the team's least-open-work assignment."""
    from django.db.models import Count

    rows = (
        Task.objects.filter(assignee_id__in=user_ids, status=TaskStatus.OPEN)
        .values("assignee_id")
        .annotate(open=Count("pk"))
    )
    return {row["assignee_id"]: row["open"] for row in rows}


def overlapping_delegation(
    *, approver: User, starts_at: dt.datetime, ends_at: dt.datetime
) -> ApproverDelegation | None:
    """A current or upcoming delegation of `approver` sharing time with [starts_at, ends_at).

    Only what is still to come counts: an ended delegation (or the past part of one) hands over
    nothing more, so a new delegation may start where it ended.
    """
    from_moment = max(starts_at, timezone.now())
    return (
        ApproverDelegation.objects.filter(
            approver=approver, starts_at__lt=ends_at, ends_at__gt=from_moment
        )
        .select_related("delegate")
        .order_by("starts_at")
        .first()
    )

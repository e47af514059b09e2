"""Who decides an approval level: resolving an approval step to people, with the fallbacks.

The requester is never among them. When a step resolves to nobody else, the level goes to its
escalation target: the step's escalation user, else the approvers' manager, else the owning
team, else the superusers; each fallback is explained on the timeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from apps.access_requests.models import AccessRequest, ApproverDelegation, ApproverKind
from apps.directory.models import Application, Group, User, UserStatus


@dataclass
class Approvers:
    """The people asked to decide, who they stand in for, and why they were chosen."""

    people: list[User] = field(default_factory=list)
    delegated_from: dict[int, User] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _active(users: Iterable[User]) -> list[User]:
    return [user for user in users if user.status == UserStatus.ACTIVE]


def nominal_approvers(request: AccessRequest, step: Mapping[str, Any]) -> list[User]:
    """The people the step names, before removing the requester or applying delegations."""
    kind = step["approver_kind"]
    requester = request.requester
    if kind == ApproverKind.MANAGER:
        return [requester.manager] if requester.manager_id else []
    if kind == ApproverKind.USER:
        return list(User.objects.filter(pk=step["approver_user"]))
    if kind == ApproverKind.TEAM:
        return list(User.objects.filter(teams__pk=step["approver_team"]).order_by("pk"))
    if kind == ApproverKind.GROUP:
        return list(User.objects.filter(directory_groups__pk=step["approver_group"]).order_by("pk"))
    if kind == ApproverKind.RESOURCE_OWNER:
        resource = request.snapshot.get("resource") or {}
        model = {"group": Group, "application": Application}.get(resource.get("kind"))
        if model is None:
            return []
        return list(User.objects.filter(**{f"owned_{model.__name__.lower()}s__pk": resource["id"]}))
    return []


def resolve_approvers(request: AccessRequest, step: Mapping[str, Any]) -> Approvers:
    """The people who decide this level for this request."""
    result = Approvers()
    candidates = [
        u for u in _active(nominal_approvers(request, step)) if u.pk != request.requester_id
    ]
    if not candidates:
        result.notes.append(
            "Nobody other than the requester can approve this level: it goes to the escalation "
            "target."
        )
        candidates = escalation_targets(request, step, current=nominal_approvers(request, step))
    _apply_delegations(request, candidates, result)
    return result


def escalation_targets(
    request: AccessRequest, step: Mapping[str, Any], *, current: Iterable[User]
) -> list[User]:
    """Who decides after escalation (never the requester), with fallbacks down to superusers."""
    requester_id = request.requester_id
    chain = []
    if step.get("escalation_user"):
        chain.append(list(User.objects.filter(pk=step["escalation_user"])))
    manager_ids = {user.manager_id for user in current if user.manager_id}
    if step["approver_kind"] == ApproverKind.MANAGER and request.requester.manager_id:
        manager_ids.add(request.requester.manager.manager_id)
    chain.append(list(User.objects.filter(pk__in=[pk for pk in manager_ids if pk])))
    chain.append(list(User.objects.filter(teams__pk=request.owning_team_id).order_by("pk")))
    chain.append(list(User.objects.filter(is_superuser=True).order_by("pk")))
    for people in chain:
        eligible = [u for u in _active(people) if u.pk != requester_id]
        if eligible:
            return eligible
    return []


def _apply_delegations(request: AccessRequest, candidates: list[User], result: Approvers) -> None:
    now = timezone.now()
    delegations = {
        d.approver_id: d.delegate
        for d in ApproverDelegation.objects.filter(
            approver__in=candidates, starts_at__lte=now, ends_at__gt=now
        ).select_related("delegate")
    }
    seen: set[int] = set()
    for person in candidates:
        delegate = delegations.get(person.pk)
        chosen = person
        if (
            delegate is not None
            and delegate.pk != request.requester_id
            and delegate.status == UserStatus.ACTIVE
        ):
            chosen = delegate
            result.delegated_from[delegate.pk] = person
            result.notes.append(f"{person} delegated their approvals to {delegate}.")
        if chosen.pk not in seen:
            seen.add(chosen.pk)
            result.people.append(chosen)

"""Domain verbs of the teams app. Each runs in one transaction and writes one system log event.

Admin, API and requests change teams and memberships only through these functions, so the
system log always has the old and new values. Picking an assignee writes no event: the caller
records the assignment it makes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.audit.changes import changed_fields, old_and_new
from apps.audit.services import emit
from apps.directory.models import User, UserStatus
from apps.teams import events
from apps.teams.models import AssignmentStrategy, Team, TeamMembership
from apps.teams.selectors import open_work_counts

TEAM_FIELDS = ("name", "description", "assignment_strategy", "fixed_member")


def _team_values(team: Team) -> dict[str, Any]:
    """The logged values of a team (the fixed member as a user id)."""
    return {
        "name": team.name,
        "description": team.description,
        "assignment_strategy": team.assignment_strategy,
        "fixed_member": team.fixed_member_id,
    }


def _member_context(team: Team) -> dict[str, Any]:
    """What every membership event says about the team, so flows can filter on it."""
    return {"team_id": team.pk, "team_name": team.name}


def check_assignment_strategy(
    *, team: Team | None, assignment_strategy: str, fixed_member: User | None
) -> None:
    """Raise ValidationError unless the strategy can work for `team` (None: a team not yet saved).

    The fixed member strategy needs a fixed member who already belongs to the team, so a new
    team starts with another strategy and switches once it has members.
    """
    if assignment_strategy != AssignmentStrategy.FIXED_MEMBER:
        return
    if team is None or team.pk is None:
        raise ValidationError(
            {
                "assignment_strategy": "A new team has no members yet: create it with another "
                "strategy, add members, then choose its fixed member."
            }
        )
    if fixed_member is None:
        raise ValidationError({"fixed_member": "Choose the member who receives every request."})
    if not TeamMembership.objects.filter(team=team, user=fixed_member).exists():
        raise ValidationError({"fixed_member": f"{fixed_member} is not a member of this team."})


@transaction.atomic
def team_create(
    *,
    actor: User | None,
    name: str,
    description: str = "",
    assignment_strategy: str = AssignmentStrategy.ROUND_ROBIN,
) -> Team:
    """Create a team with no members (so not yet with the fixed member strategy)."""
    check_assignment_strategy(team=None, assignment_strategy=assignment_strategy, fixed_member=None)
    team = Team(name=name, description=description, assignment_strategy=assignment_strategy)
    team.full_clean()
    team.save()
    emit(
        events.TEAM_CREATED, actor=actor, target=team, data={"old": None, "new": _team_values(team)}
    )
    return team


@transaction.atomic
def team_update(*, team: Team, actor: User | None, **changes: Any) -> Team:
    """Change a team's name, description, assignment strategy or fixed member.

    Leaving the fixed member strategy clears the fixed member (the change is logged).
    """
    unknown = set(changes) - set(TEAM_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown field." for name in sorted(unknown)})
    team = Team.objects.select_for_update().get(pk=team.pk)
    old = _team_values(team)
    for field, value in changes.items():
        setattr(team, field, value)
    if team.assignment_strategy != AssignmentStrategy.FIXED_MEMBER:
        team.fixed_member = None
    new = _team_values(team)
    changed = changed_fields(old, new)
    if not changed:
        return team
    check_assignment_strategy(
        team=team, assignment_strategy=team.assignment_strategy, fixed_member=team.fixed_member
    )
    team.full_clean()
    team.save()
    emit(
        events.TEAM_UPDATED,
        actor=actor,
        target=team,
        data=old_and_new(old, new, changed),
    )
    return team


@transaction.atomic
def team_delete(*, team: Team, actor: User | None) -> None:
    """Delete a team and its memberships."""
    team = Team.objects.select_for_update().get(pk=team.pk)
    old = _team_values(team)
    old["members"] = sorted(team.memberships.values_list("user_id", flat=True))
    emit(events.TEAM_DELETED, actor=actor, target=team, data={"old": old, "new": None})
    team.delete()


@transaction.atomic
def team_add_member(
    *, team: Team, user: User, actor: User | None, is_available: bool = True
) -> TeamMembership:
    """Make `user` a member of `team`; for an existing member, set their availability."""
    membership = TeamMembership.objects.select_for_update().filter(team=team, user=user).first()
    if membership is not None:
        return _set_availability(membership, actor=actor, is_available=is_available)
    membership = TeamMembership(team=team, user=user, is_available=is_available)
    membership.full_clean()
    membership.save()
    emit(
        events.MEMBER_ADDED,
        actor=actor,
        target=user,
        data={"old": None, "new": {"is_available": is_available}, **_member_context(team)},
    )
    return membership


@transaction.atomic
def team_remove_member(*, team: Team, user: User, actor: User | None) -> bool:
    """End `user`'s membership of `team`; False when they were not a member.

    The fixed member of a team using the fixed member strategy cannot be removed: change the
    strategy or the fixed member first.
    """
    team = Team.objects.select_for_update().get(pk=team.pk)
    membership = TeamMembership.objects.filter(team=team, user=user).first()
    if membership is None:
        return False
    if (
        team.assignment_strategy == AssignmentStrategy.FIXED_MEMBER
        and team.fixed_member_id == user.pk
    ):
        raise ValidationError(
            {"user": f"{user} is the team's fixed member: choose another one before removing."}
        )
    emit(
        events.MEMBER_REMOVED,
        actor=actor,
        target=user,
        data={
            "old": {"is_available": membership.is_available},
            "new": None,
            **_member_context(team),
        },
    )
    membership.delete()
    return True


@transaction.atomic
def team_set_member_availability(
    *, team: Team, user: User, actor: User | None, is_available: bool
) -> TeamMembership:
    """Mark a member available or unavailable (on holiday, say) for new work."""
    membership = TeamMembership.objects.select_for_update().filter(team=team, user=user).first()
    if membership is None:
        raise ValidationError({"user": f"{user} is not a member of {team}."})
    return _set_availability(membership, actor=actor, is_available=is_available)


def _set_availability(
    membership: TeamMembership, *, actor: User | None, is_available: bool
) -> TeamMembership:
    """Store and log a change of availability; nothing happens when it is unchanged."""
    if membership.is_available == is_available:
        return membership
    membership.is_available = is_available
    membership.save(update_fields=["is_available"])
    emit(
        events.MEMBER_AVAILABILITY_CHANGED,
        actor=actor,
        target=membership.user,
        data={
            "old": {"is_available": not is_available},
            "new": {"is_available": is_available},
            **_member_context(membership.team),
        },
    )
    return membership


# --- Assignment -----------------------------------------------------------------------------


@transaction.atomic
def team_pick_assignee(*, team: Team) -> User | None:
    """The member who should take the team's next piece of work, or None when nobody can.

    Only available members whose account is active are eligible. The team row stays locked
    until the caller's transaction ends, so two requests arriving together get different
    members. The same few queries run whatever the size of the team.
    """
    team = Team.objects.select_for_update().get(pk=team.pk)
    memberships = list(
        TeamMembership.objects.filter(team=team).select_related("user").order_by("pk")
    )
    eligible = [
        membership
        for membership in memberships
        if membership.is_available and membership.user.status == UserStatus.ACTIVE
    ]
    if not eligible:
        return None

    if team.assignment_strategy == AssignmentStrategy.LEAST_OPEN_WORK:
        chosen = _least_open_work(team, eligible)
    elif team.assignment_strategy == AssignmentStrategy.FIXED_MEMBER:
        fixed = [m for m in eligible if m.user_id == team.fixed_member_id]
        chosen = fixed[0] if fixed else _next_in_turn(memberships, eligible, team.last_assigned_id)
    else:
        chosen = _next_in_turn(memberships, eligible, team.last_assigned_id)

    now = timezone.now()
    Team.objects.filter(pk=team.pk).update(last_assigned=chosen.user)
    TeamMembership.objects.filter(pk=chosen.pk).update(last_assigned_at=now)
    return chosen.user


def _next_in_turn(
    memberships: list[TeamMembership], eligible: list[TeamMembership], last_user_id: int | None
) -> TeamMembership:
    """The first eligible member after the last one picked, in joining order, wrapping round.

    The cursor is looked up among all members, not just eligible ones, so the turn moves on
    correctly after a member who has since gone on holiday.
    """
    cursor = next((m.pk for m in memberships if m.user_id == last_user_id), None)
    if cursor is not None:
        for membership in eligible:
            if membership.pk > cursor:
                return membership
    return eligible[0]


def _least_open_work(team: Team, eligible: list[TeamMembership]) -> TeamMembership:
    """The eligible member with the fewest open items; ties go to who waited longest, then name."""
    counts = open_work_counts(team=team, user_ids=[m.user_id for m in eligible])
    never = dt.datetime.min.replace(tzinfo=dt.UTC)  # never assigned: waited longest of all
    return min(
        eligible,
        key=lambda m: (counts[m.user_id], m.last_assigned_at or never, m.user.username.lower()),
    )

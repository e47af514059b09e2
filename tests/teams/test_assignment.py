"""Picking the team member who takes the next piece of work."""

import datetime as dt

import pytest
from django.utils import timezone

from apps.audit.models import SystemLogEvent
from apps.directory.models import UserStatus
from apps.teams.models import AssignmentStrategy, TeamMembership
from apps.teams.selectors import register_open_work_counter, unregister_open_work_counter
from apps.teams.services import team_pick_assignee
from tests.factories import TeamFactory, TeamMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def team_with_members(count, **team_fields):
    """A team and its members' users, in joining order."""
    team = TeamFactory(**team_fields)
    users = [TeamMembershipFactory(team=team).user for _ in range(count)]
    return team, users


def pick_many(team, times):
    return [team_pick_assignee(team=team) for _ in range(times)]


@pytest.fixture
def open_work():
    """Register a counter answering from the returned dict {user_id: open items}."""
    counts = {}

    def counter(team, user_ids):
        return {user_id: counts.get(user_id, 0) for user_id in user_ids}

    register_open_work_counter(counter)
    yield counts
    unregister_open_work_counter(counter)


def test_round_robin_takes_members_in_joining_order():
    team, (ann, bob, cat) = team_with_members(3)

    assert pick_many(team, 3) == [ann, bob, cat]


def test_round_robin_wraps_after_last_member():
    team, (ann, bob) = team_with_members(2)

    assert pick_many(team, 5) == [ann, bob, ann, bob, ann]


def test_unavailable_member_is_skipped():
    team, (ann, bob, cat) = team_with_members(3)
    TeamMembership.objects.filter(user=bob).update(is_available=False)

    assert pick_many(team, 3) == [ann, cat, ann]


@pytest.mark.parametrize(
    "status", [UserStatus.STAGED, UserStatus.SUSPENDED, UserStatus.DEPROVISIONED]
)
def test_member_whose_account_is_not_active_is_skipped(status):
    team, (ann, bob) = team_with_members(2)
    ann.status = status
    ann.save()

    assert pick_many(team, 2) == [bob, bob]


def test_round_robin_moves_on_after_a_member_who_became_unavailable():
    team, (ann, bob, cat) = team_with_members(3)
    assert pick_many(team, 2) == [ann, bob]
    TeamMembership.objects.filter(user=bob).update(is_available=False)

    assert team_pick_assignee(team=team) == cat


def test_no_eligible_member_returns_none():
    team, (ann,) = team_with_members(1)
    TeamMembership.objects.filter(user=ann).update(is_available=False)

    assert team_pick_assignee(team=team) is None
    assert team_pick_assignee(team=TeamFactory()) is None


def test_pick_stores_the_cursor_and_the_time_of_the_pick():
    team, (ann,) = team_with_members(1)

    team_pick_assignee(team=team)

    team.refresh_from_db()
    assert team.last_assigned == ann
    assert TeamMembership.objects.get(user=ann).last_assigned_at is not None


def test_picking_writes_no_event():
    team, _ = team_with_members(2)

    pick_many(team, 2)

    assert not SystemLogEvent.objects.exists()


def test_least_open_work_uses_registered_counter(open_work):
    team, (ann, bob, cat) = team_with_members(3, assignment_strategy="least_open_work")
    open_work.update({ann.pk: 4, bob.pk: 1, cat.pk: 2})

    assert team_pick_assignee(team=team) == bob


def test_least_open_work_adds_up_every_registered_counter(open_work):
    team, (ann, bob) = team_with_members(2, assignment_strategy="least_open_work")
    open_work.update({ann.pk: 1, bob.pk: 2})

    def more_work_for_ann(team, user_ids):
        return {ann.pk: 5}

    register_open_work_counter(more_work_for_ann)
    try:
        assert team_pick_assignee(team=team) == bob
    finally:
        unregister_open_work_counter(more_work_for_ann)


def test_least_open_work_without_counter_rotates_through_ties():
    team, (ann, bob, cat) = team_with_members(3, assignment_strategy="least_open_work")

    assert pick_many(team, 4) == [ann, bob, cat, ann]


def test_least_open_work_tie_goes_to_member_assigned_longest_ago_then_username():
    team = TeamFactory(assignment_strategy=AssignmentStrategy.LEAST_OPEN_WORK)
    now = timezone.now()
    zed = TeamMembershipFactory(team=team, user=UserFactory(username="zed")).user
    amy = TeamMembershipFactory(
        team=team, user=UserFactory(username="amy"), last_assigned_at=now
    ).user
    bea = TeamMembershipFactory(
        team=team, user=UserFactory(username="bea"), last_assigned_at=now - dt.timedelta(days=1)
    ).user
    never = TeamMembershipFactory(team=team, user=UserFactory(username="ned")).user

    # Never assigned (ned, zed: by username), then bea (yesterday), then amy (just now).
    assert pick_many(team, 4) == [never, zed, bea, amy]


def test_fixed_member_gets_every_pick():
    team, (_ann, bob) = team_with_members(2)
    team.assignment_strategy = AssignmentStrategy.FIXED_MEMBER
    team.fixed_member = bob
    team.save()

    assert pick_many(team, 3) == [bob, bob, bob]


def test_fixed_member_falls_back_when_unavailable():
    team, (ann, bob, cat) = team_with_members(3)
    team.assignment_strategy = AssignmentStrategy.FIXED_MEMBER
    team.fixed_member = bob
    team.save()
    TeamMembership.objects.filter(user=bob).update(is_available=False)

    assert pick_many(team, 3) == [ann, cat, ann]


def test_fixed_member_falls_back_when_their_account_is_suspended():
    team, (ann, bob) = team_with_members(2)
    team.assignment_strategy = AssignmentStrategy.FIXED_MEMBER
    team.fixed_member = ann
    team.save()
    ann.status = UserStatus.SUSPENDED
    ann.save()

    assert pick_many(team, 2) == [bob, bob]


@pytest.mark.parametrize("strategy", AssignmentStrategy.values)
@pytest.mark.parametrize("member_count", [3, 30])
def test_pick_assignee_query_count_constant(strategy, member_count, django_assert_num_queries):
    team, users = team_with_members(member_count, assignment_strategy=strategy)
    team.fixed_member = users[1]
    team.save()

    # Savepoint, lock the team, read its members, move the cursor, stamp the member, release;
    # plus one query per registered open-work counter (access requests registers one).
    from apps.teams.selectors import _open_work_counters

    counting = 1 if strategy == AssignmentStrategy.LEAST_OPEN_WORK else 0
    with django_assert_num_queries(6 + counting * len(_open_work_counters)):
        assert team_pick_assignee(team=team) is not None

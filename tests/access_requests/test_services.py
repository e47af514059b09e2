"""Deciding approval levels (quorum, order) and who in the owning team gets the request."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.access_requests import services
from apps.access_requests.models import (
    ApprovalLevel,
    ApprovalStatus,
    LevelStatus,
    RequestStatus,
    TaskStatus,
)
from apps.audit.models import SystemLogEvent
from apps.teams.models import AssignmentStrategy
from tests.factories import (
    ApprovalStepFactory,
    QuestionStepFactory,
    RequestTypeFactory,
    TaskStepFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def requester(db):
    return UserFactory(username="requester")


def submit(request_type, requester, answers=None):
    return services.request_submit(
        request_type=request_type, requester=requester, answers=answers or {}
    )


def approval_of(request, person):
    return request.approvals.get(approver=person)


def decide(request, person, *, approve=True):
    return services.approval_decide(
        approval=approval_of(request, person),
        actor=person,
        approve=approve,
        comment="" if approve else "Not this time.",
    )


# --- Quorum ---------------------------------------------------------------------------------


@pytest.fixture
def approvers(db):
    return UserFactory.create_batch(3)


@pytest.fixture
def quorum_type(approvers):
    """Approval by any two of a team of three."""
    team = TeamFactory()
    for person in approvers:
        TeamMembershipFactory(team=team, user=person)
    request_type = RequestTypeFactory()
    ApprovalStepFactory(
        request_type=request_type, approver_kind="team", approver_team=team, quorum=2
    )
    return request_type


def test_with_quorum_two_one_approval_keeps_the_level_pending(quorum_type, requester, approvers):
    request = submit(quorum_type, requester)
    first, second, third = approvers

    decide(request, first)

    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING
    assert request.levels.get().status == LevelStatus.PENDING
    assert approval_of(request, second).status == ApprovalStatus.PENDING
    assert approval_of(request, third).status == ApprovalStatus.PENDING


def test_the_second_approval_settles_the_level_and_supersedes_the_third(
    quorum_type, requester, approvers
):
    request = submit(quorum_type, requester)
    first, second, third = approvers
    decide(request, first)

    decide(request, second)

    request.refresh_from_db()
    level = request.levels.get()
    assert level.status == LevelStatus.APPROVED and level.settled_at is not None
    assert approval_of(request, third).status == ApprovalStatus.SUPERSEDED
    assert request.status == RequestStatus.CLOSED
    settled = request.timeline.get(kind="level_settled")
    assert "(2 of 2)" in settled.message
    with pytest.raises(ValidationError, match="already settled"):
        decide(request, third)


def test_a_deny_by_anyone_ends_the_request_at_once(quorum_type, requester, approvers):
    request = submit(quorum_type, requester)
    first, second, third = approvers
    decide(request, first)

    decide(request, second, approve=False)

    request.refresh_from_db()
    assert request.status == RequestStatus.DENIED
    assert request.finished_at is not None
    assert request.levels.get().status == LevelStatus.DENIED
    assert approval_of(request, third).status == ApprovalStatus.SUPERSEDED
    assert SystemLogEvent.objects.filter(event_type="access_request.denied").count() == 1


def test_a_quorum_larger_than_the_approvers_is_capped_and_the_timeline_says_so(requester):
    team = TeamFactory()
    pair = [TeamMembershipFactory(team=team).user for _ in range(2)]
    request_type = RequestTypeFactory()
    ApprovalStepFactory(
        request_type=request_type, approver_kind="team", approver_team=team, quorum=5
    )

    request = submit(request_type, requester)

    level = request.levels.get()
    assert level.quorum == 2
    entry = request.timeline.get(kind="approval_requested")
    assert "Only 2 people can approve: the quorum is 2." in entry.message
    assert entry.data["quorum"] == 2
    decide(request, pair[0])
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING
    decide(request, pair[1])
    request.refresh_from_db()
    assert request.status == RequestStatus.CLOSED


def test_a_decided_approval_cannot_be_decided_again(quorum_type, requester, approvers):
    request = submit(quorum_type, requester)
    decide(request, approvers[0])

    with pytest.raises(ValidationError, match="already settled"):
        decide(request, approvers[0], approve=False)

    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING


# --- Ordered levels -------------------------------------------------------------------------


def test_the_second_level_starts_only_after_the_first_is_approved():
    boss, carol = UserFactory(username="boss"), UserFactory(username="carol")
    alice = UserFactory(username="alice", manager=boss)
    request_type = RequestTypeFactory()
    QuestionStepFactory(request_type=request_type, key="why")
    ApprovalStepFactory(request_type=request_type, approver_kind="manager")
    ApprovalStepFactory(request_type=request_type, approver_kind="user", approver_user=carol)

    request = submit(request_type, alice, {"why": "audit"})

    assert [a.approver for a in request.approvals.all()] == [boss]
    assert list(request.levels.values_list("step_index", flat=True)) == [1]

    decide(request, boss)

    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING
    levels = list(ApprovalLevel.objects.filter(request=request).order_by("step_index"))
    assert [(lv.step_index, lv.status) for lv in levels] == [(1, "approved"), (2, "pending")]
    assert approval_of(request, carol).level == levels[1]

    decide(request, carol)

    request.refresh_from_db()
    assert request.status == RequestStatus.CLOSED


def test_a_denied_first_level_never_starts_the_second():
    boss, carol = UserFactory(), UserFactory()
    alice = UserFactory(manager=boss)
    request_type = RequestTypeFactory()
    ApprovalStepFactory(request_type=request_type, approver_kind="manager")
    ApprovalStepFactory(request_type=request_type, approver_kind="user", approver_user=carol)
    request = submit(request_type, alice)

    decide(request, boss, approve=False)

    assert request.levels.count() == 1
    assert not request.approvals.filter(approver=carol).exists()


# --- Assignment in the owning team ----------------------------------------------------------


def task_type(team):
    request_type = RequestTypeFactory(owning_team=team)
    TaskStepFactory(request_type=request_type, title="Do it")
    return request_type


def test_the_assignee_comes_from_the_owning_teams_strategy(requester):
    team = TeamFactory()
    # Bob joined second: round robin would pick the first member, the fixed member is Bob.
    _first, bob = (TeamMembershipFactory(team=team).user for _ in range(2))
    team.assignment_strategy = AssignmentStrategy.FIXED_MEMBER
    team.fixed_member = bob
    team.save()

    request = submit(task_type(team), requester)

    assert request.assignee == bob
    assert request.tasks.get().assignee == bob
    assert request.timeline.get(kind="submitted").data["assignee"] == bob.pk


def test_round_robin_hands_requests_to_members_in_turn(requester):
    team = TeamFactory(assignment_strategy=AssignmentStrategy.ROUND_ROBIN)
    ann, bob = (TeamMembershipFactory(team=team).user for _ in range(2))
    request_type = task_type(team)

    assignees = [submit(request_type, requester).assignee for _ in range(3)]

    assert assignees == [ann, bob, ann]


def test_least_open_work_gives_the_next_request_to_the_member_with_fewer_open_tasks(requester):
    team = TeamFactory(assignment_strategy=AssignmentStrategy.LEAST_OPEN_WORK)
    ann = TeamMembershipFactory(team=team, user=UserFactory(username="ann")).user
    bob = TeamMembershipFactory(team=team, user=UserFactory(username="bob")).user
    request_type = task_type(team)
    first = submit(request_type, requester)
    second = submit(request_type, requester)
    assert (first.assignee, second.assignee) == (ann, bob)

    # Bob finishes his task: Ann still has one open, Bob none. Without the counter the tie
    # would go to Ann, who has waited longer since her last assignment.
    services.task_complete(task=second.tasks.get(), actor=bob)
    assert second.tasks.get().status == TaskStatus.COMPLETED

    assert submit(request_type, requester).assignee == bob


def test_a_team_with_nobody_available_leaves_the_request_unassigned(requester):
    team = TeamFactory()
    TeamMembershipFactory(team=team, is_available=False)

    request = submit(task_type(team), requester)

    assert request.assignee is None
    assert request.tasks.get().assignee is None


# --- Tasks and comments ---------------------------------------------------------------------


def test_only_the_assignee_the_team_or_an_admin_completes_a_task(requester):
    team = TeamFactory()
    member = TeamMembershipFactory(team=team).user
    request = submit(task_type(team), requester)

    with pytest.raises(PermissionDenied):
        services.task_complete(task=request.tasks.get(), actor=requester)

    services.task_complete(task=request.tasks.get(), actor=member)
    request.refresh_from_db()
    assert request.status == RequestStatus.CLOSED


def test_a_stranger_cannot_comment_on_a_request(requester):
    request = submit(task_type(TeamFactory()), requester)

    with pytest.raises(PermissionDenied):
        services.request_comment(request=request, actor=UserFactory(), text="hello")

    assert not request.timeline.filter(kind="comment").exists()

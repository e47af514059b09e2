"""Who is asked to approve: each approver kind, the requester never, fallbacks and delegations."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.access_requests import services
from apps.access_requests.models import (
    Approval,
    ApprovalStatus,
    ApproverDelegation,
    RequestStatus,
)
from apps.audit.models import SystemLogEvent
from apps.core.statemachine import StateConflict
from apps.directory.models import GroupMembership, UserStatus
from tests.factories import (
    ApplicationFactory,
    ApprovalStepFactory,
    GroupFactory,
    RequestTypeFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def submit(request_type, requester):
    return services.request_submit(request_type=request_type, requester=requester, answers={})


def asked(request) -> set:
    """The people with a pending approval on the request."""
    return {
        approval.approver
        for approval in request.approvals.filter(status=ApprovalStatus.PENDING).select_related(
            "approver"
        )
    }


def type_approved_by(approver_kind, **step_fields):
    request_type = RequestTypeFactory(**step_fields.pop("type_fields", {}))
    ApprovalStepFactory(request_type=request_type, approver_kind=approver_kind, **step_fields)
    return request_type


def team_of(*users):
    team = TeamFactory()
    for user in users:
        TeamMembershipFactory(team=team, user=user)
    return team


def group_of(*users):
    group = GroupFactory()
    for user in users:
        GroupMembership.objects.create(group=group, user=user)
    return group


@pytest.fixture
def requester(db):
    return UserFactory(username="requester")


# --- Each kind resolves to the right people -------------------------------------------------


def test_manager_approval_asks_the_requesters_manager():
    boss = UserFactory()
    alice = UserFactory(manager=boss)

    assert asked(submit(type_approved_by("manager"), alice)) == {boss}


def test_named_user_approval_asks_that_person(requester):
    carol = UserFactory()

    assert asked(submit(type_approved_by("user", approver_user=carol), requester)) == {carol}


def test_team_approval_asks_every_member(requester):
    members = UserFactory.create_batch(3)
    request_type = type_approved_by("team", approver_team=team_of(*members))

    assert asked(submit(request_type, requester)) == set(members)


def test_group_approval_asks_every_member(requester):
    members = UserFactory.create_batch(2)
    request_type = type_approved_by("group", approver_group=group_of(*members))

    assert asked(submit(request_type, requester)) == set(members)


def test_resource_owner_approval_asks_the_owners_of_the_group(requester):
    owners = UserFactory.create_batch(2)
    group = GroupFactory()
    group.owners.set(owners)
    GroupMembership.objects.create(group=group, user=UserFactory())  # a member, not an owner
    request_type = type_approved_by("resource_owner", type_fields={"resource_group": group})

    assert asked(submit(request_type, requester)) == set(owners)


def test_resource_owner_approval_asks_the_owners_of_the_application(requester):
    owner = UserFactory()
    application = ApplicationFactory()
    application.owners.set([owner])
    request_type = type_approved_by(
        "resource_owner", type_fields={"resource_application": application}
    )

    assert asked(submit(request_type, requester)) == {owner}


@pytest.mark.parametrize("status", [UserStatus.SUSPENDED, UserStatus.DEPROVISIONED])
def test_approvers_whose_account_is_not_active_are_skipped(requester, status):
    active, inactive = UserFactory(), UserFactory(status=status)
    team_type = type_approved_by("team", approver_team=team_of(active, inactive))
    group_type = type_approved_by("group", approver_group=group_of(active, inactive))

    assert asked(submit(team_type, requester)) == {active}
    assert asked(submit(group_type, requester)) == {active}


def test_a_suspended_manager_is_skipped_for_the_escalation_target():
    boss = UserFactory(status=UserStatus.SUSPENDED)
    alice = UserFactory(manager=boss)
    stand_in = UserFactory()

    request = submit(type_approved_by("manager", escalation_user=stand_in), alice)

    assert asked(request) == {stand_in}


# --- The requester never approves their own request -----------------------------------------


def test_a_requester_in_the_approving_team_is_not_asked(requester):
    colleagues = UserFactory.create_batch(2)
    request_type = type_approved_by("team", approver_team=team_of(requester, *colleagues))

    request = submit(request_type, requester)

    assert asked(request) == set(colleagues)
    assert not request.approvals.filter(approver=requester).exists()


def test_a_requester_in_the_approving_group_is_not_asked(requester):
    colleague = UserFactory()
    request_type = type_approved_by("group", approver_group=group_of(requester, colleague))

    assert asked(submit(request_type, requester)) == {colleague}


def test_a_requester_who_owns_the_resource_is_not_asked(requester):
    co_owner = UserFactory()
    group = GroupFactory()
    group.owners.set([requester, co_owner])
    request_type = type_approved_by("resource_owner", type_fields={"resource_group": group})

    assert asked(submit(request_type, requester)) == {co_owner}


def test_when_only_the_requester_could_approve_the_escalation_user_decides():
    boss = UserFactory()
    alice = UserFactory(manager=boss)
    stand_in = UserFactory()
    request_type = type_approved_by("user", approver_user=alice, escalation_user=stand_in)

    request = submit(request_type, alice)

    assert asked(request) == {stand_in}
    entry = request.timeline.get(kind="approval_requested")
    assert "Nobody other than the requester can approve this level" in entry.message


def test_without_an_escalation_user_the_approvers_manager_decides():
    boss = UserFactory()
    alice = UserFactory(manager=boss)

    request = submit(type_approved_by("user", approver_user=alice), alice)

    assert asked(request) == {boss}


def test_without_escalation_user_or_manager_the_owning_team_decides(requester):
    handlers = UserFactory.create_batch(2)
    request_type = type_approved_by(
        "user", approver_user=requester, type_fields={"owning_team": team_of(requester, *handlers)}
    )

    assert asked(submit(request_type, requester)) == set(handlers)


def test_without_anyone_else_the_superusers_decide(requester):
    root = UserFactory(is_superuser=True, is_staff=True)
    UserFactory(is_superuser=True, status=UserStatus.SUSPENDED)
    request_type = type_approved_by("user", approver_user=requester)  # its team has no members

    assert asked(submit(request_type, requester)) == {root}


def test_an_escalation_user_who_is_the_requester_is_passed_over():
    boss = UserFactory()
    alice = UserFactory(manager=boss)
    request_type = type_approved_by("user", approver_user=alice, escalation_user=alice)

    assert asked(submit(request_type, alice)) == {boss}


def test_a_manager_level_for_a_requester_without_manager_goes_to_the_owning_team(requester):
    handler = UserFactory()
    request_type = type_approved_by("manager", type_fields={"owning_team": team_of(handler)})

    assert asked(submit(request_type, requester)) == {handler}


def test_the_requester_deciding_their_own_approval_is_refused():
    boss = UserFactory()
    alice = UserFactory(manager=boss)
    request = submit(type_approved_by("manager"), alice)
    # Even if an approval somehow names the requester (set up by hand here), it is refused.
    own = Approval.objects.create(level=request.levels.get(), request=request, approver=alice)

    with pytest.raises(PermissionDenied):
        services.approval_decide(approval=own, actor=alice, approve=True)

    own.refresh_from_db()
    assert own.status == ApprovalStatus.PENDING
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING
    assert not request.timeline.filter(kind="decision").exists()


def test_someone_else_cannot_decide_an_approval_that_is_not_theirs():
    boss = UserFactory()
    alice = UserFactory(manager=boss)
    request = submit(type_approved_by("manager"), alice)

    with pytest.raises(PermissionDenied):
        services.approval_decide(
            approval=request.approvals.get(), actor=UserFactory(), approve=True
        )


# --- Delegation -----------------------------------------------------------------------------


@pytest.fixture
def boss(db):
    return UserFactory(username="boss")


@pytest.fixture
def alice(boss):
    return UserFactory(username="alice", manager=boss)


@pytest.fixture
def deputy(db):
    return UserFactory(username="deputy")


def delegate(boss, deputy, *, starts_in_hours, ends_in_hours):
    now = timezone.now()
    return services.delegation_create(
        approver=boss,
        delegate=deputy,
        starts_at=now + dt.timedelta(hours=starts_in_hours),
        ends_at=now + dt.timedelta(hours=ends_in_hours),
        actor=boss,
        reason="holiday",
    )


def test_an_active_delegation_sends_the_approval_to_the_delegate(alice, boss, deputy):
    delegate(boss, deputy, starts_in_hours=-1, ends_in_hours=24)

    request = submit(type_approved_by("manager"), alice)

    approval = request.approvals.get()
    assert approval.approver == deputy
    assert approval.delegated_from == boss
    assert "delegated their approvals" in request.timeline.get(kind="approval_requested").message
    event = SystemLogEvent.objects.get(event_type="access_request.delegation.created")
    assert event.data["new"]["delegate"] == deputy.pk


@pytest.mark.parametrize(
    ("starts_in_hours", "ends_in_hours"), [(24, 48), (-48, -24)], ids=["not yet", "over"]
)
def test_outside_its_dates_a_delegation_does_not_apply(
    alice, boss, deputy, starts_in_hours, ends_in_hours
):
    now = timezone.now()
    ApproverDelegation.objects.create(  # a past one cannot be created through the service
        approver=boss,
        delegate=deputy,
        starts_at=now + dt.timedelta(hours=starts_in_hours),
        ends_at=now + dt.timedelta(hours=ends_in_hours),
    )

    approval = submit(type_approved_by("manager"), alice).approvals.get()

    assert approval.approver == boss
    assert approval.delegated_from is None


def test_the_delegate_decides_the_delegated_approval(alice, boss, deputy):
    delegate(boss, deputy, starts_in_hours=-1, ends_in_hours=24)
    request = submit(type_approved_by("manager"), alice)

    services.approval_decide(approval=request.approvals.get(), actor=deputy, approve=True)

    request.refresh_from_db()
    assert request.status == RequestStatus.CLOSED


def test_a_delegation_to_the_requester_is_ignored(alice, boss):
    delegate(boss, alice, starts_in_hours=-1, ends_in_hours=24)

    approval = submit(type_approved_by("manager"), alice).approvals.get()

    assert approval.approver == boss


def test_delegating_to_oneself_is_refused(boss):
    with pytest.raises(ValidationError):
        delegate(boss, boss, starts_in_hours=0, ends_in_hours=24)

    assert not ApproverDelegation.objects.exists()
    assert not SystemLogEvent.objects.filter(
        event_type="access_request.delegation.created"
    ).exists()


def test_a_delegation_must_end_after_it_starts(boss, deputy):
    with pytest.raises(ValidationError):
        delegate(boss, deputy, starts_in_hours=24, ends_in_hours=1)

    assert not ApproverDelegation.objects.exists()


def test_only_the_approver_or_an_admin_may_delegate_their_approvals(boss, deputy):
    now = timezone.now()
    with pytest.raises(PermissionDenied):
        services.delegation_create(
            approver=boss,
            delegate=deputy,
            starts_at=now,
            ends_at=now + dt.timedelta(days=1),
            actor=deputy,
        )


def test_a_delegation_that_ends_in_the_past_or_to_an_inactive_person_is_refused(boss, deputy):
    with pytest.raises(ValidationError) as past:
        delegate(boss, deputy, starts_in_hours=-48, ends_in_hours=-24)
    assert "ends_at" in past.value.message_dict
    deputy.status = "suspended"
    deputy.save()
    with pytest.raises(ValidationError) as inactive:
        delegate(boss, deputy, starts_in_hours=-1, ends_in_hours=24)
    assert "delegate" in inactive.value.message_dict
    assert not ApproverDelegation.objects.exists()


def test_ending_a_delegation_sends_new_levels_back_to_the_approver(alice, boss, deputy):
    delegation = delegate(boss, deputy, starts_in_hours=-1, ends_in_hours=24)

    services.delegation_end(delegation=delegation, actor=boss)

    assert submit(type_approved_by("manager"), alice).approvals.get().approver == boss
    assert SystemLogEvent.objects.filter(event_type="access_request.delegation.ended").count() == 1
    with pytest.raises(StateConflict):
        services.delegation_end(delegation=delegation, actor=boss)

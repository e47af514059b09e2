"""The request's state machine, cancelling, and the record every state change leaves behind."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db.models import Max

from apps.access_requests import services
from apps.access_requests.models import (
    REQUEST_LIFECYCLE,
    AccessGrant,
    AccessRequest,
    ApprovalLevel,
    ApprovalStatus,
    GrantStatus,
    LevelStatus,
    RequestStatus,
    TaskStatus,
    TimelineEntry,
)
from apps.audit.models import SystemLogEvent
from apps.core.statemachine import IllegalTransition
from apps.directory.models import GroupMembership
from tests.factories import (
    ApprovalStepFactory,
    GrantStepFactory,
    GroupFactory,
    QuestionStepFactory,
    RequestTypeFactory,
    TaskStepFactory,
    TeamMembershipFactory,
    UserFactory,
)

# What the design documents: verb -> (statuses it may start from, status it ends in).
DOCUMENTED_MOVES = {
    "approve": ({"pending"}, "approved"),
    "deny": ({"pending"}, "denied"),
    "cancel": ({"pending", "approved"}, "canceled"),
    "expire": ({"pending", "approved"}, "expired"),
    "close": ({"approved"}, "closed"),
}
pytestmark = pytest.mark.django_db

EVERY_PAIR = [(verb, status) for verb in DOCUMENTED_MOVES for status in RequestStatus.values]


# --- The table ------------------------------------------------------------------------------


def test_request_lifecycle_has_exactly_the_documented_verbs():
    assert set(REQUEST_LIFECYCLE.moves) == set(DOCUMENTED_MOVES)


@pytest.mark.parametrize(("verb", "current"), EVERY_PAIR)
def test_a_verb_moves_from_its_documented_statuses_and_is_illegal_from_every_other(verb, current):
    sources, destination = DOCUMENTED_MOVES[verb]

    if current in sources:
        assert REQUEST_LIFECYCLE.target(verb, current) == destination
    else:
        with pytest.raises(IllegalTransition) as raised:
            REQUEST_LIFECYCLE.target(verb, current)
        assert (raised.value.verb, raised.value.current) == (verb, current)


@pytest.mark.parametrize("status", ["denied", "canceled", "expired", "closed"])
def test_finished_requests_allow_no_verb(status):
    assert REQUEST_LIFECYCLE.allowed_verbs(status) == []


def test_an_unknown_verb_is_an_error_not_a_no_op():
    with pytest.raises(ValueError, match="no verb 'reopen'"):
        REQUEST_LIFECYCLE.target("reopen", RequestStatus.CLOSED)


# --- Helpers --------------------------------------------------------------------------------


def manager_approved_type(**fields):
    """A type asking one question, then for the requester's manager's approval."""
    request_type = RequestTypeFactory(**fields)
    QuestionStepFactory(request_type=request_type, key="why", required=False)
    ApprovalStepFactory(request_type=request_type, approver_kind="manager")
    return request_type


def last_event_id() -> int:
    return SystemLogEvent.objects.aggregate(last=Max("id"))["last"] or 0


def events_since(mark: int) -> list[str]:
    return list(
        SystemLogEvent.objects.filter(id__gt=mark)
        .order_by("id")
        .values_list("event_type", flat=True)
    )


def timeline(request) -> list[str]:
    return list(request.timeline.order_by("id").values_list("kind", flat=True))


@pytest.fixture
def boss(db):
    return UserFactory(username="boss")


@pytest.fixture
def alice(boss):
    return UserFactory(username="alice", manager=boss)


# --- Illegal moves through the services -----------------------------------------------------


def test_cancelling_a_denied_request_is_illegal_and_changes_nothing(alice, boss):
    request = services.request_submit(
        request_type=manager_approved_type(), requester=alice, answers={}
    )
    services.approval_decide(
        approval=request.approvals.get(), actor=boss, approve=False, comment="Not now."
    )
    entries, mark = TimelineEntry.objects.count(), last_event_id()

    with pytest.raises(IllegalTransition):
        services.request_cancel(request=request, actor=alice)

    assert AccessRequest.objects.get(pk=request.pk).status == RequestStatus.DENIED
    assert TimelineEntry.objects.count() == entries
    assert events_since(mark) == []


def test_cancelling_a_closed_request_is_illegal_and_changes_nothing(alice):
    request_type = RequestTypeFactory()
    QuestionStepFactory(request_type=request_type, key="why")
    request = services.request_submit(
        request_type=request_type, requester=alice, answers={"why": "work"}
    )
    assert request.status == RequestStatus.CLOSED  # nothing to approve, nothing to do
    entries, mark = TimelineEntry.objects.count(), last_event_id()

    with pytest.raises(IllegalTransition):
        services.request_cancel(request=request, actor=alice)

    assert AccessRequest.objects.get(pk=request.pk).status == RequestStatus.CLOSED
    assert TimelineEntry.objects.count() == entries
    assert events_since(mark) == []


# --- Cancel ---------------------------------------------------------------------------------


def test_requester_cancels_a_pending_request_levels_canceled_approvals_superseded(alice, boss):
    request = services.request_submit(
        request_type=manager_approved_type(), requester=alice, answers={}
    )
    mark = last_event_id()

    services.request_cancel(request=request, actor=alice, reason="no longer needed")

    request.refresh_from_db()
    assert request.status == RequestStatus.CANCELED
    assert request.finished_at is not None and request.expires_at is None
    assert ApprovalLevel.objects.get(request=request).status == LevelStatus.CANCELED
    assert request.approvals.get().status == ApprovalStatus.SUPERSEDED
    assert events_since(mark) == ["access_request.canceled"]
    entry = request.timeline.order_by("id").last()
    assert entry.kind == "status" and entry.data == {"old": "pending", "new": "canceled"}
    assert "no longer needed" in entry.message


def test_cancelling_an_approved_request_revokes_its_active_grant(alice, boss):
    group = GroupFactory(name="VPN")
    request_type = manager_approved_type(resource_group=group)
    GrantStepFactory(request_type=request_type)
    TaskStepFactory(request_type=request_type, title="Configure the client")
    request = services.request_submit(request_type=request_type, requester=alice, answers={})
    services.approval_decide(approval=request.approvals.get(), actor=boss, approve=True)
    request.refresh_from_db()
    assert request.status == RequestStatus.APPROVED
    assert GroupMembership.objects.filter(group=group, user=alice).exists()
    mark = last_event_id()

    services.request_cancel(request=request, actor=alice)

    request.refresh_from_db()
    assert request.status == RequestStatus.CANCELED
    grant = AccessGrant.objects.get(request=request)
    assert grant.status == GrantStatus.REVOKED and grant.revoked_at is not None
    assert not GroupMembership.objects.filter(group=group, user=alice).exists()
    assert request.tasks.get().status == TaskStatus.CANCELED
    assert events_since(mark) == [
        "directory.user.removed_from_group",
        "access.grant.revoked",
        "access_request.canceled",
    ]
    assert timeline(request)[-2:] == ["revocation", "status"]


def test_a_stranger_cannot_cancel_a_request(alice):
    request = services.request_submit(
        request_type=manager_approved_type(), requester=alice, answers={}
    )
    stranger = UserFactory()
    entries, mark = TimelineEntry.objects.count(), last_event_id()

    with pytest.raises(PermissionDenied):
        services.request_cancel(request=request, actor=stranger)

    assert AccessRequest.objects.get(pk=request.pk).status == RequestStatus.PENDING
    assert TimelineEntry.objects.count() == entries
    assert events_since(mark) == []


def test_an_admin_may_cancel_someone_elses_request(alice, admin_user):
    request = services.request_submit(
        request_type=manager_approved_type(), requester=alice, answers={}
    )

    services.request_cancel(request=request, actor=admin_user)

    assert AccessRequest.objects.get(pk=request.pk).status == RequestStatus.CANCELED


# --- Every state change leaves a timeline entry and a system log event ----------------------


def test_each_step_of_the_happy_path_writes_its_timeline_entry_and_event(alice, boss):
    carol = UserFactory(username="carol")
    group = GroupFactory(name="CRM admins")
    request_type = manager_approved_type(resource_group=group)
    TeamMembershipFactory(team=request_type.owning_team, user=carol)
    GrantStepFactory(request_type=request_type, duration_days=30)
    TaskStepFactory(request_type=request_type, title="Tell the CRM team")
    mark = last_event_id()

    request = services.request_submit(request_type=request_type, requester=alice, answers={})
    assert timeline(request) == ["submitted", "approval_requested"]
    assert events_since(mark) == ["access_request.created", "access_request.approval.requested"]
    mark = last_event_id()

    services.approval_decide(approval=request.approvals.get(), actor=boss, approve=True)
    assert timeline(request)[2:] == [
        "decision",
        "level_settled",
        "status",  # approved
        "grant",
        "task_created",
    ]
    assert events_since(mark) == [
        "access_request.approval.decided",
        "access_request.approved",
        "directory.user.added_to_group",
        "access.grant.created",
        "access_request.task.created",
    ]
    mark = last_event_id()

    services.task_complete(task=request.tasks.get(), actor=carol, note="done")
    assert timeline(request)[7:] == ["task_completed", "status"]  # closed
    assert events_since(mark) == ["access_request.task.completed", "access_request.closed"]
    statuses = [
        entry.data["new"] for entry in request.timeline.filter(kind="status").order_by("id")
    ]
    assert statuses == ["approved", "closed"]


def test_a_denial_writes_the_decision_and_the_denied_status(alice, boss):
    request = services.request_submit(
        request_type=manager_approved_type(), requester=alice, answers={}
    )
    mark = last_event_id()

    services.approval_decide(
        approval=request.approvals.get(), actor=boss, approve=False, comment="Not now."
    )

    assert timeline(request)[-2:] == ["decision", "status"]
    assert events_since(mark) == ["access_request.approval.decided", "access_request.denied"]
    denied = SystemLogEvent.objects.get(event_type="access_request.denied")
    assert denied.data["old"] == {"status": "pending"}
    assert denied.data["new"] == {"status": "denied"}
    assert denied.actor == boss

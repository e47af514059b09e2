"""The recurring jobs: approval timeouts, time-bound grants, inactivity expiry.

Each job takes an explicit `now=`, so the tests move the clock instead of waiting.
"""

import datetime as dt

import pytest
from django.utils import timezone
from django_q.tasks import async_task

from apps.access_requests import services
from apps.access_requests.models import (
    AccessGrant,
    AccessRequest,
    ApprovalStatus,
    GrantStatus,
    LevelStatus,
    RequestStatus,
    TaskStatus,
)
from apps.audit.models import SystemLogEvent
from apps.directory.models import GroupMembership
from tests.factories import (
    ApprovalStepFactory,
    GrantStepFactory,
    GroupFactory,
    QuestionStepFactory,
    RequestTypeFactory,
    TaskStepFactory,
    UserFactory,
)
from tests.queue import wait_for

H = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def kinds(request, kind) -> int:
    return request.timeline.filter(kind=kind).count()


def event_count(event_type) -> int:
    return SystemLogEvent.objects.filter(event_type=event_type).count()


def submit(request_type, requester, answers=None):
    return services.request_submit(
        request_type=request_type, requester=requester, answers=answers or {}
    )


@pytest.fixture
def boss(db):
    return UserFactory(username="boss")


@pytest.fixture
def alice(boss):
    return UserFactory(username="alice", manager=boss)


# --- Approval timeouts ----------------------------------------------------------------------


@pytest.fixture
def escalation_user(db):
    return UserFactory(username="escalation")


def timed_request(alice, *, on_timeout, escalation_user=None):
    request_type = RequestTypeFactory()
    ApprovalStepFactory(
        request_type=request_type,
        approver_kind="manager",
        timeout_hours=24,
        on_timeout=on_timeout,
        escalation_user=escalation_user,
    )
    request = submit(request_type, alice)
    level = request.levels.get()
    assert level.due_at == level.started_at + 24 * H
    return request, level


@pytest.mark.django_db
def test_an_overdue_level_is_reminded_once_then_escalated(alice, boss, escalation_user):
    request, level = timed_request(alice, on_timeout="escalate", escalation_user=escalation_user)
    start = level.started_at

    assert services.process_approval_timeouts(now=start + 23 * H) == 0
    assert kinds(request, "reminder") == 0

    assert services.process_approval_timeouts(now=start + 25 * H) == 1
    level.refresh_from_db()
    assert level.reminded_at == start + 25 * H
    assert kinds(request, "reminder") == 1
    assert event_count("access_request.approval.reminded") == 1

    assert services.process_approval_timeouts(now=start + 30 * H) == 0
    assert kinds(request, "reminder") == 1
    assert request.approvals.count() == 1
    assert event_count("access_request.approval.reminded") == 1

    assert services.process_approval_timeouts(now=start + 49 * H) == 1
    escalated = request.approvals.get(escalated=True)
    assert escalated.approver == escalation_user
    assert escalated.status == ApprovalStatus.PENDING
    assert request.approvals.get(approver=boss).status == ApprovalStatus.PENDING
    level.refresh_from_db()
    assert level.escalated_at == start + 49 * H
    assert kinds(request, "escalation") == 1
    event = SystemLogEvent.objects.get(event_type="access_request.approval.escalated")
    assert event.data["approvers"] == [escalation_user.pk]

    assert services.process_approval_timeouts(now=start + 100 * H) == 0  # once is enough
    assert request.approvals.count() == 2

    services.approval_decide(approval=escalated, actor=escalation_user, approve=True)
    request.refresh_from_db()
    assert request.status == RequestStatus.CLOSED


@pytest.mark.django_db
def test_without_an_escalation_user_the_approvers_manager_is_asked(alice, boss):
    big_boss = UserFactory(username="big-boss")
    boss.manager = big_boss
    boss.save()
    request, level = timed_request(alice, on_timeout="escalate")
    start = level.started_at

    services.process_approval_timeouts(now=start + 25 * H)
    services.process_approval_timeouts(now=start + 49 * H)

    assert request.approvals.get(escalated=True).approver == big_boss


@pytest.mark.django_db
def test_an_overdue_level_with_deny_on_timeout_denies_the_request(alice, boss):
    request, level = timed_request(alice, on_timeout="deny")
    start = level.started_at

    assert services.process_approval_timeouts(now=start + 25 * H) == 1
    assert services.process_approval_timeouts(now=start + 47 * H) == 0
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING

    assert services.process_approval_timeouts(now=start + 49 * H) == 1

    request.refresh_from_db()
    assert request.status == RequestStatus.DENIED
    level.refresh_from_db()
    assert level.status == LevelStatus.DENIED
    assert request.approvals.get().status == ApprovalStatus.SUPERSEDED
    assert event_count("access_request.denied") == 1
    assert "timed out" in request.timeline.filter(kind="status").last().message


@pytest.mark.django_db
def test_a_decided_level_is_not_reminded(alice, boss, escalation_user):
    request, level = timed_request(alice, on_timeout="escalate", escalation_user=escalation_user)
    services.approval_decide(approval=request.approvals.get(), actor=boss, approve=True)

    assert services.process_approval_timeouts(now=level.started_at + 100 * H) == 0
    assert kinds(request, "reminder") == 0


# --- Time-bound grants ----------------------------------------------------------------------


@pytest.fixture
def vpn(db):
    return GroupFactory(name="VPN")


def granted(alice, vpn, **grant_fields):
    """A request that grants the VPN group at once (no approval), and its grant."""
    request_type = RequestTypeFactory(resource_group=vpn)
    GrantStepFactory(request_type=request_type, **grant_fields)
    request = submit(request_type, alice)
    return request, AccessGrant.objects.get(request=request)


@pytest.mark.django_db
def test_a_grant_with_a_duration_gives_a_membership_that_ends(alice, vpn):
    before = timezone.now()

    request, grant = granted(alice, vpn, duration_days=30)

    membership = GroupMembership.objects.get(group=vpn, user=alice)
    assert grant.group == vpn and grant.user == alice and grant.status == GrantStatus.ACTIVE
    assert before + 30 * DAY <= grant.ends_at <= timezone.now() + 30 * DAY
    assert membership.expires_at == grant.ends_at
    assert membership.source == "request"
    assert kinds(request, "grant") == 1
    assert event_count("access.grant.created") == 1


@pytest.mark.django_db
def test_a_grant_warns_a_day_and_an_hour_before_its_end_once_each(alice, vpn):
    request, grant = granted(alice, vpn, duration_days=30)
    end = grant.ends_at

    assert services.warn_expiring_grants(now=end - 25 * H) == 0
    assert services.warn_expiring_grants(now=end - 23 * H) == 1
    assert services.warn_expiring_grants(now=end - 22 * H) == 0
    assert kinds(request, "grant_warning") == 1

    assert services.warn_expiring_grants(now=end - dt.timedelta(minutes=30)) == 1
    assert services.warn_expiring_grants(now=end - dt.timedelta(minutes=20)) == 0
    assert kinds(request, "grant_warning") == 2
    grant.refresh_from_db()
    assert sorted(grant.warnings_sent) == [3600, 86400]


@pytest.mark.django_db
def test_an_ended_grant_is_revoked_through_the_directory(alice, vpn):
    request, grant = granted(alice, vpn, duration_days=30)
    end = grant.ends_at

    assert services.revoke_expired_access(now=end - dt.timedelta(minutes=1)) == 0
    assert GroupMembership.objects.filter(group=vpn, user=alice).exists()

    assert services.revoke_expired_access(now=end + dt.timedelta(minutes=1)) == 1

    grant.refresh_from_db()
    assert grant.status == GrantStatus.REVOKED and grant.revoked_at is not None
    assert not GroupMembership.objects.filter(group=vpn, user=alice).exists()
    assert event_count("directory.user.removed_from_group") == 1
    assert event_count("access.grant.revoked") == 1
    assert kinds(request, "revocation") == 1
    assert services.revoke_expired_access(now=end + 2 * H) == 0


@pytest.mark.django_db
def test_a_failed_revocation_is_recorded_and_retried_after_its_backoff(alice, vpn, monkeypatch):
    request, grant = granted(alice, vpn, duration_days=30)
    end = grant.ends_at
    real_remove = services.directory.group_remove_member
    calls = []

    def fails_once(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise RuntimeError("directory unavailable")
        return real_remove(**kwargs)

    monkeypatch.setattr(services.directory, "group_remove_member", fails_once)
    first_run = end + dt.timedelta(minutes=1)

    assert services.revoke_expired_access(now=first_run) == 0

    grant.refresh_from_db()
    assert grant.status == GrantStatus.ACTIVE
    assert grant.revoke_attempts == 1
    assert grant.next_attempt_at > first_run
    assert "directory unavailable" in grant.last_error
    assert GroupMembership.objects.filter(group=vpn, user=alice).exists()
    assert kinds(request, "error") == 1
    assert kinds(request, "revocation") == 0
    failed = SystemLogEvent.objects.get(event_type="access.grant.revocation_failed")
    assert failed.outcome == "failure" and failed.data["attempts"] == 1
    assert event_count("access.grant.revoked") == 0

    before_retry = grant.next_attempt_at - dt.timedelta(seconds=1)
    assert services.revoke_expired_access(now=before_retry) == 0
    assert len(calls) == 1  # not tried again before its time

    assert services.revoke_expired_access(now=grant.next_attempt_at) == 1

    grant.refresh_from_db()
    assert grant.status == GrantStatus.REVOKED
    assert len(calls) == 2
    assert not GroupMembership.objects.filter(group=vpn, user=alice).exists()
    assert kinds(request, "revocation") == 1
    assert event_count("access.grant.revoked") == 1


@pytest.mark.django_db
def test_a_grant_with_an_end_date_answer_ends_at_the_end_of_that_day(alice, vpn):
    request_type = RequestTypeFactory(resource_group=vpn)
    QuestionStepFactory(request_type=request_type, key="until", question_type="date")
    GrantStepFactory(request_type=request_type, end_date_key="until")
    last_day = timezone.localdate() + dt.timedelta(days=10)

    request = submit(request_type, alice, {"until": last_day.isoformat()})

    grant = AccessGrant.objects.get(request=request)
    end = timezone.localtime(grant.ends_at)
    assert timezone.localtime(grant.ends_at - dt.timedelta(seconds=1)).date() == last_day
    assert end.date() == last_day + DAY and end.time() == dt.time(0, 0)
    assert GroupMembership.objects.get(group=vpn, user=alice).expires_at == grant.ends_at


@pytest.mark.django_db
def test_a_grant_with_an_end_datetime_answer_ends_at_that_moment(alice, vpn):
    request_type = RequestTypeFactory(resource_group=vpn)
    QuestionStepFactory(request_type=request_type, key="until", question_type="datetime")
    GrantStepFactory(request_type=request_type, end_date_key="until")
    moment = (timezone.now() + 3 * DAY).replace(microsecond=0)

    request = submit(request_type, alice, {"until": moment.isoformat()})

    assert AccessGrant.objects.get(request=request).ends_at == moment


@pytest.mark.django_db
def test_a_grant_without_an_end_is_never_revoked_by_the_schedule(alice, vpn):
    _, grant = granted(alice, vpn)

    assert grant.ends_at is None
    assert services.revoke_expired_access(now=timezone.now() + 3650 * DAY) == 0
    assert services.warn_expiring_grants(now=timezone.now() + 3650 * DAY) == 0


# --- Inactivity expiry ----------------------------------------------------------------------


def inactive_type(**fields):
    return RequestTypeFactory(inactivity_days=60, **fields)


@pytest.mark.django_db
def test_an_inactive_request_is_warned_a_week_and_a_day_before_then_expires(alice, boss):
    request_type = inactive_type()
    ApprovalStepFactory(request_type=request_type, approver_kind="manager")
    request = submit(request_type, alice)
    expires_at = request.expires_at
    assert expires_at == request.last_activity_at + 60 * DAY

    assert services.expire_inactive_requests(now=expires_at - 8 * DAY) == 0
    assert services.expire_inactive_requests(now=expires_at - 7 * DAY) == 1
    assert services.expire_inactive_requests(now=expires_at - 6 * DAY) == 0
    assert kinds(request, "expiry_warning") == 1
    assert services.expire_inactive_requests(now=expires_at - DAY) == 1
    assert services.expire_inactive_requests(now=expires_at - H) == 0
    assert kinds(request, "expiry_warning") == 2

    assert services.expire_inactive_requests(now=expires_at) == 1

    request.refresh_from_db()
    assert request.status == RequestStatus.EXPIRED
    assert request.finished_at is not None and request.expires_at is None
    assert request.levels.get().status == LevelStatus.CANCELED
    assert request.approvals.get().status == ApprovalStatus.SUPERSEDED
    event = SystemLogEvent.objects.get(event_type="access_request.expired")
    assert event.data["new"] == {"status": "expired"}
    assert kinds(request, "status") == 1
    assert services.expire_inactive_requests(now=expires_at + 30 * DAY) == 0


@pytest.mark.django_db
def test_an_approved_request_waiting_on_a_task_expires_and_its_task_is_canceled(alice):
    request_type = inactive_type()
    TaskStepFactory(request_type=request_type, title="Never done")
    request = submit(request_type, alice)
    assert request.status == RequestStatus.APPROVED

    assert services.expire_inactive_requests(now=request.expires_at + H) == 1

    request.refresh_from_db()
    assert request.status == RequestStatus.EXPIRED
    assert request.tasks.get().status == TaskStatus.CANCELED


@pytest.mark.django_db
def test_a_comment_pushes_the_expiry_forward(alice, boss):
    request_type = inactive_type()
    ApprovalStepFactory(request_type=request_type, approver_kind="manager")
    request = submit(request_type, alice)
    now = timezone.now()
    # The request has been quiet for 55 days.
    AccessRequest.objects.filter(pk=request.pk).update(
        last_activity_at=now - 55 * DAY, expires_at=now + 5 * DAY
    )
    assert services.expire_inactive_requests(now=now) == 1  # the 7-day warning
    request.refresh_from_db()
    assert request.expiry_warnings_sent == [7]

    services.request_comment(request=request, actor=alice, text="Any news?")

    request.refresh_from_db()
    assert request.expires_at >= now + 60 * DAY
    assert request.expiry_warnings_sent == []
    assert services.expire_inactive_requests(now=now + 6 * DAY) == 0
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING


@pytest.mark.django_db
def test_a_decision_counts_as_activity(boss, alice):
    carol = UserFactory()
    request_type = inactive_type()
    ApprovalStepFactory(request_type=request_type, approver_kind="manager")
    ApprovalStepFactory(request_type=request_type, approver_kind="user", approver_user=carol)
    request = submit(request_type, alice)
    now = timezone.now()
    AccessRequest.objects.filter(pk=request.pk).update(expires_at=now + DAY)

    services.approval_decide(approval=request.approvals.get(), actor=boss, approve=True)

    request.refresh_from_db()
    assert request.expires_at >= now + 60 * DAY


# --- A real queue ---------------------------------------------------------------------------


@pytest.mark.queue
def test_a_real_worker_revokes_an_ended_grant(queue_cluster):
    alice, vpn = UserFactory(username="alice"), GroupFactory(name="VPN")
    request, grant = granted(alice, vpn, duration_days=1)
    AccessGrant.objects.filter(pk=grant.pk).update(ends_at=timezone.now() - dt.timedelta(minutes=1))

    async_task("apps.access_requests.tasks.grant_expiry")

    wait_for(
        lambda: AccessGrant.objects.get(pk=grant.pk).status == GrantStatus.REVOKED,
        what="the worker to revoke the ended grant",
    )
    assert not GroupMembership.objects.filter(group=vpn, user=alice).exists()
    assert event_count("access.grant.revoked") == 1
    assert kinds(request, "revocation") == 1

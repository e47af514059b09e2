"""Approvers acting at the same moment: real threads, real connections, PostgreSQL row locks.

SQLite lets one writer in at a time (the whole database is locked), so it cannot show the race
these tests are about; they are skipped there and run in CI on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from apps.access_requests import services
from apps.access_requests.models import (
    AccessRequest,
    Approval,
    ApprovalStatus,
    LevelStatus,
    RequestStatus,
)
from apps.audit.models import SystemLogEvent
from tests.factories import (
    ApprovalStepFactory,
    RequestTypeFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: SQLite serialises writers, so it cannot show the race",
    ),
]


def run_together(*calls: Callable[[], object]) -> list[object]:
    """Start each call in its own thread, release them at once, return results or exceptions."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def worker(index: int, call: Callable[[], object]) -> None:
        from django.db import connection as thread_connection

        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as error:
            results[index] = error
        finally:
            thread_connection.close()

    threads = [
        threading.Thread(target=worker, args=(index, call)) for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a decision never finished"
    return results


def team_request(*, members: int, quorum: int):
    """A submitted request waiting for `quorum` approvals from a team of `members`."""
    team = TeamFactory()
    approvers = [TeamMembershipFactory(team=team).user for _ in range(members)]
    request_type = RequestTypeFactory()
    ApprovalStepFactory(
        request_type=request_type, approver_kind="team", approver_team=team, quorum=quorum
    )
    request = services.request_submit(
        request_type=request_type, requester=UserFactory(), answers={}
    )
    approvals = [
        Approval.objects.select_related("request").get(request=request, approver=person)
        for person in approvers
    ]
    return request, approvers, approvals


def decision(approval, person, *, approve=True):
    return lambda: services.approval_decide(
        approval=approval, actor=person, approve=approve, comment="" if approve else "No."
    )


def test_two_approvers_deciding_at_once_on_a_quorum_of_one_decide_once():
    request, (ann, bob), (ann_approval, bob_approval) = team_request(members=2, quorum=1)

    results = run_together(decision(ann_approval, ann), decision(bob_approval, bob))

    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1, results
    assert isinstance(refused[0], ValidationError)
    assert "already settled" in str(refused[0])
    level = request.levels.get()
    assert level.status == LevelStatus.APPROVED
    statuses = sorted(request.approvals.values_list("status", flat=True))
    assert statuses == [ApprovalStatus.APPROVED, ApprovalStatus.SUPERSEDED]
    assert request.timeline.filter(kind="decision").count() == 1
    assert request.timeline.filter(kind="level_settled").count() == 1
    assert SystemLogEvent.objects.filter(event_type="access_request.approval.decided").count() == 1
    assert SystemLogEvent.objects.filter(event_type="access_request.approved").count() == 1
    assert AccessRequest.objects.get(pk=request.pk).status == RequestStatus.CLOSED


def test_an_approval_and_a_denial_at_once_give_exactly_one_outcome():
    request, (ann, bob), (ann_approval, bob_approval) = team_request(members=2, quorum=1)

    results = run_together(
        decision(ann_approval, ann, approve=True), decision(bob_approval, bob, approve=False)
    )

    assert sum(isinstance(r, ValidationError) for r in results) == 1, results
    request.refresh_from_db()
    assert request.status in (RequestStatus.CLOSED, RequestStatus.DENIED)
    assert request.timeline.filter(kind="decision").count() == 1
    finished = SystemLogEvent.objects.filter(
        event_type__in=["access_request.approved", "access_request.denied"]
    )
    assert finished.count() == 1


def test_two_approvals_at_once_on_a_quorum_of_two_both_count_and_settle_the_level_once():
    request, (ann, bob, cat), approvals = team_request(members=3, quorum=2)

    results = run_together(decision(approvals[0], ann), decision(approvals[1], bob))

    assert not any(isinstance(r, Exception) for r in results), results
    level = request.levels.get()
    assert level.status == LevelStatus.APPROVED
    assert request.approvals.get(approver=cat).status == ApprovalStatus.SUPERSEDED
    assert request.timeline.filter(kind="level_settled").count() == 1
    assert AccessRequest.objects.get(pk=request.pk).status == RequestStatus.CLOSED


def test_two_posts_with_one_idempotency_key_at_once_create_one_request():
    from rest_framework.test import APIClient

    from apps.core.models import IdempotencyKey
    from tests.factories import QuestionStepFactory

    requester = UserFactory(manager=UserFactory())
    request_type = RequestTypeFactory()
    QuestionStepFactory(request_type=request_type, key="reason")
    ApprovalStepFactory(request_type=request_type)

    def submit():
        client = APIClient()
        client.force_authenticate(requester)
        return client.post(
            "/api/v1/requests/",
            {"request_type": request_type.pk, "answers": {"reason": "New office"}},
            format="json",
            HTTP_IDEMPOTENCY_KEY="double-click",
        )

    first, second = run_together(submit, submit)

    assert not isinstance(first, Exception), first
    assert not isinstance(second, Exception), second
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert AccessRequest.objects.filter(requester=requester).count() == 1
    assert IdempotencyKey.objects.count() == 1


def test_the_portal_form_posted_twice_at_once_files_one_request():
    from django.test import Client

    from tests.factories import QuestionStepFactory

    requester = UserFactory(manager=UserFactory())
    request_type = RequestTypeFactory()
    QuestionStepFactory(request_type=request_type, key="reason")
    ApprovalStepFactory(request_type=request_type)
    url = f"/catalog/{request_type.pk}/request/"

    def post():
        client = Client()
        client.force_login(requester)
        return client.post(url, {"reason": "New office", "once-token": "one-form"})

    first, second = run_together(post, post)

    assert not isinstance(first, Exception), first
    assert not isinstance(second, Exception), second
    (created,) = AccessRequest.objects.filter(requester=requester)
    assert first.status_code == second.status_code == 302
    assert first.url == second.url == f"/requests/{created.pk}/"

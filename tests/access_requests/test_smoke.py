"""A first end-to-end pass through the engine (the detailed rules have their own tests)."""

import pytest

from apps.access_requests import services
from apps.access_requests.models import (
    AccessRequest,
    ApprovalStatus,
    ApproverKind,
    QuestionType,
    RequestStatus,
    RequestType,
    RequestTypeStatus,
    Step,
    StepKind,
    TaskStatus,
)
from apps.directory.models import GroupMembership
from apps.teams.models import Team, TeamMembership
from tests.factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_submit_approve_grant_task_close():
    boss = UserFactory(username="boss")
    alice = UserFactory(username="alice", manager=boss)
    carol = UserFactory(username="carol")
    team = Team.objects.create(name="Badge Access")
    TeamMembership.objects.create(team=team, user=carol)
    group = GroupFactory(name="VPN")
    rt = RequestType.objects.create(
        name="VPN access", owning_team=team, status=RequestTypeStatus.ACTIVE, resource_group=group
    )
    Step.objects.create(
        request_type=rt,
        position=1,
        kind=StepKind.QUESTION,
        key="why",
        label="Why?",
        question_type=QuestionType.TEXT,
    )
    Step.objects.create(
        request_type=rt, position=2, kind=StepKind.APPROVAL, approver_kind=ApproverKind.MANAGER
    )
    Step.objects.create(
        request_type=rt,
        position=3,
        kind=StepKind.ACTION,
        action_kind="grant_resource",
        duration_days=30,
    )
    Step.objects.create(request_type=rt, position=4, kind=StepKind.TASK, title="Configure VPN")

    request = services.request_submit(request_type=rt, requester=alice, answers={"why": "remote"})
    assert request.status == RequestStatus.PENDING
    assert request.assignee == carol
    approval = request.approvals.get()
    assert approval.approver == boss

    services.approval_decide(approval=approval, actor=boss, approve=True, comment="ok")
    request.refresh_from_db()
    assert request.status == RequestStatus.APPROVED
    assert GroupMembership.objects.get(group=group, user=alice).expires_at is not None
    task = request.tasks.get()
    assert task.status == TaskStatus.OPEN and task.assignee == carol

    services.task_complete(task=task, actor=carol)
    request = AccessRequest.objects.get(pk=request.pk)
    assert request.status == RequestStatus.CLOSED
    assert approval.__class__.objects.get(pk=approval.pk).status == ApprovalStatus.APPROVED
    kinds = list(request.timeline.values_list("kind", flat=True))
    assert kinds[0] == "submitted" and "grant" in kinds and kinds[-1] == "status"

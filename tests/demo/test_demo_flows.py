"""The demo's flows: the badge request briefs its assignee through a delegated flow (delivered
to a real SMTP server), and the classic 'mark group members' flow runs by hand."""

import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from apps.access_requests import services
from apps.access_requests.models import (
    AccessRequest,
    ActionKind,
    RequestStatus,
    RequestType,
    TaskStatus,
    TimelineKind,
)
from apps.directory.models import User
from apps.flows import registry
from apps.flows import services as flows
from apps.flows.models import Flow, FlowKind, FlowRun, RunStatus
from tests.mail import body_parts

pytestmark = pytest.mark.django_db

DEMO_CARDS = ("directory.read_user", "directory.update_profile", "text.compose", "email.send")
BADGE = "Badge access to a building"


@pytest.fixture
def demo(db):
    missing = [key for key in DEMO_CARDS if key not in registry.REGISTRY]
    if missing:
        pytest.fail(
            f"The demo flows need the cards {', '.join(missing)}, which are not registered "
            "(apps/flows/cards/): seed_demo cannot create its flows without them."
        )
    call_command("seed_demo", stdout=io.StringIO())


def test_the_badge_flow_is_delegated_given_to_the_badge_team_and_called_by_the_badge_type(demo):
    flow = Flow.objects.get(name="Badge access")
    assert flow.kind == FlowKind.DELEGATED
    assert [team.name for team in flow.allowed_teams.all()] == ["Badge Access"]
    assert [(i["name"], i["type"]) for i in flow.current_version.inputs] == [
        ("requesterEmail", "text"),
        ("buildingRequested", "text"),
        ("businessJustification", "text"),
        ("assigneeEmail", "text"),
        ("endDate", "datetime"),
        ("requestUrl", "text"),
    ]
    badge = RequestType.objects.get(name=BADGE)
    kinds = list(badge.steps.values_list("kind", "action_kind"))
    assert kinds[-3:] == [("approval", ""), ("action", ActionKind.RUN_DELEGATED_FLOW), ("task", "")]
    assert badge.steps.get(kind="action").flow == flow


def test_badge_journey_the_assignee_is_briefed_by_email_and_closes_the_request(
    demo, smtp_server, django_capture_on_commit_callbacks
):
    alice = User.objects.get(username="alice")
    bob = User.objects.get(username="bob")
    badge = RequestType.objects.get(name=BADGE)

    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_submit(
            request_type=badge,
            requester=alice,
            answers={
                "business_justification": "I look after the new storage racks this quarter.",
                "building": "hq-paris",
                "end_date": "2099-06-30",
            },
        )
    assignee = request.assignee
    assert assignee.username in {"carol", "dave"}
    assert not FlowRun.objects.exists()  # nothing runs before the manager approved
    smtp_server.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.approval_decide(approval=request.approvals.get(), actor=bob, approve=True)

    run = FlowRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.trigger_ref == f"access_request:{request.pk}"
    assert run.inputs["endDate"].startswith("2099-06-30T00:00:00")
    (briefing,) = [
        message
        for message in smtp_server.to(assignee.email)
        if message["Subject"].startswith("Badge access for")
    ]
    assert briefing["To"] == assignee.email
    assert briefing["Subject"] == "Badge access for Alice Durand: HQ Paris"  # the label
    text = body_parts(briefing)["text/plain"]
    assert "Alice Durand (Software Engineer, Engineering) needs badge access to HQ Paris" in text
    assert "until 2099-06-30" in text
    assert "I look after the new storage racks this quarter." in text
    request_url = settings.SITE_URL + reverse("portal:request-detail", args=[request.pk])
    assert f"Open the request in Gatehouse:\n{request_url}\n" in text.replace("\r\n", "\n")

    request = AccessRequest.objects.get(pk=request.pk)
    assert request.status == RequestStatus.APPROVED
    started = request.timeline.get(kind=TimelineKind.ACTION)
    assert started.data["flow_run"] == run.pk
    task = request.tasks.get()
    assert task.status == TaskStatus.OPEN and task.assignee == assignee

    with django_capture_on_commit_callbacks(execute=True):
        services.task_complete(task=task, actor=assignee, note="Badge programmed.")

    assert AccessRequest.objects.get(pk=request.pk).status == RequestStatus.CLOSED


def test_mark_group_members_sets_the_attribute_when_run_by_hand(
    demo, django_capture_on_commit_callbacks
):
    flow = Flow.objects.get(name="Mark group members")
    alice = User.objects.get(username="alice")
    admin = User.objects.get(username="admin")

    with django_capture_on_commit_callbacks(execute=True):
        run = flows.run_enqueue(
            flow=flow,
            inputs={"email": alice.email},
            trigger="manual",
            trigger_ref="demo",
            actor=admin,
        )

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    alice.refresh_from_db()
    assert alice.profile["isMemberOfGroup"] is True

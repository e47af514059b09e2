"""The demo's flows: the badge request briefs its assignee through a delegated flow (delivered
to a real SMTP server), and the scenario flows run by themselves."""

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
from apps.directory import services as directory
from apps.directory.models import Group, User
from apps.flows import registry
from apps.flows import services as flows_services
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


def test_adding_someone_to_a_group_sets_is_member_of_group_by_itself(
    demo, django_capture_on_commit_callbacks
):
    carol = User.objects.get(username="carol")
    admin = User.objects.get(username="admin")
    directory.user_update_profile(user=carol, actor=admin, changes={"isMemberOfGroup": None})
    group = Group.objects.get(name="VPN Users")

    with django_capture_on_commit_callbacks(execute=True):
        directory.group_add_member(group=group, user=carol, actor=admin)

    run = FlowRun.objects.filter(flow__name="Mark group members").latest("id")
    assert run.status == RunStatus.SUCCEEDED, run.error
    carol.refresh_from_db()
    assert carol.profile["isMemberOfGroup"] is True


def test_seed_demo_loads_the_scenarios_enabled_only_where_no_outside_system_is_called(demo):
    scenarios = Flow.objects.filter(folder="Scenarios")
    assert scenarios.count() == 12
    assert set(scenarios.filter(enabled=True).values_list("name", flat=True)) == {
        "Scenario settings",
        "Mark group members",
        "Offboarding: revoke Office 365 sessions",
        "Offboarding: revoke Google Workspace sessions",
        "Temporary memberships: record",
        "Temporary memberships: remove expired",
    }
    call_command("seed_demo", stdout=io.StringIO())  # again: nothing more
    assert Flow.objects.filter(folder="Scenarios").count() == 12


def test_a_demo_seeded_before_the_scenarios_gets_the_event_flow_in_place_of_the_helper(db):
    helper = flows_services.flow_create(
        actor=None,
        name="Mark group members",
        kind=FlowKind.HELPER,
        definition={"inputs": [{"name": "email", "type": "text"}], "cards": []},
    )

    call_command("seed_demo", stdout=io.StringIO())

    flow = Flow.objects.get(pk=helper.pk)
    assert flow.kind == FlowKind.EVENT and flow.enabled
    assert flow.definition["trigger"]["events"] == ["directory.user.added_to_group"]

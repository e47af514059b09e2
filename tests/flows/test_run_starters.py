"""Who started a run: the system log says so when a person starts one, changes a run makes in
the directory name its starter and the run, and one root run cannot fan out without bound."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.audit.models import SystemLogEvent
from apps.directory.models import GroupMembership
from apps.flows import services
from apps.flows.models import FlowRun, RunStatus, Trigger
from tests.factories import GroupFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

ASSIGN = {
    "inputs": [{"name": "token", "type": "text", "required": False}],
    "cards": [{"id": "a", "card": "control.assign", "inputs": {"x": 1}}],
}


def make_flow(name="F", definition=ASSIGN, **fields):
    return services.flow_create(actor=None, name=name, definition=definition, **fields)


def queued_events():
    return list(SystemLogEvent.objects.filter(event_type="flows.run.queued").order_by("id"))


# --- Runs started by a person ---------------------------------------------------------------


def test_a_run_started_through_the_api_is_an_event_with_the_caller_as_actor(admin_user):
    flow = make_flow()
    client = APIClient()
    client.force_authenticate(admin_user)

    response = client.post(
        reverse("flow-run", args=[flow.pk]), {"inputs": {"token": "s3cret"}}, format="json"
    )

    assert response.status_code == 202
    [event] = queued_events()
    run = FlowRun.objects.get()
    assert event.actor == admin_user
    assert (event.target_type, event.target_id) == ("flows.flowrun", str(run.pk))
    assert event.data == {
        "run_id": run.pk,
        "flow": "F",
        "version": 1,
        "trigger": Trigger.API,
        "trigger_ref": "api",
        "inputs": {"token": "***"},
    }


def test_a_run_started_by_hand_in_the_admin_is_an_event(admin_client, admin_user):
    flow = make_flow()

    response = admin_client.post(reverse("admin:flows_flow_run", args=[flow.pk]), {"token": ""})

    assert response.status_code == 302
    [event] = queued_events()
    assert event.actor == admin_user
    assert (event.data["trigger"], event.data["trigger_ref"]) == (Trigger.MANUAL, "admin")


def test_a_re_run_is_an_event_naming_the_run_it_repeats(admin_client, admin_user):
    flow = make_flow()
    first = services.run_now(flow=flow, inputs={})

    response = admin_client.post(reverse("admin:flows_flowrun_rerun", args=[first.pk]))

    assert response.status_code == 302
    [event] = queued_events()
    assert event.actor == admin_user
    assert event.data["trigger"] == Trigger.RERUN
    assert event.data["trigger_ref"] == f"flow_run:{first.pk}"


def test_runs_nobody_started_by_hand_write_no_started_event():
    flow = make_flow(kind="delegated")
    team = TeamFactory()
    flow.allowed_teams.add(team)
    services.start_delegated(flow=flow, inputs={}, trigger_ref="access_request:1", team=team)
    services.run_enqueue(flow=flow, inputs={}, trigger=Trigger.EVENT)
    assert queued_events() == []


# --- Bug 13: directory changes name the run's starter ---------------------------------------


def add_to_group_flow(group):
    helper = make_flow(
        name="add",
        definition={
            "inputs": [{"name": "email", "type": "text"}],
            "cards": [
                {
                    "id": "grant",
                    "card": "directory.add_to_group",
                    "inputs": {"email": "{{ inputs.email }}", "group_id": group.pk},
                }
            ],
        },
    )
    parent = make_flow(
        name="parent",
        definition={
            "inputs": [{"name": "email", "type": "text"}],
            "cards": [
                {
                    "id": "call",
                    "card": "control.call_flow",
                    "inputs": {"flow": "add", "inputs": {"email": "{{ inputs.email }}"}},
                }
            ],
        },
    )
    return helper, parent


def test_directory_changes_of_a_run_name_its_starter_and_the_run(admin_user):
    group, ann = GroupFactory(), UserFactory(email="ann@example.com")
    helper, _ = add_to_group_flow(group)

    run = services.run_now(flow=helper, inputs={"email": ann.email}, actor=admin_user)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert GroupMembership.objects.filter(group=group, user=ann).exists()
    event = SystemLogEvent.objects.get(event_type="directory.user.added_to_group")
    assert event.actor == admin_user and event.actor_display == admin_user.email
    assert event.data["flow_run"] == run.pk
    assert event.correlation_id == run.correlation_id


def test_a_helper_run_acts_for_whoever_started_its_root(admin_user):
    group, ann = GroupFactory(), UserFactory(email="ann@example.com")
    _, parent = add_to_group_flow(group)

    run = services.run_now(flow=parent, inputs={"email": ann.email}, actor=admin_user)

    assert run.status == RunStatus.SUCCEEDED, run.error
    child = FlowRun.objects.get(parent=run)
    assert child.started_by == admin_user and child.root_id == run.pk
    event = SystemLogEvent.objects.get(event_type="directory.user.added_to_group")
    assert event.actor == admin_user and event.data["flow_run"] == child.pk


def test_a_run_nobody_started_changes_the_directory_as_the_system():
    group, ann = GroupFactory(), UserFactory(email="ann@example.com")
    helper, _ = add_to_group_flow(group)

    run = services.run_now(flow=helper, inputs={"email": ann.email}, trigger=Trigger.EVENT)

    event = SystemLogEvent.objects.get(event_type="directory.user.added_to_group")
    assert event.actor is None and event.actor_display == "system"
    assert event.data["flow_run"] == run.pk


# --- Fan-out --------------------------------------------------------------------------------

FAN_OUT = {
    "inputs": [{"name": "level", "type": "number", "required": False}],
    "cards": [
        {
            "id": "spread",
            "card": "control.for_each",
            "inputs": {"items": "{{ [1, 2, 3] }}"},
            "do": [
                {
                    "id": "again",
                    "card": "control.call_flow_async",
                    "inputs": {"flow": "spread", "inputs": {"level": "{{ item }}"}},
                }
            ],
        }
    ],
}


def test_one_root_run_starts_at_most_the_limit_of_helper_runs(
    settings, django_capture_on_commit_callbacks
):
    settings.FLOWS_LIMITS = {"max_runs_per_root": 10}
    flow = make_flow(name="spread", definition=FAN_OUT)

    with django_capture_on_commit_callbacks(execute=True):  # the inline queue runs each child
        root = services.run_now(flow=flow, inputs={})

    runs = FlowRun.objects.all()
    assert runs.count() == 1 + 10  # not 364
    assert set(runs.exclude(pk=root.pk).values_list("root_id", flat=True)) == {root.pk}
    assert FlowRun.objects.get(pk=root.pk).runs_started == 10
    refused = runs.filter(status=RunStatus.FAILED)
    assert refused.exists()
    for run in refused:
        assert run.error == f"run #{root.pk} has already started 10 helper runs in all (limit)"
        assert run.error_card == "again"


def test_helper_runs_waited_for_count_against_the_same_limit(settings):
    settings.FLOWS_LIMITS = {"max_runs_per_root": 2}
    make_flow(name="leaf")
    caller = make_flow(
        name="caller",
        definition={
            "cards": [
                {"id": f"call{n}", "card": "control.call_flow", "inputs": {"flow": "leaf"}}
                for n in range(3)
            ]
        },
    )

    run = services.run_now(flow=caller, inputs={})

    assert run.status == RunStatus.FAILED and run.error_card == "call2"
    assert "already started 2 helper runs in all (limit)" in run.error
    assert FlowRun.objects.filter(parent=run).count() == 2

"""Delegated flows from a request: the typed mapping is checked when it is saved and when it
runs, only the flows given to the owning team can be called, and the call is one-way: the
request moves on at once, whatever the flow does."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from apps.access_requests import chain, services
from apps.access_requests.models import (
    AccessRequest,
    RequestStatus,
    TaskStatus,
    TimelineKind,
)
from apps.audit.models import SystemLogEvent
from apps.flows import services as flows
from apps.flows.models import FlowRun, RunStatus
from tests.access_requests.test_admin import add_page, add_step, chain_errors, post_add
from tests.factories import (
    ApprovalStepFactory,
    DelegatedFlowStepFactory,
    QuestionStepFactory,
    RequestTypeFactory,
    TaskStepFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
    free_type_name,
)

pytestmark = pytest.mark.django_db

STARTED = "access_request.delegated_flow.started"
NOTE = {"id": "note", "card": "control.assign", "inputs": {"seen": "{{ inputs }}"}}


def delegated_flow(name="Notify facilities", *, inputs, cards=(NOTE,), teams=(), **fields):
    """A delegated flow with typed inputs (name: type, or name: (type, required))."""
    declared = []
    for input_name, spec in inputs.items():
        input_type, required = spec if isinstance(spec, tuple) else (spec, True)
        declared.append({"name": input_name, "type": input_type, "required": required})
    flow = flows.flow_create(
        actor=None,
        name=name,
        kind="delegated",
        definition={"inputs": declared, "cards": list(cards)},
        **fields,
    )
    flows.flow_update(flow=flow, actor=None, allowed_teams=list(teams))
    return flow


def attribute(name):
    return {"source": "attribute", "value": name}


def answer(key):
    return {"source": "answer", "value": key}


@pytest.fixture
def team(db):
    team = TeamFactory(name="Badge Access")
    TeamMembershipFactory(team=team, user=UserFactory(username="carol"))
    return team


@pytest.fixture
def people(db):
    bob = UserFactory(username="bob")
    alice = UserFactory(username="alice", manager=bob, first_name="Alice")
    return alice, bob


def badge_type(team, flow, mapping, *, questions=()):
    """A type: the given questions (key, type), the manager's approval, the flow, a task."""
    request_type = RequestTypeFactory(owning_team=team, name=free_type_name("Badge access"))
    for key, question_type in questions:
        QuestionStepFactory(request_type=request_type, key=key, question_type=question_type)
    ApprovalStepFactory(request_type=request_type)
    DelegatedFlowStepFactory(request_type=request_type, flow=flow, flow_inputs=mapping)
    TaskStepFactory(request_type=request_type, title="Program the badge")
    return request_type


def validate(request_type):
    chain.validate_step_chain(request_type, request_type.steps.all())


def chain_messages(request_type) -> str:
    with pytest.raises(ValidationError) as caught:
        validate(request_type)
    return " | ".join(caught.value.messages)


def approve(request, bob, django_capture_on_commit_callbacks):
    """bob approves; the queued work (the flow run, in sync mode) runs on commit."""
    with django_capture_on_commit_callbacks(execute=True):
        services.approval_decide(approval=request.approvals.get(), actor=bob, approve=True)
    return AccessRequest.objects.get(pk=request.pk)


def timeline(request, kind):
    return list(request.timeline.filter(kind=kind).order_by("id"))


# --- Saving the mapping: type by type -------------------------------------------------------


def test_a_date_question_cannot_feed_a_boolean_input(team):
    flow = delegated_flow(inputs={"escorted": "boolean"}, teams=[team])
    request_type = badge_type(
        team, flow, {"escorted": answer("end_date")}, questions=[("end_date", "date")]
    )

    message = chain_messages(request_type)

    assert "the flow input 'escorted' takes boolean" in message
    assert "the date question 'end_date' gives datetime" in message


@pytest.mark.parametrize(
    ("input_type", "question_type", "fits"),
    [
        ("text", "number", True),  # a text input takes any value
        ("text", "boolean", True),
        ("text", "date", True),
        ("text", "user", True),
        ("number", "number", True),
        ("number", "user", True),  # a person's id
        ("number", "text", False),
        ("datetime", "date", True),
        ("datetime", "datetime", True),
        ("datetime", "text", False),
        ("boolean", "boolean", True),
        ("boolean", "options", False),
        ("boolean", "number", False),
    ],
)
def test_the_type_table_of_answers(team, input_type, question_type, fits):
    flow = delegated_flow(inputs={"value": input_type}, teams=[team])
    request_type = badge_type(team, flow, {"value": answer("q")}, questions=[("q", question_type)])
    if question_type == "options":
        request_type.steps.filter(key="q").update(options="a\nb")

    if fits:
        validate(request_type)
    else:
        assert f"the flow input 'value' takes {input_type}" in chain_messages(request_type)


def test_request_attributes_have_types(team):
    flow = delegated_flow(
        inputs={"who": "text", "number": "number", "url": "text", "flag": "boolean"}, teams=[team]
    )
    request_type = badge_type(
        team,
        flow,
        {
            "who": attribute("requester_email"),
            "number": attribute("request_id"),
            "url": attribute("request_url"),
            "flag": attribute("subject"),
        },
    )

    message = chain_messages(request_type)

    assert message.count("the flow input") == 1
    assert "the flow input 'flag' takes boolean, but the attribute 'subject' gives text" in message


def test_an_unmapped_required_input_is_refused_and_an_optional_one_may_stay_unmapped(team):
    flow = delegated_flow(inputs={"requesterEmail": "text", "note": ("text", False)}, teams=[team])
    request_type = badge_type(team, flow, {})

    assert "the flow input 'requesterEmail' is required" in chain_messages(request_type)

    request_type.steps.filter(kind="action").update(
        flow_inputs={"requesterEmail": attribute("requester_email")}
    )
    validate(request_type)


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ({"other": attribute("subject")}, "has no input 'other'"),
        ({"who": attribute("manager_email")}, "unknown attribute 'manager_email'"),
        ({"who": answer("later")}, "'later', which is not an earlier question"),
        ({"who": {"source": "formula", "value": "x"}}, "the source must be 'attribute'"),
        ({"who": "requester_email"}, 'needs {"source": ..., "value": ...}'),
        (["who"], "must be a JSON object"),
    ],
)
def test_a_mapping_must_name_known_inputs_and_sources(team, mapping, expected):
    flow = delegated_flow(inputs={"who": ("text", False)}, teams=[team])
    request_type = badge_type(team, flow, mapping)
    QuestionStepFactory(request_type=request_type, key="later")

    assert expected in chain_messages(request_type)


def test_a_required_input_cannot_take_an_optional_answer(team):
    flow = delegated_flow(inputs={"why": "text"}, teams=[team])
    request_type = badge_type(team, flow, {"why": answer("why")}, questions=[("why", "text")])
    request_type.steps.filter(key="why").update(required=False)

    assert "'why' is required, but the text question 'why' is optional" in chain_messages(
        request_type
    )


def test_the_flow_must_be_delegated_enabled_saved_and_given_to_the_owning_team(team):
    other_team = TeamFactory(name="IT Service Desk")
    not_given = delegated_flow("Not given", inputs={}, teams=[other_team])
    disabled = delegated_flow("Disabled", inputs={}, teams=[team], enabled=False)
    helper = flows.flow_create(actor=None, name="Helper", definition={"cards": []})

    for flow, expected in [
        (not_given, "the owning team may not use the flow Not given"),
        (disabled, "the flow Disabled is disabled"),
        (helper, "the flow Helper is not a delegated flow"),
    ]:
        request_type = badge_type(team, flow, {})
        assert expected in chain_messages(request_type)
    request_type = badge_type(team, None, {})
    assert "choose the delegated flow to run" in chain_messages(request_type)


def test_a_grant_takes_no_flow_and_a_flow_action_no_duration(team):
    flow = delegated_flow(inputs={}, teams=[team])
    request_type = badge_type(team, flow, {})
    request_type.steps.filter(kind="action").update(duration_days=3)

    assert "does not use duration days: clear them" in chain_messages(request_type)


def test_saving_through_the_services_refuses_the_same_mapping(team, admin_user):
    flow = delegated_flow(inputs={"escorted": "boolean"}, teams=[team])
    request_type = badge_type(
        team, flow, {"escorted": answer("end_date")}, questions=[("end_date", "date")]
    )

    with pytest.raises(ValidationError, match="'escorted' takes boolean"):
        services.request_type_record_change(
            request_type=request_type, actor=admin_user, created=False
        )


# --- The admin -------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_the_admin_offers_only_the_flows_given_to_the_owning_team(admin_client, team):
    given = delegated_flow("Given", inputs={}, teams=[team])
    delegated_flow("Not given", inputs={}, teams=[TeamFactory()])
    flows.flow_create(actor=None, name="Helper", definition={"cards": []})
    request_type = badge_type(team, given, {})

    response = admin_client.get(
        reverse("admin:access_requests_requesttype_change", args=[request_type.pk])
    )

    (inline,) = response.context["inline_admin_formsets"]
    action = next(form for form in inline.formset.forms if form.instance.kind == "action")
    assert [str(flow) for flow in action.fields["flow"].queryset] == ["Given"]
    page = response.content.decode()
    assert "field-flow_inputs" in page and 'class="step-action-kind"' in page


def test_the_admin_refuses_a_mistyped_mapping_naming_the_input(admin_client, team):
    flow = delegated_flow(inputs={"escorted": "boolean"}, teams=[team])
    data, prefix = add_page(admin_client, team)
    add_step(data, prefix, kind="question", key="end_date", label="Until?", question_type="date")
    add_step(
        data,
        prefix,
        kind="action",
        action_kind="run_delegated_flow",
        flow=flow.pk,
        flow_inputs='{"escorted": {"source": "answer", "value": "end_date"}}',
    )

    response = post_add(admin_client, data)

    assert response.status_code == 200
    (error,) = chain_errors(response)
    assert "'escorted' takes boolean, but the date question 'end_date' gives datetime" in error


def test_the_admin_saves_a_good_mapping_and_clears_grant_fields(admin_client, team):
    flow = delegated_flow(inputs={"requesterEmail": "text"}, teams=[team])
    data, prefix = add_page(admin_client, team)
    add_step(
        data,
        prefix,
        kind="action",
        action_kind="run_delegated_flow",
        duration_days="5",  # hidden by the page once the action became a flow
        flow=flow.pk,
        flow_inputs='{"requesterEmail": {"source": "attribute", "value": "requester_email"}}',
    )

    response = post_add(admin_client, data)

    assert response.status_code == 302, response.context["errors"]
    from apps.access_requests.models import Step

    step = Step.objects.get(kind="action")
    assert step.flow == flow and step.duration_days is None
    assert step.flow_inputs == {"requesterEmail": attribute("requester_email")}


# --- Running it: value by value, one-way ----------------------------------------------------


def test_the_snapshot_keeps_the_flow_its_mapping_and_its_input_types(team, people):
    alice, _ = people
    flow = delegated_flow(inputs={"requesterEmail": "text", "count": "number"}, teams=[team])
    request_type = badge_type(
        team,
        flow,
        {"requesterEmail": attribute("requester_email"), "count": answer("count")},
        questions=[("count", "number")],
    )

    request = services.request_submit(
        request_type=request_type, requester=alice, answers={"count": 3}
    )

    step = next(s for s in request.steps if s["kind"] == "action")
    assert step["flow"] == flow.pk and step["flow_name"] == "Notify facilities"
    assert step["flow_version"] == 1
    assert step["flow_inputs"] == {
        "requesterEmail": attribute("requester_email"),
        "count": answer("count"),
    }
    assert step["flow_input_types"] == {"requesterEmail": "text", "count": "number"}


def test_the_run_gets_typed_values_and_the_timeline_links_it(
    team, people, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://gatehouse.example"
    alice, bob = people
    cards = [
        {"id": "note", "card": "control.assign", "inputs": {"double": "{{ inputs.count * 2 }}"}}
    ]
    flow = delegated_flow(
        inputs={
            "requesterEmail": "text",
            "assigneeEmail": "text",
            "subject": "text",
            "count": "number",
            "until": "datetime",
            "escorted": "boolean",
            "requestId": "number",
            "url": "text",
            "countAsText": "text",
        },
        cards=cards,
        teams=[team],
    )
    request_type = badge_type(
        team,
        flow,
        {
            "requesterEmail": attribute("requester_email"),
            "assigneeEmail": attribute("assignee_email"),
            "subject": attribute("subject"),
            "count": answer("count"),
            "until": answer("until"),
            "escorted": answer("escorted"),
            "requestId": attribute("request_id"),
            "url": attribute("request_url"),
            "countAsText": answer("count"),
        },
        questions=[("count", "number"), ("until", "date"), ("escorted", "boolean")],
    )
    request = services.request_submit(
        request_type=request_type,
        requester=alice,
        answers={"count": "21", "until": "2099-12-31", "escorted": "yes"},
    )

    request = approve(request, bob, django_capture_on_commit_callbacks)

    run = FlowRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.trigger == "delegated" and run.trigger_ref == f"access_request:{request.pk}"
    assert run.inputs["count"] == 21 and run.inputs["requestId"] == request.pk
    assert run.inputs["countAsText"] == "21"
    assert run.inputs["escorted"] is True
    assert run.inputs["until"].startswith("2099-12-31T00:00:00")  # a date became a datetime
    assert run.inputs["requesterEmail"] == alice.email
    assert run.inputs["assigneeEmail"] == "carol@example.com"
    assert run.inputs["subject"] == request.subject
    assert run.inputs["url"] == f"https://gatehouse.example/requests/{request.pk}/"
    assert run.card_runs.get().outputs == {"double": 42}
    (started,) = timeline(request, TimelineKind.ACTION)
    assert started.message == f"Started delegated flow Notify facilities (run #{run.pk})."
    assert started.data["flow_run"] == run.pk
    event = SystemLogEvent.objects.get(event_type=STARTED)
    assert event.outcome == "success" and event.data["flow_run"] == run.pk


def test_a_value_that_no_longer_fits_fails_the_call_naming_the_field_and_the_request_goes_on(
    team, people, django_capture_on_commit_callbacks
):
    """The flow's author turned a text input into a number after alice submitted: the request
    runs its snapshot (text), the engine checks the version that would run (number)."""
    alice, bob = people
    flow = delegated_flow(inputs={"badgeNumber": "text"}, teams=[team])
    request_type = badge_type(
        team, flow, {"badgeNumber": answer("badge")}, questions=[("badge", "text")]
    )
    request = services.request_submit(
        request_type=request_type, requester=alice, answers={"badge": "abc"}
    )
    flows.flow_save_definition(
        flow=flow,
        actor=None,
        definition={"inputs": [{"name": "badgeNumber", "type": "number"}], "cards": [NOTE]},
    )

    request = approve(request, bob, django_capture_on_commit_callbacks)

    assert not FlowRun.objects.exists()
    (error,) = timeline(request, TimelineKind.ERROR)
    assert "Could not start the delegated flow Notify facilities" in error.message
    assert "badgeNumber: expected a number, got 'abc'" in error.message
    assert error.data["errors"] == {"badgeNumber": ["badgeNumber: expected a number, got 'abc'."]}
    event = SystemLogEvent.objects.get(event_type=STARTED)
    assert event.outcome == "failure" and "badgeNumber" in event.message
    assert request.status == RequestStatus.APPROVED
    assert request.tasks.get().status == TaskStatus.OPEN


def test_a_missing_value_fails_the_call_naming_the_field(
    people, django_capture_on_commit_callbacks
):
    alice, bob = people
    empty_team = TeamFactory(name="Nobody home")  # no member: the request has no assignee
    flow = delegated_flow(inputs={"assigneeEmail": "text"}, teams=[empty_team])
    request_type = badge_type(empty_team, flow, {"assigneeEmail": attribute("assignee_email")})
    request = services.request_submit(request_type=request_type, requester=alice, answers={})

    request = approve(request, bob, django_capture_on_commit_callbacks)

    (error,) = timeline(request, TimelineKind.ERROR)
    assert "assigneeEmail: This input is required" in error.message
    assert not FlowRun.objects.exists()
    assert request.tasks.get().status == TaskStatus.OPEN


def test_a_flow_taken_from_the_team_after_submission_is_refused_at_run(
    team, people, django_capture_on_commit_callbacks
):
    alice, bob = people
    flow = delegated_flow(inputs={"requesterEmail": "text"}, teams=[team])
    request_type = badge_type(team, flow, {"requesterEmail": attribute("requester_email")})
    request = services.request_submit(request_type=request_type, requester=alice, answers={})
    flows.flow_update(flow=flow, actor=None, allowed_teams=[])

    request = approve(request, bob, django_capture_on_commit_callbacks)

    assert not FlowRun.objects.exists()
    (error,) = timeline(request, TimelineKind.ERROR)
    assert "may not run the delegated flow Notify facilities" in error.message
    event = SystemLogEvent.objects.get(event_type=STARTED)
    assert event.outcome == "denied"
    task = request.tasks.get()
    services.task_complete(task=task, actor=task.assignee)
    assert AccessRequest.objects.get(pk=request.pk).status == RequestStatus.CLOSED


def test_a_flow_disabled_after_submission_is_not_started(
    team, people, django_capture_on_commit_callbacks
):
    alice, bob = people
    flow = delegated_flow(inputs={}, teams=[team])
    request = services.request_submit(
        request_type=badge_type(team, flow, {}), requester=alice, answers={}
    )
    flows.flow_update(flow=flow, actor=None, enabled=False)

    request = approve(request, bob, django_capture_on_commit_callbacks)

    (error,) = timeline(request, TimelineKind.ERROR)
    assert "is disabled" in error.message
    assert request.tasks.get().status == TaskStatus.OPEN


def test_one_way_a_failing_flow_never_holds_the_request_back(
    team, people, django_capture_on_commit_callbacks
):
    alice, bob = people
    failing = [{"id": "boom", "card": "control.fail", "inputs": {"message": "badge system down"}}]
    flow = delegated_flow(inputs={"requesterEmail": "text"}, cards=failing, teams=[team])
    request_type = badge_type(team, flow, {"requesterEmail": attribute("requester_email")})
    request = services.request_submit(request_type=request_type, requester=alice, answers={})

    request = approve(request, bob, django_capture_on_commit_callbacks)

    run = FlowRun.objects.get()
    assert run.status == RunStatus.FAILED and "badge system down" in run.error
    failed = SystemLogEvent.objects.get(event_type="flows.run.failed")
    assert failed.data["run_id"] == run.pk and failed.outcome == "failure"
    assert request.status == RequestStatus.APPROVED
    assert not timeline(request, TimelineKind.ERROR)  # nothing comes back from the flow
    task = request.tasks.get()
    assert task.status == TaskStatus.OPEN

    with django_capture_on_commit_callbacks(execute=True):
        services.task_complete(task=task, actor=task.assignee)

    request = AccessRequest.objects.get(pk=request.pk)
    assert request.status == RequestStatus.CLOSED
    kinds = list(request.timeline.values_list("kind", flat=True))
    assert kinds.index(TimelineKind.ACTION) < kinds.index(TimelineKind.TASK_CREATED)


def test_a_flow_run_by_hand_needs_the_permission(team):
    flow = delegated_flow(inputs={}, teams=[team])
    clerk = UserFactory()

    with pytest.raises(PermissionDenied):
        flows.start_delegated(flow=flow, inputs={}, trigger_ref="manual", actor=clerk)

    from django.contrib.auth.models import Permission

    clerk.user_permissions.add(Permission.objects.get(codename="run_delegated_flow"))
    clerk = type(clerk).objects.get(pk=clerk.pk)
    run = flows.start_delegated(flow=flow, inputs={}, trigger_ref="manual", actor=clerk)
    assert run.status == RunStatus.QUEUED


def test_the_admin_request_page_links_the_started_run(
    admin_client, team, people, django_capture_on_commit_callbacks
):
    alice, bob = people
    flow = delegated_flow(inputs={"requesterEmail": "text"}, teams=[team])
    request_type = badge_type(team, flow, {"requesterEmail": attribute("requester_email")})
    request = services.request_submit(request_type=request_type, requester=alice, answers={})
    request = approve(request, bob, django_capture_on_commit_callbacks)
    run = FlowRun.objects.get()

    response = admin_client.get(
        reverse("admin:access_requests_accessrequest_change", args=[request.pk])
    )

    page = response.content.decode()
    assert f'<a href="/admin/flows/flowrun/{run.pk}/change/">flow run #{run.pk}</a>' in page
    assert "run_delegated_flow Notify facilities" in page  # the snapshot's steps


# --- How an answer reads -------------------------------------------------------------------


def test_an_answer_label_feeds_a_text_input_with_what_the_requester_saw(
    team, people, django_capture_on_commit_callbacks
):
    alice, bob = people
    flow = delegated_flow(inputs={"who": "text", "role": "text"}, teams=[team])
    request_type = badge_type(
        team,
        flow,
        {
            "who": {"source": "answer_label", "value": "buddy"},
            "role": {"source": "answer_label", "value": "role"},
        },
        questions=[("buddy", "user"), ("role", "options")],
    )
    request_type.steps.filter(key="role").update(options="ro|Read only\nrw|Read and write")
    validate(request_type)
    buddy = UserFactory(first_name="Dana", last_name="Scully")

    request = services.request_submit(
        request_type=request_type, requester=alice, answers={"buddy": buddy.pk, "role": "rw"}
    )
    approve(request, bob, django_capture_on_commit_callbacks)

    run = FlowRun.objects.get(trigger_ref=f"access_request:{request.pk}")
    assert run.inputs == {"who": "Dana Scully", "role": "Read and write"}
    assert request.answers == {"buddy": buddy.pk, "role": "rw"}  # the values stay as answered


def test_an_answer_label_is_text_so_it_cannot_feed_a_number_input(team):
    flow = delegated_flow(inputs={"count": "number"}, teams=[team])
    request_type = badge_type(
        team,
        flow,
        {"count": {"source": "answer_label", "value": "buddy"}},
        questions=[("buddy", "user")],
    )
    assert "takes number" in chain_messages(request_type)

"""The access-request admin: a type and its steps are saved as one validated chain, each save
raises the version and is logged, and requests are read-only records changed through services."""

from __future__ import annotations

import pytest
from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.access_requests import config_services, services
from apps.access_requests.models import (
    AccessRequest,
    ApproverDelegation,
    ApproverKind,
    QuestionType,
    RequestStatus,
    RequestType,
    RequestTypeStatus,
    Step,
    StepKind,
)
from apps.audit.models import SystemLogEvent
from tests.factories import (
    ApplicationFactory,
    ConfigListFactory,
    ConfigListItemFactory,
    GroupFactory,
    TeamFactory,
    UserFactory,
    free_type_name,
)

pytestmark = pytest.mark.django_db

SAVED = "access_request.request_type.saved"
STATUS_CHANGED = "access_request.request_type.status_changed"

# What a browser posts for a step row whose fields were left alone.
BLANK_STEP = {
    "position": "",
    "kind": "",
    "condition_key": "",
    "condition_operator": "",
    "condition_value": "",
    "key": "",
    "label": "",
    "help_text": "",
    "question_type": "",
    "required": "on",
    "config_list": "",
    "options": "",
    "approver_kind": "",
    "approver_user": "",
    "approver_team": "",
    "approver_group": "",
    "quorum": "1",
    "timeout_hours": "",
    "on_timeout": "",
    "escalation_user": "",
    "action_kind": "",
    "duration_days": "",
    "end_date_key": "",
    "flow": "",
    "flow_inputs": "{}",
    "title": "",
    "instructions": "",
}


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def team(db):
    return TeamFactory(name="Badge Access")


def events(event_type=SAVED):
    return list(SystemLogEvent.objects.filter(event_type=event_type).order_by("id"))


# --- Posting the admin form the way a browser does ------------------------------------------


def _as_posted(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else None
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return str(value)


def _put(data, bound_field):
    value = bound_field.value()
    if value is None and isinstance(
        bound_field.field, (forms.MultipleChoiceField, forms.ModelMultipleChoiceField)
    ):
        return  # nothing selected: a browser posts no value at all
    value = _as_posted(value)
    if value is not None:
        data[bound_field.html_name] = value


def page_data(response) -> dict:
    """Everything the GET page's form and inlines would post back unchanged."""
    assert response.status_code == 200
    data = {"_save": "Save"}
    form = response.context["adminform"].form
    for name in form.fields:
        _put(data, form[name])
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            _put(data, formset.management_form[name])
        for step_form in formset.forms:
            for name in step_form.fields:
                _put(data, step_form[name])
    return data


def steps_prefix(response) -> str:
    (inline,) = response.context["inline_admin_formsets"]
    return inline.formset.prefix


def add_step(data: dict, prefix: str, **values) -> None:
    """Append a new step row, as "Add another Step" does."""
    index = int(data[f"{prefix}-TOTAL_FORMS"])
    for name, value in {**BLANK_STEP, **values}.items():
        if value is not None:
            data[f"{prefix}-{index}-{name}"] = str(value)
    data[f"{prefix}-TOTAL_FORMS"] = str(index + 1)


def add_page(admin_client, team, **type_values):
    response = admin_client.get(reverse("admin:access_requests_requesttype_add"))
    data = page_data(response)
    data.update({"name": "Badge access", "owning_team": str(team.pk), **type_values})
    return data, steps_prefix(response)


def change_page(admin_client, request_type):
    response = admin_client.get(
        reverse("admin:access_requests_requesttype_change", args=[request_type.pk])
    )
    return page_data(response), steps_prefix(response)


def post_add(admin_client, data):
    return admin_client.post(reverse("admin:access_requests_requesttype_add"), data)


def post_change(admin_client, request_type, data):
    return admin_client.post(
        reverse("admin:access_requests_requesttype_change", args=[request_type.pk]), data
    )


def chain_errors(response) -> list[str]:
    (inline,) = response.context["inline_admin_formsets"]
    return list(inline.formset.non_form_errors())


def question(**values):
    return {"kind": StepKind.QUESTION, "question_type": QuestionType.TEXT, **values}


def make_type(team, *, status=RequestTypeStatus.ACTIVE, **values) -> RequestType:
    """A type asking "Why?", then giving its owning team a task."""
    request_type = RequestType.objects.create(
        name=free_type_name("Badge access"), owning_team=team, status=status, **values
    )
    Step.objects.create(
        request_type=request_type,
        position=1,
        kind=StepKind.QUESTION,
        key="why",
        label="Why?",
        question_type=QuestionType.TEXT,
    )
    Step.objects.create(request_type=request_type, position=2, kind=StepKind.TASK, title="Do it")
    return request_type


# --- Adding a request type with its steps ---------------------------------------------------


def test_add_page_loads_the_step_script_and_the_inline(admin_client):
    response = admin_client.get(reverse("admin:access_requests_requesttype_add"))

    assert response.status_code == 200
    assert steps_prefix(response) == "steps"
    assert "access_requests/admin/steps.js" in response.content.decode()
    assert 'class="module aligned step-fields step-kind-approval"' in response.content.decode()


def test_adding_a_type_with_steps_saves_the_chain_in_order_and_logs_it(
    admin_client, admin_user, team
):
    group = GroupFactory(name="VPN")
    data, prefix = add_page(admin_client, team, resource_group=str(group.pk))
    add_step(data, prefix, position=1, **question(key="why", label="Why?"))
    add_step(
        data,
        prefix,
        position=2,
        kind=StepKind.QUESTION,
        key="until",
        label="Until when?",
        question_type=QuestionType.DATE,
    )
    add_step(
        data,
        prefix,
        position=3,
        kind=StepKind.APPROVAL,
        approver_kind=ApproverKind.MANAGER,
        condition_key="why",
        condition_operator="is_set",
    )
    add_step(data, prefix, kind=StepKind.ACTION, action_kind="grant_resource", end_date_key="until")
    add_step(data, prefix, kind=StepKind.TASK, title="Hand over the badge")

    response = post_add(admin_client, data)

    assert response.status_code == 302, response.context["errors"]
    request_type = RequestType.objects.get(name="Badge access")
    assert request_type.version == 1
    assert request_type.status == RequestTypeStatus.DRAFT
    steps = list(request_type.steps.values_list("position", "kind"))
    assert steps == [
        (1, "question"),
        (2, "question"),
        (3, "approval"),
        (4, "action"),  # empty positions: after the last, in the order of the rows
        (5, "task"),
    ]
    (event,) = events()
    assert event.actor_id == admin_user.pk
    assert event.target_id == str(request_type.pk)
    assert event.data == {"old": None, "new": {"version": 1, "status": "draft"}}


def test_fields_of_other_kinds_are_cleared_on_save(admin_client, team):
    data, prefix = add_page(admin_client, team)
    # The row was a question first, then turned into a task: the page hid the question fields.
    add_step(data, prefix, kind=StepKind.TASK, title="Do it", key="stale", label="Stale?")

    response = post_add(admin_client, data)

    assert response.status_code == 302, response.context["errors"]
    step = Step.objects.get()
    assert (step.kind, step.title, step.key, step.label) == ("task", "Do it", "", "")


CHAIN_ERRORS = {
    "condition on a later question": (
        [
            {
                "kind": StepKind.TASK,
                "title": "T",
                "condition_key": "why",
                "condition_operator": "is_set",
            },
            question(key="why", label="Why?"),
        ],
        "Step at position 1 (Task): the condition refers to 'why', which is not an earlier question.",
    ),
    "condition on a missing question": (
        [
            {
                "kind": StepKind.TASK,
                "title": "T",
                "condition_key": "nope",
                "condition_operator": "is_set",
            }
        ],
        "Step at position 1 (Task): the condition refers to 'nope', which is not an earlier question.",
    ),
    "approval by group without a group": (
        [{"kind": StepKind.APPROVAL, "approver_kind": ApproverKind.GROUP}],
        "Step at position 1 (Approval): an approval by any member of a group needs a group.",
    ),
    "resource owner approval without a resource": (
        [{"kind": StepKind.APPROVAL, "approver_kind": ApproverKind.RESOURCE_OWNER}],
        "approval by the resource owner needs a group or application resource.",
    ),
    "grant end date on a question that is not a date": (
        [
            question(key="why", label="Why?"),
            {"kind": StepKind.ACTION, "action_kind": "grant_resource", "end_date_key": "why"},
        ],
        "Step at position 2 (Action): the end date question 'why' is not a date.",
    ),
    "two steps at one position": (
        [
            {"kind": StepKind.TASK, "title": "A", "position": 2},
            {"kind": StepKind.TASK, "title": "B", "position": 2},
        ],
        "position 2 is given to more than one step.",
    ),
}


@pytest.mark.parametrize("case", CHAIN_ERRORS, ids=list(CHAIN_ERRORS))
def test_a_broken_chain_is_a_form_error_and_nothing_is_saved(admin_client, team, case):
    rows, message = CHAIN_ERRORS[case]
    # A group resource for every case but the resource-owner one, which is about its absence.
    resource = {} if "resource owner" in case else {"resource_group": str(GroupFactory().pk)}
    data, prefix = add_page(admin_client, team, **resource)
    for row in rows:
        add_step(data, prefix, **row)

    response = post_add(admin_client, data)

    assert response.status_code == 200
    assert any(message in error for error in chain_errors(response)), chain_errors(response)
    assert message in response.content.decode().replace("&#x27;", "'")
    assert RequestType.objects.count() == 0
    assert Step.objects.count() == 0
    assert events() == []


def test_a_list_the_owning_team_may_not_use_is_refused(admin_client, team):
    other_teams_list = ConfigListFactory()
    other_teams_list.teams.set([TeamFactory()])
    data, prefix = add_page(admin_client, team)
    add_step(
        data,
        prefix,
        **question(
            key="building",
            label="Building",
            question_type=QuestionType.LIST_CHOICE,
            config_list=other_teams_list.pk,
        ),
    )

    response = post_add(admin_client, data)

    assert response.status_code == 200
    assert chain_errors(response) == [
        "Step at position 1 (Question): the owning team may not use this configuration list."
    ]
    assert RequestType.objects.count() == 0


def test_more_than_one_resource_is_a_form_error(admin_client, team):
    group, item = GroupFactory(), ConfigListItemFactory()
    data, prefix = add_page(
        admin_client,
        team,
        resource_group=str(group.pk),
        resource_application=str(ApplicationFactory().pk),
        resource_item=str(item.pk),
    )
    add_step(data, prefix, kind=StepKind.APPROVAL, approver_kind=ApproverKind.GROUP)

    response = post_add(admin_client, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"resource_group", "resource_application", "resource_item"}
    assert "Choose at most one resource" in errors["resource_group"][0]
    # The broken step is judged once the type itself is valid, against its real resource.
    assert chain_errors(response) == []
    assert RequestType.objects.count() == 0


def test_a_restricted_audience_needs_a_group_or_team(admin_client, team):
    data, _prefix = add_page(admin_client, team, audience="restricted")

    response = post_add(admin_client, data)

    assert response.status_code == 200
    assert "audience" in response.context["adminform"].form.errors
    assert RequestType.objects.count() == 0


@pytest.mark.parametrize(
    ("field_name", "make", "term"),
    [
        ("owning_team", lambda: TeamFactory(name="Facilities"), "facil"),
        ("audience_groups", lambda: GroupFactory(name="Engineering"), "engin"),
        ("resource_application", lambda: ApplicationFactory(name="CRM"), "crm"),
        ("resource_item", lambda: ConfigListItemFactory(value="hq", label="Head office"), "head"),
    ],
)
def test_type_fields_search_their_targets(admin_client, field_name, make, term):
    target = make()

    response = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "access_requests",
            "model_name": "requesttype",
            "field_name": field_name,
            "term": term,
        },
    )

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(target.pk)]


# --- Editing a request type -----------------------------------------------------------------


def test_editing_raises_the_version_and_logs_the_change(admin_client, admin_user, team):
    request_type = make_type(team)
    data, prefix = change_page(admin_client, request_type)
    data[f"{prefix}-0-label"] = "What for?"
    add_step(data, prefix, kind=StepKind.APPROVAL, approver_kind=ApproverKind.MANAGER)

    response = post_change(admin_client, request_type, data)

    assert response.status_code == 302, response.context["errors"]
    request_type.refresh_from_db()
    assert request_type.version == 2
    assert list(request_type.steps.values_list("position", "kind", "label")) == [
        (1, "question", "What for?"),
        (2, "task", ""),
        (3, "approval", ""),
    ]
    (event,) = events()
    assert event.actor_id == admin_user.pk
    assert event.data == {"old": {"version": 1}, "new": {"version": 2, "status": "active"}}


def test_deleting_a_step_is_an_edit(admin_client, team):
    request_type = make_type(team)
    data, prefix = change_page(admin_client, request_type)
    data[f"{prefix}-1-DELETE"] = "on"

    response = post_change(admin_client, request_type, data)

    assert response.status_code == 302, response.context["errors"]
    request_type.refresh_from_db()
    assert request_type.version == 2
    assert list(request_type.steps.values_list("kind", flat=True)) == ["question"]


def test_saving_unchanged_keeps_the_version_and_logs_nothing(admin_client, team):
    request_type = make_type(team)
    data, _prefix = change_page(admin_client, request_type)

    response = post_change(admin_client, request_type, data)

    assert response.status_code == 302, response.context["errors"]
    request_type.refresh_from_db()
    assert request_type.version == 1
    assert events() == []


def test_an_edit_that_breaks_the_chain_saves_nothing(admin_client, team):
    request_type = make_type(team)
    data, prefix = change_page(admin_client, request_type)
    data["name"] = "Renamed"
    data[f"{prefix}-0-key"] = "reason"  # the task below still refers to "why"
    data[f"{prefix}-1-condition_key"] = "why"
    data[f"{prefix}-1-condition_operator"] = "is_set"

    response = post_change(admin_client, request_type, data)

    assert response.status_code == 200
    assert chain_errors(response) == [
        "Step at position 2 (Task): the condition refers to 'why', which is not an earlier question."
    ]
    request_type.refresh_from_db()
    assert (request_type.name, request_type.version) == ("Badge access", 1)
    assert list(request_type.steps.values_list("key", "condition_key")) == [("why", ""), ("", "")]
    assert events() == []


def test_a_request_in_flight_keeps_its_snapshot_when_the_type_is_edited(admin_client, team):
    request_type = make_type(team)
    alice = UserFactory()
    request = services.request_submit(
        request_type=request_type, requester=alice, answers={"why": "new job"}
    )
    before = AccessRequest.objects.get(pk=request.pk).snapshot
    data, prefix = change_page(admin_client, request_type)
    data[f"{prefix}-0-label"] = "What for?"
    data[f"{prefix}-1-title"] = "Do it differently"

    response = post_change(admin_client, request_type, data)

    assert response.status_code == 302, response.context["errors"]
    request = AccessRequest.objects.get(pk=request.pk)
    assert request.type_version == 1
    assert request.snapshot == before
    assert request.snapshot["steps"][0]["label"] == "Why?"
    assert request.tasks.get().title == "Do it"
    later = services.request_submit(
        request_type=request_type, requester=alice, answers={"why": "again"}
    )
    assert later.type_version == 2
    assert later.snapshot["steps"][0]["label"] == "What for?"


def test_the_list_question_offers_only_lists_of_the_owning_team(admin_client, team):
    ours, theirs = ConfigListFactory(name="Buildings"), ConfigListFactory(name="Cost centres")
    ours.teams.set([team])
    theirs.teams.set([TeamFactory()])
    request_type = make_type(team)

    response = admin_client.get(
        reverse("admin:access_requests_requesttype_change", args=[request_type.pk])
    )

    (inline,) = response.context["inline_admin_formsets"]
    offered = set(inline.formset.forms[0].fields["config_list"].queryset)
    assert offered == {ours}


# --- Activating and disabling ---------------------------------------------------------------


def run_action(admin_client, model, action, objects):
    return admin_client.post(
        reverse(f"admin:access_requests_{model}_changelist"),
        {"action": action, "_selected_action": [obj.pk for obj in objects]},
        follow=True,
    )


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_activate_and_disable_actions_go_through_the_service(admin_client, admin_user, team):
    request_type = make_type(team, status=RequestTypeStatus.DRAFT)

    run_action(admin_client, "requesttype", "make_active", [request_type])
    request_type.refresh_from_db()
    assert (request_type.status, request_type.version) == ("active", 1)

    run_action(admin_client, "requesttype", "make_disabled", [request_type])
    request_type.refresh_from_db()
    assert request_type.status == "disabled"
    assert [(e.data["old"], e.data["new"], e.actor_id) for e in events(STATUS_CHANGED)] == [
        ({"status": "draft"}, {"status": "active"}, admin_user.pk),
        ({"status": "active"}, {"status": "disabled"}, admin_user.pk),
    ]


def test_activating_a_type_whose_chain_went_stale_is_refused_with_a_message(admin_client, team):
    buildings = ConfigListFactory()
    buildings.teams.set([team])
    request_type = make_type(team, status=RequestTypeStatus.DRAFT)
    Step.objects.create(
        request_type=request_type,
        position=3,
        kind=StepKind.QUESTION,
        key="building",
        label="Building",
        question_type=QuestionType.LIST_CHOICE,
        config_list=buildings,
    )
    buildings.teams.clear()  # the team lost the list after the type was saved

    response = run_action(admin_client, "requesttype", "make_active", [request_type])

    assert any("may not use this configuration list" in m for m in page_messages(response))
    request_type.refresh_from_db()
    assert request_type.status == "draft"
    assert events(STATUS_CHANGED) == []
    config_services.request_type_set_status(
        request_type=request_type, actor=None, status=RequestTypeStatus.DISABLED
    )  # closing it stays possible


def test_request_types_are_not_deleted_in_the_admin(admin_client, team):
    request_type = make_type(team)

    response = admin_client.get(
        reverse("admin:access_requests_requesttype_delete", args=[request_type.pk])
    )

    assert response.status_code == 403


# --- Requests -------------------------------------------------------------------------------


def submit_requests(request_type, count):
    return [
        services.request_submit(
            request_type=request_type, requester=UserFactory(), answers={"why": f"reason {n}"}
        )
        for n in range(count)
    ]


def test_request_changelist_costs_the_same_queries_for_3_and_25_requests(admin_client, team):
    request_type = make_type(team)
    url = reverse("admin:access_requests_accessrequest_changelist")
    submit_requests(request_type, 3)
    admin_client.get(url)  # warm caches (content types, sessions)

    with CaptureQueriesContext(connection) as few:
        response = admin_client.get(url)
    assert response.status_code == 200
    submit_requests(request_type, 22)
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url)

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 25  # one full page
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def submit_records(team, count):
    """`count` requests that each leave an approval, a task and a grant behind."""
    granting = make_type(team, resource_group=GroupFactory())
    Step.objects.create(
        request_type=granting, position=3, kind=StepKind.ACTION, action_kind="grant_resource"
    )
    approving = make_type(team)
    Step.objects.create(
        request_type=approving,
        position=3,
        kind=StepKind.APPROVAL,
        approver_kind=ApproverKind.MANAGER,
    )
    Step.objects.filter(kind=StepKind.TASK).update(position=4)  # after the new steps
    for n in range(count):
        requester = UserFactory(manager=UserFactory())
        for request_type in (granting, approving):
            services.request_submit(
                request_type=request_type, requester=requester, answers={"why": f"reason {n}"}
            )


@pytest.mark.parametrize("model", ["approval", "task", "accessgrant"])
def test_record_lists_cost_the_same_queries_for_2_and_6_requests(admin_client, team, model):
    url = reverse(f"admin:access_requests_{model}_changelist")
    submit_records(team, 2)
    admin_client.get(url)

    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    submit_records(team, 4)
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url)

    assert len(response.context["cl"].result_list) >= 6
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_request_pages_are_read_only_and_show_answers_snapshot_and_records(admin_client, team):
    request_type = make_type(team)
    (request,) = submit_requests(request_type, 1)

    response = admin_client.get(
        reverse("admin:access_requests_accessrequest_change", args=[request.pk])
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "reason 0" in page and "Why?" in page  # the answer under its question's label
    assert "Badge access (version 1)" in page
    assert "Do it" in page  # the task inline
    assert "Submitted (request type version 1)." in page  # the timeline inline
    assert 'name="_save"' not in page
    add_url = reverse("admin:access_requests_accessrequest_add")
    assert admin_client.get(add_url).status_code == 403
    delete_url = reverse("admin:access_requests_accessrequest_delete", args=[request.pk])
    assert admin_client.get(delete_url).status_code == 403


def test_cancel_action_cancels_through_the_service(admin_client, team):
    request_type = make_type(team)
    first, second = submit_requests(request_type, 2)

    response = run_action(admin_client, "accessrequest", "cancel_requests", [first, second])

    assert "Canceled 2 request(s)." in page_messages(response)
    statuses = AccessRequest.objects.values_list("status", flat=True)
    assert set(statuses) == {RequestStatus.CANCELED}
    assert len(events("access_request.canceled")) == 2


def test_canceling_a_finished_request_shows_a_message_instead_of_failing(admin_client, team):
    request_type = make_type(team)
    done, open_one = submit_requests(request_type, 2)
    run_action(admin_client, "accessrequest", "cancel_requests", [done])

    response = run_action(admin_client, "accessrequest", "cancel_requests", [done, open_one])

    assert response.status_code == 200
    shown = page_messages(response)
    assert any(m.startswith(f"#{done.pk}: Cannot cancel") for m in shown), shown
    assert "Canceled 1 request(s)." in shown
    open_one.refresh_from_db()
    assert open_one.status == RequestStatus.CANCELED


def test_record_lists_render(admin_client, team):
    request_type = make_type(team)
    submit_requests(request_type, 2)

    for model in ("approval", "task", "accessgrant", "approverdelegation", "requesttype"):
        url = reverse(f"admin:access_requests_{model}_changelist")
        assert admin_client.get(url).status_code == 200, model
    assert admin_client.get(reverse("admin:access_requests_task_add")).status_code == 403


# --- Delegations ----------------------------------------------------------------------------


def delegation_data(approver, delegate, *, start="2030-01-01", end="2030-01-10"):
    return {
        "approver": approver.pk,
        "delegate": delegate.pk,
        "starts_at_0": start,
        "starts_at_1": "09:00:00",
        "ends_at_0": end,
        "ends_at_1": "18:00:00",
        "reason": "Holiday",
        "_save": "Save",
    }


def test_adding_a_delegation_goes_through_the_service(admin_client, admin_user):
    approver, delegate = UserFactory(), UserFactory()

    response = admin_client.post(
        reverse("admin:access_requests_approverdelegation_add"),
        delegation_data(approver, delegate),
    )

    assert response.status_code == 302, response.context["errors"]
    delegation = ApproverDelegation.objects.get()
    assert (delegation.approver, delegation.delegate) == (approver, delegate)
    (event,) = events("access_request.delegation.created")
    assert event.actor_id == admin_user.pk


@pytest.mark.parametrize(
    ("same_person", "start", "end", "message"),
    [
        (True, "2030-01-01", "2030-01-10", "Choose someone else as delegate."),
        (False, "2030-01-10", "2030-01-01", "The end must come after the start."),
    ],
)
def test_an_invalid_delegation_is_a_form_error(admin_client, same_person, start, end, message):
    approver = UserFactory()
    delegate = approver if same_person else UserFactory()

    response = admin_client.post(
        reverse("admin:access_requests_approverdelegation_add"),
        delegation_data(approver, delegate, start=start, end=end),
    )

    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors)
    assert not ApproverDelegation.objects.exists()
    assert events("access_request.delegation.created") == []


def test_an_overlapping_delegation_is_a_form_error(admin_client):
    approver, delegate, other = UserFactory(), UserFactory(), UserFactory()
    admin_client.post(
        reverse("admin:access_requests_approverdelegation_add"),
        delegation_data(approver, delegate, start="2030-01-01", end="2030-01-10"),
    )

    response = admin_client.post(
        reverse("admin:access_requests_approverdelegation_add"),
        delegation_data(approver, other, start="2030-01-05", end="2030-01-20"),
    )

    assert response.status_code == 200
    assert "already delegated" in str(response.context["adminform"].form.errors)
    assert ApproverDelegation.objects.count() == 1
    assert len(events("access_request.delegation.created")) == 1

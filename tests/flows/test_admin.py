"""The flows admin: definitions validated before anything is saved, versions pinned by runs,
restore, export / import, running by hand, run histories, the card reference."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from apps.audit.models import SystemLogEvent
from apps.flows import registry, services
from apps.flows.models import CardRun, Flow, FlowRun, FlowTable, FlowTableRow, RunStatus, Trigger
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

ASSIGN_V1 = {
    "inputs": [{"name": "who", "type": "text"}],
    "cards": [{"id": "hello", "card": "control.assign", "inputs": {"text": "v1 {{ inputs.who }}"}}],
    "output": "{{ hello.text }}",
}
ASSIGN_V2 = {
    **ASSIGN_V1,
    "cards": [{"id": "hello", "card": "control.assign", "inputs": {"text": "v2 {{ inputs.who }}"}}],
}
# Branches, a loop and a try / catch: what the picture draws as nested blocks.
NESTED = {
    "inputs": [{"name": "xs", "type": "list"}],
    "cards": [
        {
            "id": "loop",
            "card": "control.for_each",
            "inputs": {"items": "{{ inputs.xs }}"},
            "do": [
                {
                    "id": "pick",
                    "card": "control.if",
                    "branches": [
                        {
                            "condition": "{{ item > 10 }}",
                            "cards": [{"id": "huge", "card": "control.assign", "inputs": {"v": 2}}],
                        },
                        {
                            "condition": "{{ item > 1 }}",
                            "cards": [{"id": "big", "card": "control.assign", "inputs": {"v": 1}}],
                        },
                    ],
                    "else": [{"id": "small", "card": "control.assign", "inputs": {"v": 0}}],
                }
            ],
        },
        {
            "id": "guard",
            "card": "control.try",
            "try": [{"id": "boom", "card": "control.fail", "inputs": {"message": "no luck"}}],
            "catch": [
                {"id": "caught", "card": "control.assign", "inputs": {"why": "{{ error.message }}"}}
            ],
        },
    ],
}
DELEGATED = {
    "inputs": [
        {"name": "email", "type": "text"},
        {"name": "count", "type": "number"},
        {"name": "until", "type": "datetime"},
        {"name": "notify", "type": "boolean"},
        {"name": "note", "type": "text", "required": False},
    ],
    "cards": [
        {
            "id": "echo",
            "card": "control.assign",
            "inputs": {"email": "{{ inputs.email }}", "count": "{{ inputs.count }}"},
        }
    ],
    "output": "{{ echo }}",
}


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def make_flow(name="Greeter", definition=ASSIGN_V1, **fields):
    return services.flow_create(actor=None, name=name, definition=definition, **fields)


def form_data(**values):
    """POST data for the flow change form."""
    data = {
        "name": "Greeter",
        "description": "",
        "folder": "",
        "kind": "helper",
        "enabled": "on",
        "save_history": "on",
        "version_note": "",
        "_save": "Save",
    }
    for key, value in values.items():
        data[key] = (
            json.dumps(value) if key == "definition" and not isinstance(value, str) else value
        )
    return data


def staff_with(*codenames):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


# --- Saving definitions ---------------------------------------------------------------------


def test_definition_errors_are_form_errors_and_nothing_is_saved(admin_client):
    bad = {
        "inputs": [],
        "cards": [
            {"id": "a", "card": "control.assign", "inputs": {"x": "{{ later.y }}"}},
            {"id": "b", "card": "no.such_card"},
        ],
    }

    response = admin_client.post(
        reverse("admin:flows_flow_add"), form_data(name="Broken", definition=bad)
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["definition"]
    assert any("refers to 'later'" in message for message in errors)
    assert any("unknown card 'no.such_card'" in message for message in errors)
    assert not Flow.objects.exists()
    assert not SystemLogEvent.objects.filter(event_type__startswith="flows.").exists()


def test_a_bad_definition_on_change_keeps_the_flow_as_it_was(admin_client):
    flow = make_flow()
    url = reverse("admin:flows_flow_change", args=[flow.pk])

    not_json = admin_client.post(url, form_data(definition='{"cards": [', description="new"))
    wrong = admin_client.post(
        url, form_data(definition={"cards": [{"id": "x", "card": "control.fail"}]})
    )

    assert "Enter a valid JSON" in " ".join(not_json.context["adminform"].form.errors["definition"])
    assert "the required input 'message' is missing" in " ".join(
        wrong.context["adminform"].form.errors["definition"]
    )
    flow.refresh_from_db()
    assert flow.versions.count() == 1 and flow.description == ""
    # The bad text is shown back for fixing, not replaced by the saved definition.
    assert escape('{"cards": [') in not_json.content.decode()


def test_adding_a_flow_goes_through_the_services(admin_client, admin_user):
    team = TeamFactory(name="Facilities")

    response = admin_client.post(
        reverse("admin:flows_flow_add"),
        form_data(name="Badge", kind="delegated", definition=DELEGATED, allowed_teams=[team.pk]),
    )

    assert response.status_code == 302
    flow = Flow.objects.get(name="Badge")
    assert flow.current_version.number == 1 and flow.definition == DELEGATED
    assert list(flow.allowed_teams.all()) == [team]
    events = SystemLogEvent.objects.filter(event_type__startswith="flows.").order_by("id")
    assert [e.event_type for e in events] == [
        "flows.flow.created",
        "flows.flow.version_saved",
        "flows.flow.updated",
    ]
    assert {e.actor_id for e in events} == {admin_user.pk}


def test_editing_the_definition_makes_version_2_and_an_earlier_run_keeps_version_1(admin_client):
    flow = make_flow()
    queued = services.run_enqueue(flow=flow, inputs={"who": "Ann"}, trigger=Trigger.MANUAL)

    response = admin_client.post(
        reverse("admin:flows_flow_change", args=[flow.pk]),
        form_data(definition=ASSIGN_V2, version_note="say v2"),
    )

    assert response.status_code == 302
    flow.refresh_from_db()
    assert flow.current_version.number == 2 and flow.current_version.note == "say v2"
    assert flow.current_version.definition == ASSIGN_V2
    queued.refresh_from_db()
    assert queued.version.number == 1
    finished = services.execute(queued)
    assert finished.status == RunStatus.SUCCEEDED and finished.output == "v1 Ann"
    assert services.run_now(flow=flow, inputs={"who": "Bob"}).output == "v2 Bob"


def test_changing_only_fields_saves_no_new_version(admin_client):
    flow = make_flow()

    response = admin_client.post(
        reverse("admin:flows_flow_change", args=[flow.pk]),
        form_data(definition=ASSIGN_V1, description="Says hello", folder="Demo"),
    )

    assert response.status_code == 302
    flow.refresh_from_db()
    assert flow.versions.count() == 1
    assert (flow.description, flow.folder) == ("Says hello", "Demo")
    updated = SystemLogEvent.objects.get(event_type="flows.flow.updated")
    assert updated.data["new"] == {"description": "Says hello", "folder": "Demo"}


def test_a_flow_can_leave_delegated_and_take_object_inputs_in_one_save(admin_client):
    flow = make_flow(name="Mixed", definition=DELEGATED, kind="delegated")
    helper_definition = {**DELEGATED, "inputs": [{"name": "payload", "type": "object"}]}
    helper_definition["cards"] = [
        {"id": "echo", "card": "control.assign", "inputs": {"p": "{{ inputs.payload }}"}}
    ]

    response = admin_client.post(
        reverse("admin:flows_flow_change", args=[flow.pk]),
        form_data(name="Mixed", kind="helper", definition=helper_definition),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    flow.refresh_from_db()
    assert flow.kind == "helper" and flow.current_version.number == 2


def test_restore_makes_version_3_equal_to_version_1(admin_client, admin_user):
    flow = make_flow()
    services.flow_save_definition(flow=flow, actor=None, definition=ASSIGN_V2)
    url = reverse("admin:flows_flow_restore", args=[flow.pk, 1])

    confirm = admin_client.get(url)
    response = admin_client.post(url)

    assert confirm.status_code == 200 and b"Yes, restore version 1" in confirm.content
    assert response.status_code == 302
    flow.refresh_from_db()
    v1, v3 = flow.versions.get(number=1), flow.current_version
    assert v3.number == 3 and v3.definition == v1.definition
    assert v3.note == "restored v1" and v3.created_by == admin_user


def test_the_change_page_draws_the_flow_and_lists_its_versions(admin_client):
    flow = make_flow(name="Nested", definition=NESTED)
    services.flow_save_definition(flow=flow, actor=None, definition={**NESTED, "output": "{{ 1 }}"})

    page = admin_client.get(reverse("admin:flows_flow_change", args=[flow.pk])).content.decode()

    for card_id in ("loop", "pick", "huge", "big", "small", "guard", "boom", "caught"):
        assert f'id="picture-{card_id}"' in page
    assert "For each" in page and "Try / if error" in page and "If / else if / else" in page
    assert "else if" in page and "if an error happens" in page
    assert "{{ item &gt; 10 }}" in page  # conditions are shown, escaped
    assert reverse("admin:flows_flow_version", args=[flow.pk, 1]) in page
    assert reverse("admin:flows_flow_restore", args=[flow.pk, 1]) in page
    assert "flows/admin/flow.css" in page
    assert reverse("flows-card-reference") in page


def test_a_version_page_shows_that_versions_picture(admin_client):
    flow = make_flow()
    services.flow_save_definition(flow=flow, actor=None, definition=NESTED)

    page = admin_client.get(reverse("admin:flows_flow_version", args=[flow.pk, 1]))

    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="picture-hello"' in text and 'id="picture-loop"' not in text
    assert "Restore this version" in text


# --- Export and import ----------------------------------------------------------------------


def export(client, flows) -> list[dict]:
    response = client.post(
        reverse("admin:flows_flow_changelist"),
        {"action": "export_flows", "_selected_action": [flow.pk for flow in flows]},
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    return json.loads(response.content)


def upload(client, document):
    content = document if isinstance(document, bytes) else json.dumps(document).encode()
    return client.post(
        reverse("admin:flows_flow_import"),
        {"file": SimpleUploadedFile("flows.json", content, content_type="application/json")},
    )


def test_export_then_import_round_trips(admin_client):
    facilities, security = TeamFactory(name="Facilities"), TeamFactory(name="Security")
    badge = make_flow(
        name="Badge", definition=DELEGATED, kind="delegated", folder="Access", description="d"
    )
    services.flow_update(flow=badge, actor=None, allowed_teams=[facilities, security])
    nested = make_flow(name="Nested", definition=NESTED, save_history=False, enabled=False)
    before = {
        flow.name: (flow.definition, sorted(flow.allowed_teams.values_list("name", flat=True)))
        for flow in (badge, nested)
    }

    exported = export(admin_client, [badge, nested])
    gone = Flow.objects.filter(pk__in=[badge.pk, nested.pk])
    gone.update(current_version=None)  # a flow's current version is PROTECTed
    gone.delete()
    response = upload(admin_client, exported)

    assert response.status_code == 302
    assert [entry["name"] for entry in exported] == ["Nested", "Badge"]  # folder, then name
    assert exported[1]["allowed_teams"] == ["Facilities", "Security"]
    after = {
        flow.name: (flow.definition, sorted(flow.allowed_teams.values_list("name", flat=True)))
        for flow in Flow.objects.all()
    }
    assert after == before
    imported = Flow.objects.get(name="Nested")
    assert (imported.enabled, imported.save_history, imported.kind) == (False, False, "helper")
    assert Flow.objects.get(name="Badge").folder == "Access"
    assert export(admin_client, Flow.objects.all()) == exported


def test_importing_a_known_name_saves_a_new_version(admin_client):
    flow = make_flow()
    document = [
        {"name": "Greeter", "definition": ASSIGN_V2, "description": "imported"},
        {"name": "Greeter copy", "definition": ASSIGN_V1},
    ]

    response = upload(admin_client, document)

    assert response.status_code == 302
    flow.refresh_from_db()
    assert flow.current_version.number == 2 and flow.current_version.definition == ASSIGN_V2
    assert flow.current_version.note == "imported" and flow.description == "imported"
    assert Flow.objects.get(name="Greeter copy").current_version.number == 1


def test_import_errors_are_listed_by_flow_and_nothing_is_written(admin_client):
    flow = make_flow()
    TeamFactory(name="Facilities")
    document = [
        {"name": "Greeter", "definition": ASSIGN_V2},  # fine on its own
        {"name": "New one", "definition": ASSIGN_V1, "allowed_teams": ["Facilities", "Nobody"]},
        {"name": "Broken", "definition": {"cards": [{"id": "a", "card": "nope.card"}]}},
        {"name": "Odd", "definition": ASSIGN_V1, "kind": "sometimes", "colour": "red"},
    ]
    events_before = SystemLogEvent.objects.count()

    response = upload(admin_client, document)

    assert response.status_code == 200
    errors = response.context["report"].errors
    assert set(errors) == {"New one", "Broken", "Odd"}
    assert errors["New one"] == ["Unknown team 'Nobody'."]
    assert "unknown card 'nope.card'" in errors["Broken"][0]
    assert any("Unknown kind" in e for e in errors["Odd"])
    assert any("Unknown keys: colour" in e for e in errors["Odd"])
    assert b"Nothing was imported" in response.content and b"Unknown team" in response.content
    assert list(Flow.objects.values_list("name", flat=True)) == ["Greeter"]
    flow.refresh_from_db()
    assert flow.versions.count() == 1
    assert SystemLogEvent.objects.count() == events_before


def test_a_file_that_is_not_an_export_is_refused(admin_client):
    not_json = upload(admin_client, b"{nope")
    not_a_list = upload(admin_client, {"name": "x"})

    assert "not valid JSON" in str(not_json.context["form"].errors["file"])
    assert "JSON list of flows" in str(not_a_list.context["form"].errors["file"])
    assert not Flow.objects.exists()


def test_a_write_refused_by_a_service_rolls_back_the_whole_import(admin_client):
    """Errors found only while writing (here: a name too long for the column) undo the rest."""
    document = [
        {"name": "First", "definition": ASSIGN_V1},
        {"name": "x" * 200, "definition": ASSIGN_V1},
    ]

    response = upload(admin_client, document)

    assert response.status_code == 200
    assert "x" * 200 in response.context["report"].errors
    assert not Flow.objects.exists()


# --- Running by hand ------------------------------------------------------------------------


def test_run_now_builds_a_typed_form_and_puts_refused_values_on_their_fields(admin_client):
    flow = make_flow(name="Badge", definition=DELEGATED, kind="delegated")
    url = reverse("admin:flows_flow_run", args=[flow.pk])

    page = admin_client.get(url)
    refused = admin_client.post(
        url, {"email": "ann@example.com", "count": "many", "until": "soon", "notify": ""}
    )

    form = page.context["form"]
    assert type(form.fields["email"]).__name__ == "CharField"
    assert type(form.fields["count"]).__name__ == "DecimalField"
    assert type(form.fields["until"]).__name__ == "DateTimeField"
    assert [value for value, _ in form.fields["notify"].choices] == ["", "true", "false"]
    assert not form.fields["note"].required
    errors = refused.context["form"].errors
    assert set(errors) == {"count", "until", "notify"}
    assert not FlowRun.objects.exists()


def test_run_now_queues_a_delegated_run_and_opens_it(admin_client, admin_user):
    flow = make_flow(name="Badge", definition=DELEGATED, kind="delegated")

    response = admin_client.post(
        reverse("admin:flows_flow_run", args=[flow.pk]),
        {"email": "ann@example.com", "count": "3", "until": "2030-01-02T03:04", "notify": "false"},
    )

    run = FlowRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:flows_flowrun_change", args=[run.pk])
    assert (run.trigger, run.trigger_ref, run.started_by) == (
        Trigger.DELEGATED,
        "admin",
        admin_user,
    )
    assert run.inputs["count"] == 3 and run.inputs["notify"] is False
    assert run.inputs["until"].startswith("2030-01-02T03:04") and run.inputs["note"] is None


def test_a_helper_flow_runs_by_hand_as_a_manual_run_with_json_inputs(admin_client):
    flow = make_flow(name="Helper", definition=NESTED)

    refused = admin_client.post(reverse("admin:flows_flow_run", args=[flow.pk]), {"xs": '{"a": 1}'})
    accepted = admin_client.post(reverse("admin:flows_flow_run", args=[flow.pk]), {"xs": "[1, 5]"})

    assert "expected a list" in str(refused.context["form"].errors["xs"])
    assert accepted.status_code == 302
    run = FlowRun.objects.get()
    assert run.trigger == Trigger.MANUAL and run.inputs == {"xs": [1, 5]}


def test_running_by_hand_needs_the_permission(client):
    delegated = make_flow(name="Badge", definition=DELEGATED, kind="delegated")
    helper = make_flow(name="Helper", definition=ASSIGN_V1)
    viewer = staff_with("view_flow")
    runner = staff_with("view_flow", "run_delegated_flow")

    client.force_login(viewer)
    assert client.get(reverse("admin:flows_flow_run", args=[delegated.pk])).status_code == 403
    change_page = client.get(reverse("admin:flows_flow_change", args=[delegated.pk]))
    assert b"Run now" not in change_page.content
    client.force_login(runner)
    assert client.get(reverse("admin:flows_flow_run", args=[delegated.pk])).status_code == 200
    assert client.get(reverse("admin:flows_flow_run", args=[helper.pk])).status_code == 403
    change_page = client.get(reverse("admin:flows_flow_change", args=[delegated.pk]))
    assert b"Run now" in change_page.content


# --- Runs -----------------------------------------------------------------------------------


def test_the_run_list_costs_the_same_for_3_and_30_runs(admin_client):
    flows = [make_flow(name=f"Flow {n}") for n in range(3)]

    def list_queries(count):
        for n in range(count - FlowRun.objects.count()):
            services.run_enqueue(flow=flows[n % 3], inputs={"who": "x"}, trigger=Trigger.MANUAL)
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(reverse("admin:flows_flowrun_changelist"))
        assert response.status_code == 200
        assert response.context["cl"].result_count == count
        return len(queries)

    assert list_queries(3) == list_queries(30)


def test_the_run_list_filters_by_flow_status_trigger_and_date(admin_client):
    flow = make_flow()
    services.run_enqueue(flow=flow, inputs={"who": "x"}, trigger=Trigger.MANUAL)
    url = reverse("admin:flows_flowrun_changelist")

    response = admin_client.get(
        url,
        {
            "flow__id__exact": flow.pk,
            "status": "queued",
            "trigger": "manual",
            "created_at__gte": "2000-01-01 00:00:00+00:00",
        },
    )

    assert response.status_code == 200 and response.context["cl"].result_count == 1
    assert response.context["cl"].date_hierarchy is None


def test_the_run_page_shows_each_card_and_the_failing_cards_error(admin_client):
    flow = make_flow(
        name="Failing",
        definition={
            "inputs": [{"name": "who", "type": "text"}],
            "cards": [
                {
                    "id": "first",
                    "card": "control.assign",
                    "inputs": {"greeting": "hi {{ inputs.who }}"},
                },
                {
                    "id": "guard",
                    "card": "control.try",
                    "try": [
                        {"id": "inner", "card": "control.fail", "inputs": {"message": "caught <b>"}}
                    ],
                    "catch": [],
                },
                {
                    "id": "explode",
                    "card": "control.fail",
                    "inputs": {"message": "broken on purpose"},
                },
                {"id": "never", "card": "control.assign", "inputs": {"x": 1}},
            ],
        },
    )
    run = services.run_now(flow=flow, inputs={"who": "Ann"})
    assert run.status == RunStatus.FAILED and run.error_card == "explode"

    response = admin_client.get(reverse("admin:flows_flowrun_change", args=[run.pk]))

    page = response.content.decode()
    rows = response.context["card_rows"]
    assert [row["card_run"].card_id for row in rows] == [
        "first",
        "guard",
        "inner",
        "explode",
    ]  # a block before its contents
    assert [row["depth"] for row in rows] == [0, 0, 1, 0]
    assert rows[3]["is_run_error"] and not rows[2]["is_run_error"]
    assert escape('"greeting": "hi Ann"') in page  # outputs, pretty JSON
    assert escape('"message": "broken on purpose"') in page  # inputs
    assert "caught &lt;b&gt;" in page  # escaped
    assert (
        'class="flow-history__row flow-history__row--failed flow-history__row--run-error" id="card-explode"'
        in page
    )
    assert "broken on purpose" in page and 'href="#card-explode"' in page
    assert "failed here" in page  # the picture marks the failing card
    assert reverse("admin:flows_flow_version", args=[flow.pk, 1]) in page
    assert "Re-run with the same inputs" in page and ">Cancel<" not in page
    assert "never" not in [row["card_run"].card_id for row in rows]


def test_a_run_without_history_says_so(admin_client):
    flow = make_flow(save_history=False)
    run = services.run_now(flow=flow, inputs={"who": "Ann"})

    page = admin_client.get(reverse("admin:flows_flowrun_change", args=[run.pk]))

    assert b"History was off" in page.content
    assert not CardRun.objects.exists()


def test_rerun_queues_a_new_run_with_the_same_inputs(admin_client, admin_user):
    flow = make_flow()
    first = services.run_now(flow=flow, inputs={"who": "Ann"})
    services.flow_save_definition(flow=flow, actor=None, definition=ASSIGN_V2)

    response = admin_client.post(reverse("admin:flows_flowrun_rerun", args=[first.pk]))

    again = FlowRun.objects.exclude(pk=first.pk).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:flows_flowrun_change", args=[again.pk])
    assert again.status == RunStatus.QUEUED and again.inputs == first.inputs
    assert (again.trigger, again.trigger_ref) == (Trigger.RERUN, f"flow_run:{first.pk}")
    assert again.version.number == 2 and again.started_by == admin_user
    assert (
        admin_client.get(reverse("admin:flows_flowrun_rerun", args=[first.pk])).status_code == 405
    )


def test_the_rerun_and_cancel_actions_go_through_the_services(admin_client):
    flow = make_flow()
    done = services.run_now(flow=flow, inputs={"who": "Ann"})
    queued = services.run_enqueue(flow=flow, inputs={"who": "Bob"}, trigger=Trigger.MANUAL)
    url = reverse("admin:flows_flowrun_changelist")

    admin_client.post(url, {"action": "rerun_runs", "_selected_action": [done.pk]})
    response = admin_client.post(
        url, {"action": "cancel_runs", "_selected_action": [done.pk, queued.pk]}, follow=True
    )

    assert FlowRun.objects.filter(trigger=Trigger.RERUN, inputs={"who": "Ann"}).count() == 1
    queued.refresh_from_db()
    assert queued.status == RunStatus.CANCELED
    texts = [str(message) for message in response.context["messages"]]
    assert any("Cannot cancel" in text for text in texts)
    assert "Canceled 1 run(s)." in texts


def test_cancel_button_cancels_a_queued_run_and_explains_a_finished_one(admin_client):
    flow = make_flow()
    queued = services.run_enqueue(flow=flow, inputs={"who": "Bob"}, trigger=Trigger.MANUAL)
    page = admin_client.get(reverse("admin:flows_flowrun_change", args=[queued.pk]))
    assert b">Cancel<" in page.content and b"No card has run yet" in page.content

    admin_client.post(reverse("admin:flows_flowrun_cancel", args=[queued.pk]))
    again = admin_client.post(reverse("admin:flows_flowrun_cancel", args=[queued.pk]), follow=True)

    queued.refresh_from_db()
    assert queued.status == RunStatus.CANCELED
    assert any("Cannot cancel" in str(m) for m in again.context["messages"])


def test_runs_cannot_be_added_changed_or_deleted(admin_client):
    flow = make_flow()
    run = services.run_now(flow=flow, inputs={"who": "Ann"})

    assert admin_client.get(reverse("admin:flows_flowrun_add")).status_code == 403
    assert admin_client.get(reverse("admin:flows_flowrun_delete", args=[run.pk])).status_code == 403
    page = admin_client.get(reverse("admin:flows_flowrun_change", args=[run.pk]))
    assert b'name="_save"' not in page.content


# --- Tables and the card reference ----------------------------------------------------------


def test_a_flow_table_shows_its_rows_read_only(admin_client):
    table = FlowTable.objects.create(name="Temporary members")
    FlowTableRow.objects.create(table=table, data={"email": "ann@example.com"})

    page = admin_client.get(reverse("admin:flows_flowtable_change", args=[table.pk]))
    listing = admin_client.get(reverse("admin:flows_flowtable_changelist"))

    assert page.status_code == 200 and b"ann@example.com" in page.content
    assert listing.status_code == 200


def test_the_card_reference_lists_every_registered_card(admin_client):
    response = admin_client.get(reverse("flows-card-reference"))

    assert response.status_code == 200
    page = response.content.decode()
    for key, card_type in registry.REGISTRY.items():
        assert f'id="card-{key}"' in page
        assert escape(card_type.title) in page
        for field in (*card_type.inputs, *card_type.outputs):
            assert f"<code>{field.name}</code>" in page
    assert response.context["card_count"] == len(registry.REGISTRY)
    assert "<code>branches</code>" in page  # blocks of control cards
    email_card = page[page.index('id="card-email.send"') :]
    assert (
        "Run again when a worker is lost:</strong> no: a run lost in it is failed"
        in (email_card[: email_card.index("</article>")])
    )
    http_card = page[page.index('id="card-http.request"') :]
    assert "depending on its inputs" in http_card[: http_card.index("</article>")]
    changelist = admin_client.get(reverse("admin:flows_flow_changelist")).content.decode()
    assert reverse("flows-card-reference") in changelist
    assert reverse("admin:flows_flow_import") in changelist


def test_the_card_reference_needs_the_flow_view_permission(client):
    client.force_login(staff_with())
    assert client.get(reverse("flows-card-reference")).status_code == 403
    client.force_login(staff_with("view_flow"))
    assert client.get(reverse("flows-card-reference")).status_code == 200


def test_the_run_page_shows_a_run_lost_by_its_worker(admin_client):
    flow = make_flow(name="Lost", definition=ASSIGN_V1)
    run = services.run_now(flow=flow, inputs={"who": "Ann"})
    FlowRun.objects.filter(pk=run.pk).update(claims=2, side_effect_card="mail")

    page = admin_client.get(reverse("admin:flows_flowrun_change", args=[run.pk])).content.decode()

    assert "unless it had entered a card that is not idempotent" in page
    assert ">mail<" in page


# --- Loading the scenario flows -------------------------------------------------------------


def test_the_load_scenarios_button_imports_the_shipped_flows_once(admin_client):
    url = reverse("admin:flows_flow_load_scenarios")
    assert (
        'action="' + url + '"'
        in admin_client.get(reverse("admin:flows_flow_changelist")).content.decode()
    )
    assert admin_client.get(url).status_code == 405

    response = admin_client.post(url, follow=True)

    assert "12 created" in response.content.decode()
    assert Flow.objects.filter(folder="Scenarios").count() == 12
    again = admin_client.post(url, follow=True)
    assert "0 created, 12 kept as they were" in again.content.decode()
    assert Flow.objects.count() == 12


def test_loading_the_scenarios_needs_the_rights_to_add_flows_and_profile_attributes(client):
    url = reverse("admin:flows_flow_load_scenarios")
    client.force_login(staff_with("view_flow"))
    assert client.post(url).status_code == 403

    client.force_login(staff_with("view_flow", "add_flow", "change_flow"))
    response = client.post(url, follow=True)
    assert "ask someone who may add profile attributes" in response.content.decode()
    assert not Flow.objects.exists()

"""Triggers in the flows admin and in export / import: form errors naming the trigger's field,
the next run times, and a trigger carried by an export file."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_q.models import Schedule

from apps.flows import services
from apps.flows.models import Flow, FlowKind
from tests.flows.test_admin import export, form_data, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def flow_schedules():
    return Schedule.objects.filter(name__startswith="flows.flow:")


SCHEDULED = {
    "trigger": {"type": "schedule", "cron": "0 6 1 * *", "timezone": "Europe/Paris"},
    "inputs": [],
    "cards": [],
}
EVENT = {
    "trigger": {
        "type": "event",
        "events": ["directory.user.added_to_group"],
        "filters": [{"path": "data.group_name", "op": "equals", "value": "Engineering"}],
    },
    "inputs": [{"name": "data", "type": "object"}],
    "cards": [],
}


def test_a_bad_trigger_is_a_form_error_naming_its_field_and_nothing_is_saved(admin_client):
    bad = {**SCHEDULED, "trigger": {**SCHEDULED["trigger"], "cron": "every monday"}}

    response = admin_client.post(
        reverse("admin:flows_flow_add"), form_data(name="Monthly", kind="scheduled", definition=bad)
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["definition"]
    assert any(message.startswith("trigger.cron: 'every monday'") for message in errors)
    assert not Flow.objects.exists() and not flow_schedules().exists()


def test_a_scheduled_flow_without_a_trigger_is_refused(admin_client):
    response = admin_client.post(
        reverse("admin:flows_flow_add"),
        form_data(name="Monthly", kind="scheduled", definition={"inputs": [], "cards": []}),
    )
    errors = response.context["adminform"].form.errors["definition"]
    assert "trigger: a flow of kind 'scheduled' needs a trigger of type 'schedule'." in errors


def test_adding_a_scheduled_flow_in_the_admin_schedules_it_and_shows_the_next_runs(
    admin_client,
):
    response = admin_client.post(
        reverse("admin:flows_flow_add"),
        form_data(name="Monthly", kind="scheduled", definition=SCHEDULED),
    )
    assert response.status_code == 302
    flow = Flow.objects.get(name="Monthly")
    assert Schedule.objects.filter(name=f"flows.flow:{flow.pk}").exists()

    page = admin_client.get(reverse("admin:flows_flow_change", args=[flow.pk])).content.decode()

    assert "cron 0 6 1 * * (Europe/Paris)" in page
    assert "Next runs (Europe/Paris)" in page
    assert page.count(" 06:00 CE") == 5  # CET or CEST: 06:00 in Paris each time


def test_the_change_page_shows_an_event_flows_events_and_filters(admin_client):
    flow = services.flow_create(actor=None, name="On group", definition=EVENT, kind="event")
    page = admin_client.get(reverse("admin:flows_flow_change", args=[flow.pk])).content.decode()
    assert "On the events directory.user.added_to_group." in page
    assert "<code>data.group_name equals &quot;Engineering&quot;</code>" in page


def test_a_scheduled_flow_becomes_a_helper_in_one_admin_save(admin_client):
    flow = services.flow_create(actor=None, name="Monthly", definition=SCHEDULED, kind="scheduled")

    response = admin_client.post(
        reverse("admin:flows_flow_change", args=[flow.pk]),
        form_data(name="Monthly", kind="helper", definition={"inputs": [], "cards": []}),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    flow.refresh_from_db()
    assert flow.kind == FlowKind.HELPER and "trigger" not in flow.definition
    assert not flow_schedules().exists()


def test_export_and_import_carry_the_trigger_and_the_import_schedules_the_flow(admin_client):
    monthly = services.flow_create(
        actor=None, name="Monthly", definition=SCHEDULED, kind="scheduled"
    )
    on_group = services.flow_create(actor=None, name="On group", definition=EVENT, kind="event")
    exported = export(admin_client, [monthly, on_group])
    assert {entry["name"]: entry["definition"]["trigger"] for entry in exported} == {
        "Monthly": SCHEDULED["trigger"],
        "On group": EVENT["trigger"],
    }
    gone = Flow.objects.all()
    gone.update(current_version=None)
    gone.delete()
    assert not flow_schedules().exists()

    assert upload(admin_client, exported).status_code == 302

    imported = Flow.objects.get(name="Monthly")
    assert imported.definition["trigger"] == SCHEDULED["trigger"]
    assert Schedule.objects.filter(name=f"flows.flow:{imported.pk}").count() == 1
    assert Flow.objects.get(name="On group").definition["trigger"] == EVENT["trigger"]


def test_an_import_with_a_bad_trigger_names_it_and_writes_nothing(admin_client):
    bad = {**EVENT, "trigger": {**EVENT["trigger"], "events": ["directory.user.nope"]}}
    document = [
        {"name": "Good", "kind": "scheduled", "definition": SCHEDULED},
        {"name": "Bad", "kind": "event", "definition": bad},
    ]

    response = upload(admin_client, document)

    assert response.status_code == 200
    errors = response.context["report"].errors
    assert list(errors) == ["Bad"]
    assert errors["Bad"][0].startswith("Definition: trigger.events[0]: no event type")
    assert not Flow.objects.exists() and not flow_schedules().exists()

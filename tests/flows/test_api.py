"""The flows API: who sees which flows, starting a run (202, 400 by input, 403), and reading a
run with its card-by-card history."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from apps.flows import services
from apps.flows.models import FlowRun, RunStatus, Trigger
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DELEGATED = {
    "inputs": [
        {"name": "email", "type": "text"},
        {"name": "count", "type": "number"},
        {"name": "notify", "type": "boolean", "required": False},
    ],
    "cards": [
        {
            "id": "double",
            "card": "control.assign",
            "inputs": {"email": "{{ inputs.email }}", "twice": "{{ inputs.count * 2 }}"},
        },
        {
            "id": "check",
            "card": "control.if",
            "branches": [
                {
                    "condition": "{{ double.twice > 5 }}",
                    "cards": [{"id": "many", "card": "control.assign", "inputs": {"size": "big"}}],
                }
            ],
            "else": [{"id": "few", "card": "control.assign", "inputs": {"size": "small"}}],
        },
    ],
    "output": "{{ double.twice }}",
}
HELPER = {
    "inputs": [{"name": "payload", "type": "object"}],
    "cards": [{"id": "a", "card": "control.assign", "inputs": {"p": "{{ inputs.payload }}"}}],
}


def make_flow(name, definition=DELEGATED, kind="delegated", **fields):
    return services.flow_create(actor=None, name=name, definition=definition, kind=kind, **fields)


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def runner(db):
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="run_delegated_flow"))
    return user


def run_url(flow) -> str:
    return reverse("flow-run", args=[flow.pk])


# --- Listing --------------------------------------------------------------------------------


def test_superusers_see_every_flow_and_runners_the_enabled_delegated_ones(admin_user, runner):
    badge = make_flow("Badge")
    make_flow("Old badge", enabled=False)
    make_flow("Helper", definition=HELPER, kind="helper")

    everything = api(admin_user).get(reverse("flow-list")).json()["results"]
    delegated = api(runner).get(reverse("flow-list")).json()["results"]
    nothing = api(UserFactory()).get(reverse("flow-list"))

    assert {flow["name"] for flow in everything} == {"Badge", "Old badge", "Helper"}
    assert [flow["name"] for flow in delegated] == ["Badge"]
    assert delegated[0] == {
        "id": badge.pk,
        "name": "Badge",
        "description": "",
        "folder": "",
        "kind": "delegated",
        "enabled": True,
        "version": 1,
        "inputs": [
            {"name": "email", "type": "text", "required": True, "description": ""},
            {"name": "count", "type": "number", "required": True, "description": ""},
            {"name": "notify", "type": "boolean", "required": False, "description": ""},
        ],
    }
    assert nothing.status_code == 200 and nothing.json()["results"] == []
    assert APIClient().get(reverse("flow-list")).status_code in (401, 403)


def test_the_flow_list_costs_the_same_for_3_and_30_flows(admin_user):
    client = api(admin_user)

    def queries(count):
        for n in range(count - len(client.get(reverse("flow-list")).json()["results"])):
            make_flow(f"Flow {count}-{n}")
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("flow-list"))
        assert len(response.json()["results"]) == count
        return len(captured)

    assert queries(3) == queries(30)


# --- Running --------------------------------------------------------------------------------


def test_a_run_is_accepted_executes_and_shows_its_card_history(
    runner, django_capture_on_commit_callbacks
):
    flow = make_flow("Badge")

    with django_capture_on_commit_callbacks(execute=True):
        response = api(runner).post(
            run_url(flow), {"inputs": {"email": "ann@example.com", "count": "3"}}, format="json"
        )

    assert response.status_code == 202, response.json()
    body = response.json()
    run = FlowRun.objects.get()
    assert body["run_id"] == run.pk and body["status"] == "queued"
    assert body["url"].endswith(reverse("flow-run-detail", args=[run.pk]))
    assert response["Location"] == body["url"]
    assert (run.trigger, run.trigger_ref, run.started_by) == (Trigger.DELEGATED, "api", runner)

    detail = api(runner).get(body["url"]).json()

    assert detail["status"] == RunStatus.SUCCEEDED
    assert detail["flow"] == {"id": flow.pk, "name": "Badge"}
    assert detail["version"] == 1 and detail["output"] == 6
    assert detail["inputs"] == {"email": "ann@example.com", "count": 3, "notify": None}
    assert detail["error"] == "" and detail["error_card"] == ""
    assert detail["started_at"] and detail["finished_at"]
    cards = detail["cards"]
    assert [(c["sequence"], c["path"], c["depth"], c["card_id"]) for c in cards] == [
        (1, "1", 0, "double"),
        (2, "2", 0, "check"),  # a block comes before the cards it ran
        (3, "2/if1/1", 1, "many"),
    ]
    assert cards[0]["inputs"] == {"email": "ann@example.com", "twice": 6}
    assert cards[0]["outputs"] == {"email": "ann@example.com", "twice": 6}
    assert cards[0]["card_type"] == "control.assign" and cards[0]["succeeded"] is True
    assert detail["cards_executed"] == 3


def test_refused_inputs_answer_400_naming_each_input(runner):
    flow = make_flow("Badge")

    response = api(runner).post(
        run_url(flow),
        {"inputs": {"email": "ann@example.com", "count": "many", "colour": "red"}},
        format="json",
    )

    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"inputs"}
    assert set(errors["inputs"]) == {"count", "colour"}
    assert "expected a number" in errors["inputs"]["count"][0]
    assert errors["inputs"]["colour"] == ["The flow has no such input."]
    assert not FlowRun.objects.exists()


def test_a_missing_input_and_a_malformed_body_answer_400(runner):
    flow = make_flow("Badge")
    client = api(runner)

    missing = client.post(run_url(flow), {"inputs": {"email": "a@b.c"}}, format="json")
    not_an_object = client.post(run_url(flow), {"inputs": ["a"]}, format="json")
    stray_key = client.post(run_url(flow), {"inputs": {}, "email": "a@b.c"}, format="json")

    assert missing.status_code == 400
    assert missing.json() == {"inputs": {"count": ["This input is required."]}}
    assert not_an_object.status_code == 400 and "inputs" in not_an_object.json()
    assert stray_key.status_code == 400 and "email" in stray_key.json()


def test_a_flow_that_cannot_run_answers_400_on_flow(admin_user):
    flow = make_flow("Old badge", enabled=False)

    response = api(admin_user).post(run_url(flow), {"inputs": {}}, format="json")

    assert response.status_code == 400
    assert "disabled" in response.json()["flow"][0]


def test_running_needs_the_permission(runner):
    flow = make_flow("Badge")
    helper = make_flow("Helper", definition=HELPER, kind="helper")
    stranger = UserFactory()

    refused = api(stranger).post(run_url(flow), {"inputs": {}}, format="json")
    hidden = api(runner).post(run_url(helper), {"inputs": {"payload": {}}}, format="json")

    assert refused.status_code == 403
    assert hidden.status_code == 404  # runners see delegated flows only
    assert not FlowRun.objects.exists()


def test_superusers_queue_other_flows_as_api_runs(admin_user, django_capture_on_commit_callbacks):
    helper = make_flow("Helper", definition=HELPER, kind="helper")

    with django_capture_on_commit_callbacks(execute=True):
        response = api(admin_user).post(
            run_url(helper), {"inputs": {"payload": {"a": 1}}}, format="json"
        )

    assert response.status_code == 202
    run = FlowRun.objects.get()
    assert run.trigger == Trigger.API and run.status == RunStatus.SUCCEEDED


# --- Reading runs ---------------------------------------------------------------------------


def test_a_failed_run_names_its_card_and_only_its_starter_or_a_superuser_reads_it(
    runner, admin_user
):
    flow = make_flow(
        "Failing",
        definition={
            "inputs": [],
            "cards": [{"id": "boom", "card": "control.fail", "inputs": {"message": "no luck"}}],
        },
    )
    run = services.execute(
        services.start_delegated(flow=flow, inputs={}, trigger_ref="test", actor=runner)
    )
    url = reverse("flow-run-detail", args=[run.pk])

    mine = api(runner).get(url)
    theirs = api(UserFactory()).get(url)
    everyone = api(admin_user).get(url)

    assert mine.status_code == 200 and everyone.status_code == 200
    assert theirs.status_code == 404
    detail = mine.json()
    assert detail["status"] == "failed" and detail["error_card"] == "boom"
    assert detail["error"] == "no luck"
    assert detail["cards"][0]["succeeded"] is False and detail["cards"][0]["error"] == "no luck"
    assert detail["cards"][0]["outputs"] is None


def test_the_run_detail_costs_the_same_for_few_and_many_cards(admin_user):
    def flow_with(count):
        cards = [
            {"id": f"c{n}", "card": "control.assign", "inputs": {"n": n}} for n in range(count)
        ]
        return make_flow(f"F{count}", definition={"inputs": [], "cards": cards}, kind="helper")

    client = api(admin_user)

    def queries(count):
        run = services.run_now(flow=flow_with(count), inputs={})
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("flow-run-detail", args=[run.pk]))
        assert len(response.json()["cards"]) == count
        return len(captured)

    assert queries(2) == queries(20)

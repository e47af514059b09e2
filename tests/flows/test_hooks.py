"""API-endpoint flows: `POST /api/v1/hooks/{slug}/`, its trigger, its client token, its limit."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.audit.models import SystemLogEvent
from apps.directory import services as directory_services
from apps.flows import hooks, services
from apps.flows.models import ApiEndpoint, CardRun, FlowKind, FlowRun, RunStatus, Trigger
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _hello(slug="hello", **trigger) -> dict:
    return {
        "trigger": {"type": "api", "slug": slug, "synchronous": True, **trigger},
        "inputs": [
            {"name": "name", "type": "text"},
            {"name": "times", "type": "number", "required": False},
        ],
        "cards": [
            {
                "id": "greeting",
                "card": "text.compose",
                "inputs": {"template": "Hello, {{ inputs.name }}!"},
            },
            {
                "id": "reply",
                "card": "control.return",
                "inputs": {"value": {"greeting": "{{ greeting.text }}"}},
            },
        ],
    }


@pytest.fixture(autouse=True)
def _fresh_counters_and_versions():
    cache.clear()
    hooks.clear_version_cache()
    yield
    cache.clear()
    hooks.clear_version_cache()


def _flow(definition=None, name="Hello", **fields):
    return services.flow_create(
        actor=None, name=name, kind=FlowKind.API, definition=definition or _hello(), **fields
    )


def _token(flow) -> str:
    return services.endpoint_rotate_token(endpoint=flow.endpoint, actor=None)


def _call(path="/api/v1/hooks/hello/", body=None, token=None, api_key=None, **extra):
    client = APIClient()
    headers = {}
    if token is not None:
        headers["HTTP_X_API_CLIENT_TOKEN"] = token
    if api_key is not None:
        headers["HTTP_AUTHORIZATION"] = f"Token {api_key}"
    return client.post(path, body if body is not None else {}, format="json", **headers, **extra)


# --- the trigger and the endpoint row -------------------------------------------------------


def test_saving_an_api_trigger_gives_the_flow_its_endpoint_and_a_new_slug_moves_it():
    flow = _flow()
    assert flow.endpoint.slug == "hello"
    services.flow_save_definition(flow=flow, actor=None, definition=_hello(slug="bonjour"))
    assert ApiEndpoint.objects.get(flow=flow).slug == "bonjour"


def test_a_slug_already_used_by_another_flow_is_refused_and_nothing_is_saved():
    _flow()
    with pytest.raises(ValidationError, match="already used by the flow Hello"):
        _flow(name="Other")
    assert ApiEndpoint.objects.count() == 1


@pytest.mark.parametrize(
    "trigger, message",
    [
        ({"type": "api", "slug": "Bad Slug"}, "'slug' must be lower-case"),
        ({"type": "api", "slug": "ok", "timeout_seconds": 0}, "'timeout_seconds'"),
        ({"type": "api", "slug": "ok", "timeout_seconds": 61}, "'timeout_seconds'"),
        ({"type": "api", "slug": "ok", "rate_limit_per_minute": 0}, "'rate_limit_per_minute'"),
        ({"type": "api", "slug": "ok", "synchronous": "yes"}, "'synchronous'"),
        ({"type": "api", "slug": "ok", "colour": "red"}, "unknown key 'colour'"),
        ({"type": "event", "events": []}, "takes a 'api' trigger, not 'event'"),
        ("api", "must be an object"),
    ],
)
def test_a_bad_api_trigger_is_refused_naming_the_problem(trigger, message):
    definition = {**_hello(), "trigger": trigger}
    with pytest.raises(ValidationError, match=message):
        _flow(definition)


def test_an_api_trigger_on_a_flow_of_another_kind_is_refused():
    with pytest.raises(ValidationError, match="a flow of kind 'helper' has no trigger"):
        services.flow_create(actor=None, name="H", kind=FlowKind.HELPER, definition=_hello())


# --- authentication -------------------------------------------------------------------------


def test_no_credentials_answer_401():
    _flow()
    response = _call()
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_wrong_client_token_answers_401_and_runs_nothing():
    flow = _flow()
    _token(flow)
    assert _call(token="not-the-token").status_code == 401
    assert not FlowRun.objects.exists()


def test_an_endpoint_never_given_a_token_refuses_every_client_token():
    _flow()
    assert _call(token="anything").status_code == 401


def test_a_rotated_token_stops_working_and_the_new_one_works():
    flow = _flow()
    old = _token(flow)
    assert _call(token=old, body={"name": "Ada"}).status_code == 200
    new = _token(flow)
    assert _call(token=old, body={"name": "Ada"}).status_code == 401
    assert _call(token=new, body={"name": "Ada"}).status_code == 200
    rotated = SystemLogEvent.objects.filter(event_type="flows.endpoint.token_rotated")
    assert rotated.count() == 2
    assert old not in str(list(rotated.values_list("data", flat=True)))
    assert ApiEndpoint.objects.get(flow=flow).token_hash not in (old, new)


def test_a_user_token_without_the_permission_answers_403():
    _flow()
    user = UserFactory()
    key = directory_services.api_token_issue(user=user, actor=user, name="cli").key
    assert _call(api_key=key, body={"name": "Ada"}).status_code == 403
    assert not FlowRun.objects.exists()


def test_a_user_token_with_the_permission_runs_the_flow_as_that_person():
    _flow()
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="call_apiendpoint"))
    key = directory_services.api_token_issue(user=user, actor=user, name="cli").key
    response = _call(api_key=key, body={"name": "Ada"})
    assert response.status_code == 200, response.content
    run = FlowRun.objects.get()
    assert run.started_by == user and run.trigger == Trigger.API
    assert SystemLogEvent.objects.filter(event_type="flows.run.queued", actor=user).exists()


def test_a_wrong_user_token_answers_401():
    _flow()
    assert _call(api_key="gh_wrong").status_code == 401


# --- answers --------------------------------------------------------------------------------


def test_a_synchronous_flow_answers_its_return_value_and_keeps_its_history():
    flow = _flow()
    token = _token(flow)
    response = _call(token=token, body={"name": "Ada"})
    assert response.status_code == 200
    assert response.json() == {"greeting": "Hello, Ada!"}
    run = FlowRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED and run.output == {"greeting": "Hello, Ada!"}
    assert run.started_by is None and run.trigger_ref == "hook:hello"
    assert run.started_at and run.finished_at and run.lease_expires_at is None
    assert list(CardRun.objects.filter(run=run).values_list("card_id", flat=True)) == [
        "greeting",
        "reply",
    ]


def test_the_query_string_is_input_too_and_the_body_wins():
    flow = _flow()
    token = _token(flow)
    response = _call("/api/v1/hooks/hello/?name=Query", token=token, body={})
    assert response.json() == {"greeting": "Hello, Query!"}
    response = _call("/api/v1/hooks/hello/?name=Query", token=token, body={"name": "Body"})
    assert response.json() == {"greeting": "Hello, Body!"}


def test_a_synchronous_in_process_call_writes_the_run_and_its_history_in_one_go():
    """One read of the endpoint; then, on PostgreSQL, one statement writing the run and its
    cards (no BEGIN / COMMIT); elsewhere one insert for each in one transaction. The version
    comes from this process's cache after the first call."""
    flow = _flow()
    token = _token(flow)
    assert _call(token=token, body={"name": "Warm"}).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert _call(token=token, body={"name": "Ada"}).status_code == 200
    statements = [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
    ]
    assert statements[0].startswith("SELECT") and "flows_apiendpoint" in statements[0]
    if connection.vendor == "postgresql":
        assert len(statements) == 2, statements
        assert 'INSERT INTO "flows_flowrun"' in statements[1]
        assert 'INSERT INTO "flows_cardrun"' in statements[1]
    else:
        assert len(statements) == 3, statements
        assert 'INSERT INTO "flows_flowrun"' in statements[1]
        assert 'INSERT INTO "flows_cardrun"' in statements[2]
    run = FlowRun.objects.latest("id")
    assert run.inputs == {"name": "Ada", "times": None} and run.output == {
        "greeting": "Hello, Ada!"
    }
    cards = list(run.card_runs.order_by("sequence"))
    assert [(c.sequence, c.card_id, c.succeeded) for c in cards] == [
        (1, "greeting", True),
        (2, "reply", True),
    ]
    assert cards[0].outputs == {"text": "Hello, Ada!"} and cards[1].outputs == {}


def test_an_asynchronous_flow_answers_202_with_the_run_id(django_capture_on_commit_callbacks):
    flow = _flow(_hello(synchronous=False))
    token = _token(flow)
    with django_capture_on_commit_callbacks(execute=True):
        response = _call(token=token, body={"name": "Ada"})
    assert response.status_code == 202
    run = FlowRun.objects.get(pk=response.json()["run_id"])
    assert response.json()["status"] == "queued"
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.output == {"greeting": "Hello, Ada!"}


def test_a_synchronous_flow_on_the_queue_past_its_time_answers_504_with_the_run_id(monkeypatch):
    definition = _hello(timeout_seconds=0.3)
    definition["cards"].insert(0, {"id": "pause", "card": "control.wait", "inputs": {"seconds": 0}})
    flow = _flow(definition)
    token = _token(flow)
    monkeypatch.setattr(services, "_queue", lambda run: None)  # every worker busy
    response = _call(token=token, body={"name": "Ada"})
    assert response.status_code == 504
    body = response.json()
    assert body["status"] == "queued" and "goes on" in body["detail"]
    assert FlowRun.objects.get(pk=body["run_id"]).status == RunStatus.QUEUED


@pytest.mark.django_db(transaction=True)
def test_a_synchronous_flow_on_the_queue_answers_its_value_once_a_worker_ran_it():
    """Committed, the run goes to the queue (run in-process by the test settings)."""
    definition = _hello(timeout_seconds=5)
    definition["cards"].insert(0, {"id": "pause", "card": "control.wait", "inputs": {"seconds": 0}})
    flow = _flow(definition)
    token = _token(flow)
    response = _call(token=token, body={"name": "Ada"})
    assert response.status_code == 200, response.content
    assert response.json() == {"greeting": "Hello, Ada!"}


def test_an_in_process_flow_past_its_time_answers_504_and_the_run_says_why(monkeypatch):
    flow = _flow(_hello(timeout_seconds=0.05))
    token = _token(flow)
    from apps.flows import engine

    real = engine.Execution.run_block

    def slow(self, cards, scope, prefix):
        self.deadline -= 1  # as if the cards had taken a second
        return real(self, cards, scope, prefix)

    monkeypatch.setattr(engine.Execution, "run_block", slow)
    response = _call(token=token, body={"name": "Ada"})
    assert response.status_code == 504
    run = FlowRun.objects.get(pk=response.json()["run_id"])
    assert run.status == RunStatus.FAILED and "longer than 0.05 s" in run.error


def test_a_failing_synchronous_flow_answers_502_with_its_error():
    definition = _hello()
    definition["cards"].insert(
        0, {"id": "stop", "card": "control.fail", "inputs": {"message": "no greetings today"}}
    )
    flow = _flow(definition)
    response = _call(token=_token(flow), body={"name": "Ada"})
    assert response.status_code == 502
    assert response.json()["error"] == "no greetings today"
    assert SystemLogEvent.objects.filter(event_type="flows.run.failed").count() == 1


def test_bad_input_answers_400_naming_it_and_runs_nothing():
    flow = _flow()
    token = _token(flow)
    response = _call(token=token, body={"name": "Ada", "times": "many"})
    assert response.status_code == 400
    assert set(response.json()["inputs"]) == {"times"}
    response = _call(token=token, body={})
    assert response.json()["inputs"] == {"name": ["This input is required."]}
    response = _call(token=token, body={"name": "Ada", "colour": "red"})
    assert response.json()["inputs"] == {"colour": ["The flow has no such input."]}
    assert _call(token=token, body=["not", "an", "object"]).status_code == 400
    assert not FlowRun.objects.exists()


def test_an_unknown_slug_answers_404():
    flow = _flow()
    assert _call("/api/v1/hooks/nobody/", token=_token(flow)).status_code == 404


def test_a_disabled_flow_answers_409():
    flow = _flow()
    token = _token(flow)
    services.flow_update(flow=flow, actor=None, enabled=False)
    response = _call(token=token, body={"name": "Ada"})
    assert response.status_code == 409
    assert not FlowRun.objects.exists()


def test_over_the_rate_limit_answers_429_with_retry_after():
    flow = _flow(_hello(rate_limit_per_minute=2))
    token = _token(flow)
    assert _call(token=token, body={"name": "A"}).status_code == 200
    assert _call(token=token, body={"name": "B"}).status_code == 200
    response = _call(token=token, body={"name": "C"})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert FlowRun.objects.count() == 2


def test_the_rate_limit_is_per_flow():
    first = _flow(_hello(rate_limit_per_minute=1))
    second = _flow(_hello(slug="other", rate_limit_per_minute=1), name="Other")
    assert _call(token=_token(first), body={"name": "A"}).status_code == 200
    assert (
        _call("/api/v1/hooks/other/", token=_token(second), body={"name": "A"}).status_code == 200
    )


def test_which_versions_run_in_the_web_process():
    names = iter(range(10))

    def served(cards):
        flow = _flow({**_hello(), "cards": cards}, name=f"Flow {next(names)}")
        return hooks.hook_version(flow.current_version_id)

    pure = served([{"id": "a", "card": "text.upper", "inputs": {"text": "x"}}])
    assert pure.in_process and pure.pure
    ApiEndpoint.objects.all().delete()
    writes = served(
        [{"id": "u", "card": "directory.update_profile", "inputs": {"user_id": 1, "changes": {}}}]
    )
    assert writes.in_process and not writes.pure
    ApiEndpoint.objects.all().delete()
    nested_http = served(
        [
            {
                "id": "t",
                "card": "control.try",
                "try": [{"id": "h", "card": "http.request", "inputs": {"url": "https://x.test/"}}],
            }
        ]
    )
    assert not nested_http.in_process and not nested_http.pure


def test_the_admin_rotates_the_client_token_and_shows_it_once(admin_client):
    flow = _flow()
    response = admin_client.post(
        "/admin/flows/apiendpoint/",
        {"action": "rotate_token", "_selected_action": [flow.endpoint.pk]},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = response.context["token"]
    assert token in response.content.decode()
    assert _call(token=token, body={"name": "Ada"}).status_code == 200
    page = admin_client.get(f"/admin/flows/apiendpoint/{flow.endpoint.pk}/change/").content.decode()
    assert token not in page and ApiEndpoint.objects.get().token_hash not in page


def test_the_trigger_travels_with_an_export_and_an_import_keeps_slugs_unique():
    from apps.flows import transfer
    from apps.flows.models import Flow

    flow = _flow()
    exported = transfer.parse_import(transfer.export_json(Flow.objects.filter(pk=flow.pk)))
    assert exported[0]["definition"]["trigger"]["slug"] == "hello"
    flow.delete()
    report = transfer.import_flows(exported, actor=None)
    assert report.ok and ApiEndpoint.objects.get().flow.name == "Hello"
    clash = [{**exported[0], "name": "Another hello"}]
    report = transfer.import_flows(clash, actor=None)
    assert not report.ok
    assert "already used by the flow Hello" in " ".join(report.errors["Another hello"])
    assert ApiEndpoint.objects.count() == 1


def test_a_synchronous_flow_that_writes_to_the_directory_runs_in_the_web_process():
    """No queue involved (in this test nothing is committed, so a queued run would wait)."""
    person = UserFactory(title="Clerk")
    definition = {
        "trigger": {"type": "api", "slug": "retitle", "synchronous": True, "timeout_seconds": 1},
        "inputs": [{"name": "user_id", "type": "number"}, {"name": "title", "type": "text"}],
        "cards": [
            {
                "id": "update",
                "card": "directory.update_profile",
                "inputs": {
                    "user_id": "{{ inputs.user_id }}",
                    "changes": {"title": "{{ inputs.title }}"},
                },
            },
            {"id": "reply", "card": "control.return", "inputs": {"value": "{{ inputs.title }}"}},
        ],
    }
    flow = _flow(definition, name="Retitle")
    response = _call(
        "/api/v1/hooks/retitle/", token=_token(flow), body={"user_id": person.pk, "title": "Boss"}
    )
    assert response.status_code == 200, response.content
    assert response.json() == "Boss"
    person.refresh_from_db()
    assert person.title == "Boss"
    run = FlowRun.objects.get(flow=flow)
    assert run.trigger_ref == "hook:retitle" and run.card_runs.count() == 2
    changed = SystemLogEvent.objects.get(event_type="directory.user.profile_updated")
    assert changed.data["flow_run"] == run.pk


def test_the_flow_page_says_where_its_endpoint_answers(admin_client):
    flow = _flow()
    page = admin_client.get(f"/admin/flows/flow/{flow.pk}/change/").content.decode()
    assert "/api/v1/hooks/hello/" in page and "no client token yet" in page
    _token(flow)
    page = admin_client.get(f"/admin/flows/flow/{flow.pk}/change/").content.decode()
    assert ApiEndpoint.objects.get().token_prefix in page

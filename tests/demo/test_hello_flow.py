"""The demo's `hello` flow: a synchronous API endpoint greeting the body's `name`."""

import io

import pytest
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient

from apps.flows import hooks, services
from apps.flows.models import ApiEndpoint, Flow, FlowKind, FlowRun, RunStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def hello(db):
    cache.clear()
    hooks.clear_version_cache()
    call_command("seed_demo", stdout=io.StringIO())
    yield ApiEndpoint.objects.select_related("flow").get(slug="hello")
    hooks.clear_version_cache()


def test_seed_demo_ships_the_hello_endpoint(hello):
    assert hello.flow.kind == FlowKind.API and hello.flow.enabled
    assert hello.flow.current_version.definition["trigger"]["synchronous"] is True


def test_hello_greets_the_name_in_the_body_and_keeps_the_history(hello):
    token = services.endpoint_rotate_token(endpoint=hello, actor=None)
    client = APIClient(HTTP_X_API_CLIENT_TOKEN=token)
    response = client.post("/api/v1/hooks/hello/", {"name": "Ada"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"greeting": "Hello, Ada!"}
    assert client.post("/api/v1/hooks/hello/", {}, format="json").json() == {
        "greeting": "Hello, world!"
    }
    run = FlowRun.objects.filter(flow=hello.flow).first()
    assert run.status == RunStatus.SUCCEEDED and run.card_runs.count() == 2


def test_seed_demo_twice_keeps_one_hello(hello):
    call_command("seed_demo", stdout=io.StringIO())
    assert Flow.objects.filter(endpoint__slug="hello").count() == 1

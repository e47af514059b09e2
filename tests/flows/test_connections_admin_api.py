"""Stored connections in the admin and over the API: secrets write-only, writes through the
services, the "test connection" action against a real local server."""

from __future__ import annotations

import base64
import json

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse
from rest_framework.test import APIClient

from apps.audit.models import SystemLogEvent
from apps.flows import stored_connections
from apps.flows.models import Connection
from tests.factories import UserFactory, make_connection
from tests.flows.local_http import json_answer, local_server

pytestmark = pytest.mark.django_db

SECRET = "do-not-show-me-7c1e"


@pytest.fixture(autouse=True)
def no_private_networks(settings, monkeypatch):
    settings.FLOWS_HTTP_ALLOW_PRIVATE_NETWORKS = False
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


FORM = {
    "name": "crm",
    "description": "",
    "kind": "bearer",
    "enabled": "on",
    "secret": SECRET,
    "token_url": "",
    "client_id": "",
    "scope": "",
    "username": "",
    "header_name": "",
    "test_url": "",
    "allowed_private_hosts": "",
}


# --- Admin ----------------------------------------------------------------------------------


def test_the_admin_stores_a_secret_it_never_shows_again(admin_client):
    response = admin_client.post(reverse("admin:flows_connection_add"), FORM)
    assert response.status_code == 302, response.context["adminform"].form.errors
    connection = Connection.objects.get(name="crm")
    assert stored_connections.secret_of(connection) == SECRET
    assert SystemLogEvent.objects.filter(event_type="flows.connection.created").count() == 1

    page = admin_client.get(reverse("admin:flows_connection_change", args=[connection.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert SECRET not in html and connection.encrypted_secret not in html
    assert "stored (hidden)" in html
    assert 'type="password"' in html
    listing = admin_client.get(reverse("admin:flows_connection_changelist")).content.decode()
    assert SECRET not in listing


def test_leaving_the_secret_blank_keeps_it(admin_client):
    connection = make_connection("crm", secret=SECRET)
    response = admin_client.post(
        reverse("admin:flows_connection_change", args=[connection.pk]),
        {
            **FORM,
            "secret": "",
            "description": "The CRM",
            "allowed_private_hosts": "crm.internal\n10.0.0.5",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    connection.refresh_from_db()
    assert stored_connections.secret_of(connection) == SECRET
    assert connection.description == "The CRM"
    assert connection.allowed_private_hosts == ["10.0.0.5", "crm.internal"]
    event = SystemLogEvent.objects.get(event_type="flows.connection.updated")
    assert set(event.data["new"]) == {"description", "allowed_private_hosts"}


def test_bad_input_is_a_form_error_and_writes_nothing(admin_client):
    response = admin_client.post(
        reverse("admin:flows_connection_add"),
        {**FORM, "kind": "oauth2_client_credentials", "secret": ""},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"token_url", "client_id", "secret"}
    assert not Connection.objects.exists()
    connection = make_connection("crm")
    response = admin_client.post(
        reverse("admin:flows_connection_change", args=[connection.pk]),
        {**FORM, "kind": "basic", "username": "svc", "secret": ""},
    )
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"secret"}


def test_deleting_in_the_admin_goes_through_the_service(admin_client):
    connection = make_connection("crm")
    response = admin_client.post(
        reverse("admin:flows_connection_delete", args=[connection.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Connection.objects.exists()
    assert SystemLogEvent.objects.filter(event_type="flows.connection.deleted").count() == 1


def _test_action(admin_client, *connections):
    response = admin_client.post(
        reverse("admin:flows_connection_changelist"),
        {"action": "test_connections", "_selected_action": [c.pk for c in connections]},
    )
    assert response.status_code == 302
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_test_action_reports_what_the_other_side_answered(admin_client):
    with local_server() as server:
        server.routes["/health"] = lambda seen: json_answer(
            {"ok": True}, 200 if seen.headers.get("authorization") == f"Bearer {SECRET}" else 401
        )
        server.routes["/token"] = lambda seen: json_answer(
            {"access_token": "t-1", "token_type": "Bearer", "expires_in": 600}
            if seen.headers.get("authorization")
            == "Basic " + base64.b64encode(f"app:{SECRET}".encode()).decode()
            else {"error": "invalid_client"},
            200 if "authorization" in seen.headers else 401,
        )
        hosts = ["127.0.0.1"]
        good = make_connection(
            "good", secret=SECRET, test_url=server.url("/health"), allowed_private_hosts=hosts
        )
        wrong = make_connection(
            "wrong", secret="nope", test_url=server.url("/health"), allowed_private_hosts=hosts
        )
        blocked = make_connection("blocked", secret=SECRET, test_url=server.url("/health"))
        oauth = make_connection(
            "oauth",
            kind="oauth2_client_credentials",
            secret=SECRET,
            token_url=server.url("/token"),
            client_id="app",
            allowed_private_hosts=hosts,
        )
        untestable = make_connection("plain", secret=SECRET)
        messages = _test_action(admin_client, good, wrong, blocked, oauth, untestable)
    assert messages == [
        "blocked: failed: refused to call 127.0.0.1: 127.0.0.1 is a loopback address; calls to "
        "private networks need a connection that allows them",
        "good: works: HTTP 200 from 127.0.0.1",
        "oauth: works: a token was fetched (valid 600 s)",
        "plain: failed: nothing to test: give the connection a test URL",
        'wrong: failed: HTTP 401 from 127.0.0.1: {"ok": true}',
    ]
    assert all(SECRET not in message for message in messages)
    oauth.refresh_from_db()
    assert stored_connections.access_token(oauth) == "t-1"  # the test's token, cached
    page = admin_client.get(reverse("admin:flows_connection_change", args=[oauth.pk]))
    html = page.content.decode()
    assert "cached until" in html
    for hidden in ("t-1", SECRET, oauth.encrypted_secret, oauth.encrypted_access_token):
        assert hidden not in html


def test_a_viewer_may_not_test_or_change_connections(client):
    viewer = UserFactory(username="vera", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_connection"))
    client.force_login(viewer)
    connection = make_connection("crm", secret=SECRET)
    page = client.get(reverse("admin:flows_connection_change", args=[connection.pk]))
    assert page.status_code == 200 and SECRET not in page.content.decode()
    response = client.post(
        reverse("admin:flows_connection_changelist"),
        {"action": "test_connections", "_selected_action": [connection.pk]},
    )
    assert response.status_code == 200  # no such action for a viewer: the list again
    assert not SystemLogEvent.objects.filter(event_type="flows.connection.updated").exists()


# --- API ------------------------------------------------------------------------------------


@pytest.fixture
def api():
    client = APIClient()
    client.force_authenticate(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_the_api_accepts_secrets_and_never_returns_them(api):
    created = api.post(
        "/api/v1/connections/",
        {
            "name": "idp",
            "kind": "oauth2_client_credentials",
            "token_url": "https://idp.example.com/oauth2/token",
            "client_id": "gatehouse",
            "scope": "users.read",
            "secret": SECRET,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert "secret" not in body and body["has_secret"] is True
    assert body["kind"] == "oauth2_client_credentials" and body["allowed_private_hosts"] == []
    connection = Connection.objects.get(name="idp")
    assert stored_connections.secret_of(connection) == SECRET

    for response in (
        api.get("/api/v1/connections/"),
        api.get(f"/api/v1/connections/{connection.pk}/"),
        api.patch(
            f"/api/v1/connections/{connection.pk}/",
            {"scope": "users.read groups.read"},
            format="json",
        ),
    ):
        assert response.status_code == 200
        text = json.dumps(response.json())
        assert SECRET not in text and connection.encrypted_secret not in text
    connection.refresh_from_db()
    assert connection.scope == "users.read groups.read"
    assert stored_connections.secret_of(connection) == SECRET

    changed = api.patch(
        f"/api/v1/connections/{connection.pk}/", {"secret": "second-secret"}, format="json"
    )
    assert changed.status_code == 200 and "second-secret" not in json.dumps(changed.json())
    connection.refresh_from_db()
    assert stored_connections.secret_of(connection) == "second-secret"
    assert api.delete(f"/api/v1/connections/{connection.pk}/").status_code == 204
    assert not Connection.objects.exists()


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"name": "x", "kind": "bearer"}, {"secret"}),
        ({"name": "x", "kind": "nope", "secret": "s"}, {"kind"}),
        ({"name": "x", "kind": "header", "secret": "s"}, {"header_name"}),
        (
            {"name": "x", "kind": "bearer", "secret": "s", "allowed_private_hosts": "10.0.0.1"},
            {"allowed_private_hosts"},
        ),
        ({"name": "x", "kind": "bearer", "secret": "s", "password": "p"}, {"password"}),
        ({"name": "crm", "kind": "bearer", "secret": "s"}, {"name"}),
    ],
)
def test_bad_input_is_a_400_by_field_and_writes_nothing(api, body, fields):
    make_connection("crm")
    before = SystemLogEvent.objects.count()
    response = api.post("/api/v1/connections/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == fields
    assert Connection.objects.count() == 1 and SystemLogEvent.objects.count() == before

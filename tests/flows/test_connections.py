"""Stored connections used by the HTTP card, against a real local OAuth 2.0 token server and a
real local API server (both on 127.0.0.1, allowed by each connection, never by the global
switch, which these tests turn off)."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.audit.models import SystemLogEvent
from apps.flows import encryption, services, stored_connections, transfer
from apps.flows.models import Connection, Flow
from tests.factories import make_connection
from tests.flows.cards_helpers import run_flow
from tests.flows.local_http import Answer, json_answer, local_server, text_answer

pytestmark = pytest.mark.django_db

CLIENT_ID, CLIENT_SECRET = "gatehouse-client", "very-secret-client-secret"


@pytest.fixture(autouse=True)
def no_private_networks(settings, monkeypatch):
    settings.FLOWS_HTTP_ALLOW_PRIVATE_NETWORKS = False
    # oauthlib refuses plain-http token URLs; the local token server speaks http.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


class Provider:
    """An OAuth 2.0 token endpoint (client credentials, client authenticated with HTTP basic)
    and an API that accepts only the tokens still valid."""

    def __init__(self, server) -> None:
        self.server = server
        self.numbers = itertools.count(1)
        self.valid: set[str] = set()
        self.expires_in = 3600
        server.routes["/oauth/token"] = self.token
        server.routes["/api/me"] = self.me
        server.routes["/api/quiet"] = lambda seen: json_answer(
            {"id": "svc"} if self.me(seen).status == 200 else {}, self.me(seen).status
        )

    def token(self, seen) -> Answer:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        form = seen.form()
        if seen.headers.get("authorization") != f"Basic {expected}":
            return json_answer({"error": "invalid_client", "error_description": "bad secret"}, 401)
        if form.get("grant_type") != ["client_credentials"]:
            return json_answer({"error": "unsupported_grant_type"}, 400)
        token = f"token-{next(self.numbers)}"
        self.valid.add(token)
        return json_answer(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
        )

    def me(self, seen) -> Answer:
        auth = seen.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.valid:
            return json_answer({"error": "invalid_token"}, 401)
        return json_answer({"id": "svc", "token": auth[7:]})

    @property
    def token_requests(self):
        return self.server.requests_to("/oauth/token")

    @property
    def api_requests(self):
        return self.server.requests_to("/api/me")


@pytest.fixture
def provider():
    with local_server() as server:
        yield Provider(server)


def oauth_connection(provider, **fields):
    values = {
        "token_url": provider.server.url("/oauth/token"),
        "client_id": CLIENT_ID,
        "scope": "users.read groups.read",
        "allowed_private_hosts": ["127.0.0.1"],
        **fields,
    }
    return make_connection("idp", kind="oauth2_client_credentials", secret=CLIENT_SECRET, **values)


def call_api(provider, connection="idp", path="/api/me"):
    """One flow run calling the API through the connection; the finished run."""
    return run_flow(
        [
            {
                "id": "call",
                "card": "http.request",
                "inputs": {"url": provider.server.url(path), "connection": connection},
            }
        ],
        output="{{ call.body }}",
    )


# --- OAuth 2.0 client credentials -----------------------------------------------------------


def test_a_token_is_fetched_once_and_reused_across_runs(provider):
    oauth_connection(provider)
    first, second = call_api(provider), call_api(provider)

    assert first.status == second.status == "succeeded", (first.error, second.error)
    assert first.output == second.output == {"id": "svc", "token": "token-1"}
    assert len(provider.token_requests) == 1
    request = provider.token_requests[0]
    assert request.method == "POST"
    assert request.form() == {
        "grant_type": ["client_credentials"],
        "scope": ["users.read groups.read"],
    }
    assert [seen.headers["authorization"] for seen in provider.api_requests] == [
        "Bearer token-1",
        "Bearer token-1",
    ]


def test_the_cached_token_is_kept_encrypted_on_the_row(provider):
    connection = oauth_connection(provider)
    call_api(provider)
    connection.refresh_from_db()
    assert connection.encrypted_access_token
    assert "token-1" not in connection.encrypted_access_token
    assert encryption.decrypt(connection.encrypted_access_token) == "token-1"
    assert CLIENT_SECRET not in connection.encrypted_secret
    assert connection.access_token_expires_at > timezone.now() + dt.timedelta(minutes=59)


def test_an_expired_token_is_fetched_again(provider):
    connection = oauth_connection(provider)
    call_api(provider)
    Connection.objects.filter(pk=connection.pk).update(
        access_token_expires_at=timezone.now() + dt.timedelta(seconds=10)  # within the margin
    )
    run = call_api(provider)
    assert run.output == {"id": "svc", "token": "token-2"}
    assert len(provider.token_requests) == 2
    call_api(provider)
    assert len(provider.token_requests) == 2


def test_a_401_fetches_a_new_token_and_sends_the_request_once_more(provider):
    oauth_connection(provider)
    call_api(provider)
    provider.valid.clear()  # the provider revoked token-1 before it expired

    run = call_api(provider)
    assert run.status == "succeeded", run.error
    assert run.output == {"id": "svc", "token": "token-2"}
    assert [seen.headers["authorization"] for seen in provider.api_requests] == [
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-2",
    ]
    assert len(provider.token_requests) == 2


def test_an_api_that_keeps_answering_401_is_retried_once_only(provider):
    oauth_connection(provider)
    provider.server.routes["/api/always-401"] = lambda seen: json_answer({"e": "no"}, 401)
    run = call_api(provider, path="/api/always-401")
    assert run.status == "failed"
    assert run.error == 'HTTP 401 from 127.0.0.1: {"e": "no"}'
    assert len(provider.server.requests_to("/api/always-401")) == 2
    assert len(provider.token_requests) == 2


def test_a_refused_client_secret_is_reported_without_the_secret(provider):
    oauth_connection(provider)
    Connection.objects.filter(name="idp").update(encrypted_secret=encryption.encrypt("wrong"))
    run = call_api(provider)
    assert run.status == "failed"
    assert run.error == (
        "connection 'idp': the token endpoint refused (invalid_client: bad secret)"
    )
    assert provider.api_requests == []


def test_a_token_endpoint_on_a_private_address_needs_the_host_listed(provider):
    oauth_connection(provider, allowed_private_hosts=[])
    run = call_api(provider)
    assert run.status == "failed"
    assert "refused to call 127.0.0.1: 127.0.0.1 is a loopback address" in run.error
    assert provider.server.seen == []


def test_a_listed_host_does_not_open_other_private_hosts(provider):
    oauth_connection(provider, allowed_private_hosts=["10.9.8.7"])
    run = call_api(provider)
    assert run.status == "failed" and "loopback address" in run.error
    assert provider.server.seen == []


def test_the_token_url_must_be_https_outside_tests(provider, monkeypatch):
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT")
    oauth_connection(provider)
    run = call_api(provider)
    assert run.error == "connection 'idp': the token URL must use https"


# --- Basic, bearer, custom header -----------------------------------------------------------


@pytest.fixture
def echo():
    with local_server() as server:
        server.routes["/echo"] = lambda seen: json_answer(
            {
                "authorization": seen.headers.get("authorization"),
                "key": seen.headers.get("x-api-key"),
            }
        )
        yield server


@pytest.mark.parametrize(
    "kind, fields, secret, expected",
    [
        (
            "basic",
            {"username": "svc"},
            "pa55",
            {"authorization": "Basic c3ZjOnBhNTU=", "key": None},
        ),
        ("bearer", {}, "abc.def", {"authorization": "Bearer abc.def", "key": None}),
        ("header", {"header_name": "X-API-Key"}, "k-123", {"authorization": None, "key": "k-123"}),
    ],
)
def test_fixed_credentials_are_sent(echo, kind, fields, secret, expected):
    make_connection("svc", kind=kind, secret=secret, allowed_private_hosts=["127.0.0.1"], **fields)
    run = run_flow(
        [
            {
                "id": "call",
                "card": "http.request",
                "inputs": {
                    "url": echo.url("/echo"),
                    "connection": "svc",
                    "headers": {"X-API-Key": "from-the-card"},
                },
            }
        ],
        output="{{ call.body }}",
    )
    assert run.status == "succeeded", run.error
    assert run.output == {**expected, "key": expected["key"] or "from-the-card"}


def test_without_the_host_listed_a_loopback_server_is_refused(echo):
    make_connection("svc", kind="bearer", secret="abc")
    run = run_flow(
        [
            {
                "id": "c",
                "card": "http.request",
                "inputs": {"url": echo.url("/echo"), "connection": "svc"},
            }
        ]
    )
    assert run.status == "failed" and "loopback address" in run.error
    assert echo.seen == []


def test_a_disabled_connection_is_refused(echo):
    make_connection("svc", kind="bearer", secret="abc", enabled=False)
    run = run_flow(
        [
            {
                "id": "c",
                "card": "http.request",
                "inputs": {"url": echo.url("/echo"), "connection": "svc"},
            }
        ]
    )
    assert run.error == "the connection 'svc' is disabled"


# --- Secrets never come back out ------------------------------------------------------------


def test_secrets_are_not_in_run_history_events_or_exports(provider):
    connection = oauth_connection(provider)
    make_connection("key", kind="header", header_name="X-API-Key", secret="api-key-value-42")
    run = call_api(provider, path="/api/quiet")
    assert run.status == "succeeded" and run.output == {"id": "svc"}
    services.connection_update(connection=connection, actor=None, secret="new-client-secret-9")
    flow = Flow.objects.get(pk=run.flow_id)

    history = json.dumps(
        [
            {"inputs": card.inputs, "outputs": card.outputs, "error": card.error}
            for card in run.card_runs.all()
        ]
        + [run.inputs, run.output, run.error],
        default=str,
    )
    events = json.dumps(
        list(SystemLogEvent.objects.filter(event_type__startswith="flows.").values("data")),
        default=str,
    )
    exported = transfer.export_json(Flow.objects.filter(pk=flow.pk))
    for text in (history, events, exported):
        for secret in (CLIENT_SECRET, "token-1", "api-key-value-42", "new-client-secret-9"):
            assert secret not in text
    created = SystemLogEvent.objects.get(
        event_type="flows.connection.created", target_id=str(connection.pk)
    )
    assert created.data["new"]["secret"] == "********"
    updated = SystemLogEvent.objects.get(event_type="flows.connection.updated")
    assert updated.data == {"old": {"secret": "********"}, "new": {"secret": "changed"}}


# --- Saving connections ---------------------------------------------------------------------


def test_each_kind_needs_its_own_fields_and_a_secret():
    with pytest.raises(ValidationError) as refused:
        services.connection_create(
            actor=None, name="idp", kind="oauth2_client_credentials", secret=""
        )
    assert set(refused.value.message_dict) == {"token_url", "client_id", "secret"}
    with pytest.raises(ValidationError) as refused:
        services.connection_create(
            actor=None, name="h", kind="header", header_name="X Bad", secret="v"
        )
    assert refused.value.message_dict == {"header_name": ["Not a valid HTTP header name."]}
    with pytest.raises(ValidationError) as refused:
        services.connection_create(
            actor=None, name="b", kind="bearer", secret="v", allowed_private_hosts=["http://x/"]
        )
    assert "allowed_private_hosts" in refused.value.message_dict
    for bad in ("10.0.0.5:8080", "[::1]:8080", "user@host"):
        with pytest.raises(ValidationError) as refused:
            services.connection_create(
                actor=None, name="b", kind="bearer", secret="v", allowed_private_hosts=[bad]
            )
        assert "allowed_private_hosts" in refused.value.message_dict
    listed = make_connection("ipv6", allowed_private_hosts=["[::1]", "Vault.Internal", "::1"])
    assert listed.allowed_private_hosts == ["::1", "vault.internal"]
    with pytest.raises(ValidationError) as refused:
        services.connection_create(actor=None, name="s", kind="slack_webhook", secret="nope")
    assert refused.value.message_dict == {"secret": ["The webhook URL: an http(s) address."]}
    make_connection("crm")
    with pytest.raises(ValidationError) as refused:
        make_connection("crm")
    assert "name" in refused.value.message_dict
    assert Connection.objects.count() == 2  # crm and ipv6


def test_an_update_without_a_secret_keeps_it_and_a_new_kind_needs_one():
    connection = make_connection("crm", kind="bearer", secret="first")
    stored = connection.encrypted_secret
    services.connection_update(connection=connection, actor=None, secret="", description="CRM")
    connection.refresh_from_db()
    assert connection.encrypted_secret == stored and connection.description == "CRM"
    with pytest.raises(ValidationError) as refused:
        services.connection_update(connection=connection, actor=None, kind="basic", username="u")
    assert set(refused.value.message_dict) == {"secret"}
    services.connection_update(
        connection=connection, actor=None, kind="basic", username="u", secret="second"
    )
    connection.refresh_from_db()
    assert stored_connections.secret_of(connection) == "second"


def test_changing_the_client_drops_the_cached_token(provider):
    connection = oauth_connection(provider)
    call_api(provider)
    services.connection_update(connection=connection, actor=None, scope="users.read")
    connection.refresh_from_db()
    assert connection.encrypted_access_token == "" and connection.access_token_expires_at is None


def test_an_unchanged_update_writes_nothing():
    connection = make_connection("crm")
    before = SystemLogEvent.objects.count()
    services.connection_update(connection=connection, actor=None, description="", secret=None)
    assert SystemLogEvent.objects.count() == before


def test_deleting_a_connection_is_an_event_and_flows_then_fail_clearly(echo):
    connection = make_connection(
        "svc", kind="bearer", secret="abc", allowed_private_hosts=["127.0.0.1"]
    )
    services.connection_delete(connection=connection, actor=None)
    assert not Connection.objects.exists()
    event = SystemLogEvent.objects.get(event_type="flows.connection.deleted")
    assert event.data["old"]["name"] == "svc" and event.data["old"]["secret"] == "********"
    run = run_flow(
        [
            {
                "id": "c",
                "card": "http.request",
                "inputs": {"url": echo.url("/echo"), "connection": "svc"},
            }
        ]
    )
    assert run.error == "no connection named 'svc'"


# --- Keys -----------------------------------------------------------------------------------

OLD_KEY = "gUyflF8J6hFRHsbeHYZqpy6z-gNjtLVuSPupYFEcOKI="
NEW_KEY = "7Ix5ROgHneYveHHRjjySAU1--4x-thq293ijAdbO3hk="


def test_rotating_keys_reencrypts_every_secret(settings, provider):
    settings.CONNECTIONS_ENCRYPTION_KEYS = [OLD_KEY]
    connection = oauth_connection(provider)
    call_api(provider)
    settings.CONNECTIONS_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    call_command("rotate_connection_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.CONNECTIONS_ENCRYPTION_KEYS = [NEW_KEY]
    connection.refresh_from_db()
    assert stored_connections.secret_of(connection) == CLIENT_SECRET
    assert encryption.decrypt(connection.encrypted_access_token) == "token-1"
    call_api(provider)
    assert len(provider.token_requests) == 1


def test_a_secret_no_key_opens_fails_the_card_clearly(settings, echo):
    settings.CONNECTIONS_ENCRYPTION_KEYS = [OLD_KEY]
    make_connection("svc", kind="bearer", secret="abc", allowed_private_hosts=["127.0.0.1"])
    settings.CONNECTIONS_ENCRYPTION_KEYS = [NEW_KEY]
    run = run_flow(
        [
            {
                "id": "c",
                "card": "http.request",
                "inputs": {"url": echo.url("/echo"), "connection": "svc"},
            }
        ]
    )
    assert run.error == (
        "connection 'svc': a stored secret could not be decrypted with CONNECTIONS_ENCRYPTION_KEYS"
    )


def test_without_keys_production_refuses_to_store_a_secret_and_development_derives_one(settings):
    settings.CONNECTIONS_ENCRYPTION_KEYS = []
    settings.DEBUG = False
    with pytest.raises(ValidationError) as refused:
        make_connection("crm")
    assert "CONNECTIONS_ENCRYPTION_KEYS is not set" in refused.value.message_dict["secret"][0]
    settings.DEBUG = True
    connection = make_connection("crm", secret="dev-secret")
    assert stored_connections.secret_of(connection) == "dev-secret"


def test_a_bad_key_is_named():
    with pytest.raises(encryption.EncryptionNotConfigured, match="key 2 is not a Fernet key"):
        encryption._box_for((OLD_KEY, "not-a-key"))


def test_text_answer_helper_is_plain():
    assert text_answer("x").headers["Content-Type"].startswith("text/plain")


def test_a_token_endpoint_that_redirects_is_refused(provider):
    provider.server.routes["/oauth/moved"] = lambda seen: Answer(
        307, b"", {"Location": provider.server.url("/oauth/token")}
    )
    oauth_connection(provider, token_url=provider.server.url("/oauth/moved"))
    run = call_api(provider)
    assert run.status == "failed"
    assert run.error.startswith("connection 'idp': the token request failed")
    assert provider.token_requests == [] and provider.api_requests == []


def test_a_token_endpoint_that_is_down_is_a_passing_failure(provider):
    busy = [text_answer("busy", 503)]
    issue = provider.token
    provider.server.routes["/oauth/token"] = lambda seen: busy.pop() if busy else issue(seen)
    oauth_connection(provider)
    run = run_flow(
        [
            {
                "id": "call",
                "card": "http.request",
                "inputs": {"url": provider.server.url("/api/me"), "connection": "idp"},
                "on_error": {"policy": "retry", "retries": 2, "backoff_seconds": 0.01},
            }
        ],
        output="{{ call.body }}",
    )
    assert run.status == "succeeded", run.error
    assert run.output == {"id": "svc", "token": "token-1"}
    assert run.card_runs.get().attempts == 2
    assert len(provider.token_requests) == 2


def test_rotating_without_the_old_key_stops_and_says_so(settings):
    settings.CONNECTIONS_ENCRYPTION_KEYS = [OLD_KEY]
    connection = make_connection("crm", secret="kept")
    settings.CONNECTIONS_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(CommandError, match="keep every old key listed until this succeeds"):
        call_command("rotate_connection_keys")
    settings.CONNECTIONS_ENCRYPTION_KEYS = [OLD_KEY]
    connection.refresh_from_db()
    assert stored_connections.secret_of(connection) == "kept"

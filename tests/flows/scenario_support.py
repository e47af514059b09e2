"""Shared set-up of the scenario tests: the shipped flows loaded, pointed at local servers."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from contextlib import contextmanager

from django.utils import timezone

from apps.flows import services
from apps.flows.models import Flow
from apps.flows.scenarios import SETTINGS_FLOW, load_scenarios
from tests.factories import make_connection
from tests.flows.local_http import LocalServer, json_answer, local_server, text_answer

LOCAL = ["127.0.0.1"]
TOKENS = {
    "vault": ("header", "Authorization", "Bearer vault-connect-token"),
    "office365": ("bearer", "", "graph-token"),
    "google_workspace": ("bearer", "", "google-token"),
    "servicenow": ("header", "X-Api-Key", "snow-api-key"),
}
SLACK_PATH = "/services/T0001/B0001/security-webhook"  # a Slack incoming webhook's shape
INCIDENT = {"result": {"number": "INC0010001", "sys_id": "9d385017c611228701d22104cc95c371"}}


def answer_everything(server: LocalServer) -> None:
    """Routes like the real services' answers, for every path the scenarios call."""
    server.routes.update(
        {
            "/v1/vaults/boss/items": lambda seen: json_answer({"id": "item-1", **seen.json()}),
            "/v1.0/users/ann@example.com/revokeSignInSessions": lambda seen: json_answer(
                {"value": True}
            ),
            "/admin/directory/v1/users/ann@example.com/signOut": lambda seen: json_answer({}, 204),
            "/api/now/table/incident": lambda seen: json_answer(INCIDENT, 201),
            SLACK_PATH: lambda seen: text_answer("ok"),
        }
    )


def configure(server: LocalServer) -> None:
    """Load the scenarios, point the settings at `server`, create the connections, and
    switch every scenario flow on."""
    report = load_scenarios(actor=None)
    assert report.ok, report.errors
    settings_flow = Flow.objects.select_related("current_version").get(name=SETTINGS_FLOW)
    definition = copy.deepcopy(settings_flow.definition)
    values = definition["cards"][0]["inputs"]["value"]
    for key in ("vault_url", "office365_url", "google_workspace_url", "servicenow_url"):
        values[key] = server.base
    services.flow_save_definition(flow=settings_flow, actor=None, definition=definition)
    for name, (kind, header, secret) in TOKENS.items():
        fields = {"header_name": header} if header else {}
        make_connection(name, kind=kind, secret=secret, allowed_private_hosts=LOCAL, **fields)
    make_connection(
        "security_chat",
        kind="slack_webhook",
        secret=server.url(SLACK_PATH),
        allowed_private_hosts=LOCAL,
    )
    for flow in Flow.objects.filter(enabled=False):
        services.flow_update(flow=flow, actor=None, enabled=True)


@contextmanager
def scenario_servers() -> Iterator[LocalServer]:
    with local_server() as server:
        answer_everything(server)
        configure(server)
        yield server


def ago(**delta):
    return timezone.now() - timezone.timedelta(**delta)


_okta_numbers = itertools.count(1)


def okta_sign_in(login, country, ip, outcome="SUCCESS", published="2026-12-01T10:00:00.000Z"):
    """One `user.session.start` event as an Okta event hook delivers it."""
    return {
        "uuid": f"5f6e7a4c-0000-11ee-8000-{next(_okta_numbers):012d}",
        "published": published,
        "eventType": "user.session.start",
        "displayMessage": "User login to Okta",
        "outcome": {"result": outcome},
        "actor": {"id": "00u1", "type": "User", "alternateId": login, "displayName": login},
        "client": {"geographicalContext": {"country": country}, "ipAddress": ip},
        "target": [],
    }

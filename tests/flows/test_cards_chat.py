"""The chat card against a real local HTTP server standing in for Slack's and Teams' incoming
webhooks: the payload shape each documents, and the webhook URL (a secret) never shown."""

from __future__ import annotations

import pytest

from apps.flows import registry, stored_connections
from tests.factories import make_connection
from tests.flows.cards_helpers import run_card
from tests.flows.local_http import json_answer, local_server, text_answer

pytestmark = pytest.mark.django_db

SLACK_PATH = "/services/T0001/B0001/s3cretSlackPart"
TEAMS_PATH = "/webhookb2/s3cret-teams-part/IncomingWebhook/abc"


@pytest.fixture(autouse=True)
def no_private_networks(settings):
    settings.FLOWS_HTTP_ALLOW_PRIVATE_NETWORKS = False


@pytest.fixture
def chat():
    with local_server() as server:
        server.routes[SLACK_PATH] = lambda seen: text_answer("ok")
        server.routes[TEAMS_PATH] = lambda seen: text_answer("1")
        make_connection(
            "security-slack",
            kind="slack_webhook",
            secret=server.url(SLACK_PATH),
            allowed_private_hosts=["127.0.0.1"],
        )
        make_connection(
            "security-teams",
            kind="teams_webhook",
            secret=server.url(TEAMS_PATH),
            allowed_private_hosts=["127.0.0.1"],
        )
        yield server


def post(connection, text="Sign-in from KP for alice", title=None):
    inputs = {"connection": connection, "text": text}
    if title is not None:
        inputs["title"] = title
    return run_card("chat.post", inputs)


def test_slack_gets_text_and_blocks(chat):
    run, record = post("security-slack", title="Unusual sign-in")
    assert run.status == "succeeded", run.error
    assert record.outputs == {"status": 200, "ok": True}
    (seen,) = chat.requests_to(SLACK_PATH)
    assert seen.method == "POST"
    assert seen.headers["content-type"] == "application/json"
    assert seen.json() == {
        "text": "Unusual sign-in: Sign-in from KP for alice",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Unusual sign-in"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "Sign-in from KP for alice"}},
        ],
    }


def test_slack_without_a_title_gets_one_section(chat):
    post("security-slack")
    assert chat.requests_to(SLACK_PATH)[0].json() == {
        "text": "Sign-in from KP for alice",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "Sign-in from KP for alice"}}
        ],
    }


def test_teams_gets_a_message_with_an_adaptive_card(chat):
    run, _ = post("security-teams", title="Unusual sign-in")
    assert run.status == "succeeded", run.error
    (seen,) = chat.requests_to(TEAMS_PATH)
    assert seen.json() == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": "Unusual sign-in",
                            "weight": "Bolder",
                            "size": "Medium",
                            "wrap": True,
                        },
                        {"type": "TextBlock", "text": "Sign-in from KP for alice", "wrap": True},
                    ],
                },
            }
        ],
    }


def test_a_refusal_names_the_host_never_the_webhook_url(chat):
    chat.routes[SLACK_PATH] = lambda seen: text_answer("invalid_token", 403)
    run, record = post("security-slack")
    assert run.status == "failed"
    assert record.error == "HTTP 403 from 127.0.0.1: invalid_token"
    assert "s3cret" not in record.error and "s3cret" not in str(record.inputs)


def test_a_server_error_is_transient_and_retried(chat):
    answers = [json_answer({}, 503), text_answer("ok")]
    chat.routes[SLACK_PATH] = lambda seen: answers.pop(0)
    run = run_card(
        "chat.post",
        {"connection": "security-slack", "text": "hi"},
        on_error={"policy": "retry", "retries": 2, "backoff_seconds": 0.01},
    )[0]
    assert run.status == "succeeded", run.error
    assert len(chat.requests_to(SLACK_PATH)) == 2


def test_a_webhook_on_a_private_address_needs_the_host_listed():
    with local_server() as server:
        make_connection("lab", kind="slack_webhook", secret=server.url(SLACK_PATH))
        _, record = post("lab")
        assert "loopback address" in record.error
        assert server.seen == []


def test_the_card_and_the_http_card_keep_to_their_own_kinds(chat):
    make_connection("crm", kind="bearer", secret="t")
    assert post("crm")[1].error == ("the connection 'crm' is not a chat webhook (Slack or Teams)")
    _, record = run_card("http.request", {"url": chat.url("/x"), "connection": "security-slack"})
    assert record.error == (
        "the connection 'security-slack' is a chat webhook: post to it with the chat.post card"
    )
    assert post("nope")[1].error == "no connection named 'nope'"
    assert post("security-slack", text="  ")[1].error == "input 'text': a message needs some text"
    assert chat.seen == []


def test_the_admin_test_posts_a_test_message(chat):
    connection = stored_connections.usable("security-teams")
    assert stored_connections.try_connection(connection) == (
        True,
        "HTTP 200: the test message was posted",
    )
    body = chat.requests_to(TEAMS_PATH)[0].json()
    assert body["attachments"][0]["content"]["body"][-1]["text"] == (
        "Gatehouse: testing this connection."
    )


def test_the_card_is_in_the_reference():
    card = registry.get("chat.post")
    assert card.category == "Chat" and not card.idempotent
    assert [field.name for field in card.inputs] == ["connection", "text", "title"]

"""The chat card: post a message to Slack or Microsoft Teams through a stored webhook connection.

The webhook URL is the connection's secret (whoever holds it may post), so it is never shown,
not even in error messages: those name the host only. Payloads follow each service's
documentation:

- Slack incoming webhook: `{"text": ..., "blocks": [...]}`: `text` is the notification's
  fallback, the blocks a header (the title, plain text) and a section (mrkdwn);
- Teams (incoming webhook or a Workflows "when a Teams webhook request is received" flow): a
  message with one Adaptive Card attachment, the title as a bold TextBlock, the text wrapped.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

from apps.flows.cards.http import check_destination, guard_session
from apps.flows.errors import CardError, TransientCardError
from apps.flows.models import ConnectionKind
from apps.flows.registry import Field, card
from apps.flows.types import BOOLEAN, NUMBER, TEXT

CATEGORY = "Chat"
TIMEOUT_SECONDS = 15
MAX_TEXT_CHARS = 3000  # Slack's limit for a section's text; Teams takes more
MAX_TITLE_CHARS = 150  # Slack's limit for a header block
USER_AGENT = "Gatehouse-Flows/1"


def slack_escape(text: str) -> str:
    """Plain text for Slack's mrkdwn: &, < and > as Slack documents them, so that a requester's
    text cannot ping `<!channel>` or hide a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(text: str, title: str = "", *, plain: bool = False) -> dict[str, Any]:
    if plain:
        text = slack_escape(text)
    blocks: list[dict[str, Any]] = []
    if title:
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": title}})
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    return {"text": f"{title}: {text}" if title else text, "blocks": blocks}


def teams_payload(text: str, title: str = "", *, plain: bool = False) -> dict[str, Any]:
    body: list[dict[str, Any]] = []
    if title:
        body.append(
            {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True}
        )
    body.append({"type": "TextBlock", "text": text, "wrap": True})
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                },
            }
        ],
    }


PAYLOADS = {
    ConnectionKind.SLACK_WEBHOOK: slack_payload,
    ConnectionKind.TEAMS_WEBHOOK: teams_payload,
}


def post_message(
    connection_name: str, *, text: str, title: str = "", plain: bool = False
) -> dict[str, Any]:
    """Post `text` (and `title`) through the chat connection `connection_name`; its status.
    `plain`: the text is not markup (Slack's special characters are escaped)."""
    from apps.flows import stored_connections  # models: loaded once the app registry is ready

    text, title = (text or "").strip(), (title or "").strip()
    if not text:
        raise CardError("input 'text': a message needs some text")
    if len(text) > MAX_TEXT_CHARS:
        raise CardError(f"input 'text': at most {MAX_TEXT_CHARS} characters")
    if len(title) > MAX_TITLE_CHARS:
        raise CardError(f"input 'title': at most {MAX_TITLE_CHARS} characters")
    connection = stored_connections.usable(connection_name)
    if connection is None:
        raise CardError(f"no connection named '{connection_name}'")
    if not connection.is_chat:
        raise CardError(
            f"the connection '{connection_name}' is not a chat webhook (Slack or Teams)"
        )
    url = stored_connections.secret_of(connection)
    host = urlsplit(url).hostname or "the webhook"
    hosts = stored_connections.allowed_hosts_of(connection)
    check_destination(url, allowed_hosts=hosts)
    payload = PAYLOADS[connection.kind](text, title, plain=plain)
    with guard_session(requests.Session(), allowed_hosts=hosts) as session:
        try:
            response = session.post(
                url,
                json=payload,
                headers={"User-Agent": USER_AGENT},
                timeout=TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except requests.exceptions.Timeout:
            raise TransientCardError(f"{host} did not answer in {TIMEOUT_SECONDS} s") from None
        except requests.exceptions.ConnectionError:
            raise TransientCardError(f"could not connect to {host}") from None
        except requests.exceptions.RequestException as error:
            raise CardError(f"the post to {host} failed: {type(error).__name__}") from None
    status = response.status_code
    excerpt = " ".join(response.text[:200].split())
    if status == 429 or status >= 500:
        raise TransientCardError(f"HTTP {status} from {host}" + (f": {excerpt}" if excerpt else ""))
    if status >= 300:
        raise CardError(f"HTTP {status} from {host}" + (f": {excerpt}" if excerpt else ""))
    return {"status": status, "ok": True}


@card(
    "chat.post",
    "Post to chat",
    CATEGORY,
    inputs=[
        Field("connection", TEXT, description="a Slack or Teams webhook connection's name"),
        Field("text", TEXT, description=f"the message (Slack mrkdwn), at most {MAX_TEXT_CHARS}"),
        Field("title", TEXT, required=False, description="a heading above the message"),
    ],
    outputs=[
        Field("status", NUMBER, description="the webhook's HTTP status"),
        Field("ok", BOOLEAN),
    ],
)
def post(context, *, connection, text, title):
    """Posts a message to a Slack or Microsoft Teams channel through an incoming webhook.

    `connection` names a Slack or Teams webhook connection (its URL is kept secret). Slack gets
    the text as mrkdwn under the title as a header; Teams an Adaptive Card with the title in
    bold. A 429 or 5xx answer is a passing failure (a retry policy applies); posting twice
    posts twice, so a run lost while posting is failed rather than run again."""
    return post_message(connection, text=text, title=title or "")

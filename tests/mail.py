"""A real SMTP server for the tests about e-mail delivery.

`smtp_server` starts aiosmtpd on 127.0.0.1 with a free port, points Django's SMTP backend at
it, and collects what arrives. Messages go through the network and a real SMTP conversation, so
what the test reads is what a mail server would receive.
"""

from __future__ import annotations

import email
import socket
import threading
from email.message import Message

import pytest
from aiosmtpd.controller import Controller


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """The aiosmtpd handler: keeps every accepted message with its envelope recipients."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        with self._lock:
            self._received.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[Message]:
        """Every message received so far, parsed, in arrival order."""
        with self._lock:
            return [email.message_from_bytes(raw) for _, raw in self._received]

    def to(self, address: str) -> list[Message]:
        """The messages whose envelope was addressed to `address`."""
        with self._lock:
            raws = [raw for rcpt, raw in self._received if address in rcpt]
        return [email.message_from_bytes(raw) for raw in raws]

    def clear(self) -> None:
        with self._lock:
            self._received.clear()


def body_parts(message: Message) -> dict[str, str]:
    """The decoded text/plain and text/html parts of a message, by content type."""
    parts = {}
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            payload = part.get_payload(decode=True)
            parts[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return parts


@pytest.fixture
def smtp_server(settings):
    """Start an SMTP server on a free local port; Django sends its e-mail there."""
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    try:
        yield inbox
    finally:
        controller.stop()

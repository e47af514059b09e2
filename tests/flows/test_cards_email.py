"""The e-mail card, delivering to a real SMTP server (aiosmtpd) over the network."""

import socket

import pytest
from aiosmtpd.controller import Controller

from tests.flows.cards_helpers import error, outputs, run_card
from tests.mail import Inbox, _free_port, body_parts

pytestmark = pytest.mark.django_db


def test_send_delivers_text_and_html_to_every_recipient(smtp_server):
    result = outputs(
        "email.send",
        {
            "to": ["ann@example.com", "Bob Stone <bob@example.com>"],
            "cc": "carol@example.com",
            "bcc": "audit@example.com",
            "subject": "Your VPN access",
            "text": "Hello Ann,\nyour access is ready.",
            "html": "<p>Hello Ann,<br>your access is <b>ready</b>.</p>",
            "reply_to": "it@example.com",
        },
    )

    assert result == {
        "sent": 1,
        "recipients": [
            "ann@example.com",
            "Bob Stone <bob@example.com>",
            "carol@example.com",
            "audit@example.com",
        ],
    }
    [message] = smtp_server.messages
    assert message["To"] == "ann@example.com, Bob Stone <bob@example.com>"
    assert message["Cc"] == "carol@example.com"
    assert message["Bcc"] is None  # in the envelope only
    assert message["Subject"] == "Your VPN access"
    assert message["Reply-To"] == "it@example.com"
    assert message["From"] == "Gatehouse <gatehouse@localhost>"
    parts = {kind: text.replace("\r\n", "\n").strip() for kind, text in body_parts(message).items()}
    assert parts["text/plain"] == "Hello Ann,\nyour access is ready."
    assert parts["text/html"] == "<p>Hello Ann,<br>your access is <b>ready</b>.</p>"
    for address in ("ann@example.com", "bob@example.com", "carol@example.com", "audit@example.com"):
        assert len(smtp_server.to(address)) == 1


def test_send_takes_addresses_separated_by_commas_and_text_only(smtp_server):
    result = outputs(
        "email.send",
        {
            "to": '"Lee, Ann" <ann@example.com>, bob@example.com',
            "subject": "Hi",
            "text": "Plain only",
        },
    )
    assert result["recipients"] == ['"Lee, Ann" <ann@example.com>', "bob@example.com"]
    [message] = smtp_server.messages
    assert message.get_content_type() == "text/plain"
    assert body_parts(message)["text/plain"].strip() == "Plain only"
    assert len(smtp_server.to("ann@example.com")) == 1


@pytest.mark.parametrize(
    "inputs, message",
    [
        ({"to": "not-an-address"}, "input 'to': 'not-an-address' is not a valid e-mail address"),
        ({"to": ["ann@example.com", "bob@"]}, "input 'to': 'bob@' is not a valid e-mail address"),
        ({"to": "ann@example.com", "cc": [42]}, "input 'cc': expected e-mail addresses, got 42"),
        ({"to": []}, "input 'to': give at least one address"),
        ({"to": [f"u{n}@example.com" for n in range(101)]}, "101 recipients: at most 100"),
        ({"to": "ann@example.com", "subject": "Hi\nBcc: x@evil.example"}, "must be one line"),
    ],
)
def test_send_refuses_bad_input_and_sends_nothing(smtp_server, inputs, message):
    assert message in error("email.send", {"subject": "Hi", "text": "Body", **inputs})
    assert smtp_server.messages == []


def test_a_mail_server_that_is_down_fails_the_card_as_transient(settings):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5

    run, record = run_card(
        "email.send",
        {"to": "ann@example.com", "subject": "Hi", "text": "Body"},
        on_error={"policy": "retry", "retries": 2, "backoff_seconds": 0.01},
    )

    assert run.status == "failed"
    assert record.attempts == 3  # transient: retried twice
    assert record.error.startswith("could not reach the mail server: ")


class Refusing(Inbox):
    """Refuses recipients at RCPT: 550 (no such mailbox) or 451 (try later) by local part."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 No such mailbox"
        if address.startswith("later@"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def refusing_server(settings):
    inbox, port = Refusing(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    try:
        yield inbox
    finally:
        controller.stop()


def test_a_recipient_refused_for_good_fails_without_retry(refusing_server):
    run, record = run_card(
        "email.send",
        {"to": "nobody@example.com", "subject": "Hi", "text": "Body"},
        on_error={"policy": "retry", "retries": 2, "backoff_seconds": 0.01},
    )
    assert run.status == "failed" and record.attempts == 1
    assert "refused every recipient: nobody@example.com: 550 5.1.1 No such mailbox" in record.error


def test_a_recipient_refused_for_now_is_retried(refusing_server):
    run, record = run_card(
        "email.send",
        {"to": "later@example.com", "subject": "Hi", "text": "Body"},
        on_error={"policy": "retry", "retries": 1, "backoff_seconds": 0.01},
    )
    assert run.status == "failed" and record.attempts == 2
    assert "451 4.3.0 Try again later" in record.error


def test_one_refused_recipient_among_accepted_ones_does_not_stop_the_message(refusing_server):
    result = outputs(
        "email.send",
        {"to": ["ann@example.com", "nobody@example.com"], "subject": "Hi", "text": "Body"},
    )
    assert result["sent"] == 1
    assert len(refusing_server.to("ann@example.com")) == 1


def test_send_attaches_text_files_the_server_receives(smtp_server):
    outputs(
        "email.send",
        {
            "to": "audit@example.com",
            "subject": "Report",
            "text": "Attached.",
            "attachments": [
                {"filename": "report.csv", "content": "a,b\r\n1,2\r\n", "content_type": "text/csv"}
            ],
        },
    )

    (message,) = smtp_server.to("audit@example.com")
    (attached,) = [part for part in message.walk() if part.get_filename()]
    assert attached.get_filename() == "report.csv"
    assert attached.get_content_type() == "text/csv"
    assert attached.get_payload(decode=True).decode() == "a,b\r\n1,2\r\n"


@pytest.mark.parametrize(
    "attachment",
    [
        "report.csv",
        {"filename": "../etc/passwd", "content": "x"},
        {"filename": "a.csv", "content": 5},
        {"filename": "a.csv", "content": "x", "content_type": "csv"},
    ],
)
def test_send_refuses_a_bad_attachment_and_sends_nothing(smtp_server, attachment):
    message = error(
        "email.send",
        {"to": "a@example.com", "subject": "s", "text": "t", "attachments": [attachment]},
    )
    assert "attachment 1" in message
    assert smtp_server.messages == []

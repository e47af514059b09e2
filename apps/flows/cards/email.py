"""E-mail cards: send a message through Django's e-mail backend (SMTP in production)."""

from __future__ import annotations

import smtplib
from email.utils import formataddr, getaddresses
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import BadHeaderError, EmailMultiAlternatives, get_connection
from django.core.validators import validate_email

from apps.flows.errors import CardError, TransientCardError
from apps.flows.registry import Field, card
from apps.flows.types import ANY, LIST, NUMBER, TEXT

CATEGORY = "E-mail"
MAX_RECIPIENTS = 100
MAX_ATTACHMENTS = 10
MAX_ATTACHMENT_BYTES = 5_000_000
DEFAULT_TIMEOUT_SECONDS = 30  # when EMAIL_TIMEOUT is not set: a stuck server must not hang a run


def recipients(value: Any, name: str) -> list[str]:
    """The addresses of `value` (text with commas, or a list of texts); CardError on a bad one.

    Each address may carry a display name ("Ann Lee <ann@example.com>"); it is kept.
    """
    if value is None or value == "" or value == []:
        return []
    items = value if isinstance(value, list) else [value]
    found: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise CardError(f"input '{name}': expected e-mail addresses, got {item!r}")
        for display, address in getaddresses([item]):
            try:
                validate_email(address)
            except ValidationError:
                raise CardError(
                    f"input '{name}': {item.strip()!r} is not a valid e-mail address"
                ) from None
            found.append(formataddr((display, address)) if display else address)
    return found


def _text(message: bytes | str) -> str:
    return message.decode(errors="replace") if isinstance(message, bytes) else str(message)


def _refused(error: smtplib.SMTPException) -> CardError:
    """The right error for what the mail server said: 5xx is final, anything else passes."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        detail = "; ".join(
            f"{address}: {code} {_text(message)}"
            for address, (code, message) in error.recipients.items()
        )
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        kind = CardError if permanent else TransientCardError
        return kind(f"the mail server refused every recipient: {detail}")
    if isinstance(error, smtplib.SMTPResponseException) and not isinstance(
        error, smtplib.SMTPConnectError
    ):
        kind = CardError if 500 <= error.smtp_code < 600 else TransientCardError
        return kind(f"the mail server answered {error.smtp_code}: {_text(error.smtp_error)}")
    return TransientCardError(f"could not send the e-mail: {error}")


def _attachments(value: Any) -> list[tuple[str, str, str]]:
    """(filename, text content, content type) of each attachment; CardError for a bad one."""
    found, total = [], 0
    for number, item in enumerate(value or [], start=1):
        if not isinstance(item, dict):
            raise CardError(f"attachment {number}: must be an object with filename and content")
        filename, content = item.get("filename"), item.get("content")
        content_type = item.get("content_type") or "text/plain"
        if (
            not isinstance(filename, str)
            or not filename.strip()
            or any(ch in filename for ch in '/\\\r\n"')
        ):
            raise CardError(f"attachment {number}: needs a plain file name (no path, no quotes)")
        if not isinstance(content, str):
            raise CardError(f"attachment {number}: 'content' must be text")
        if not isinstance(content_type, str) or "/" not in content_type or "\n" in content_type:
            raise CardError(f"attachment {number}: 'content_type' must be like text/csv")
        total += len(content.encode())
        if total > MAX_ATTACHMENT_BYTES:
            raise CardError(f"attachments over {MAX_ATTACHMENT_BYTES} bytes in all")
        found.append((filename.strip(), content, content_type.strip()))
    if len(found) > MAX_ATTACHMENTS:
        raise CardError(f"{len(found)} attachments: at most {MAX_ATTACHMENTS}")
    return found


@card(
    "email.send",
    "Send e-mail",
    CATEGORY,
    inputs=[
        Field("to", ANY, description="an address, addresses separated by commas, or a list"),
        Field("cc", ANY, required=False, description="same forms as 'to'"),
        Field("bcc", ANY, required=False, description="same forms as 'to'"),
        Field("subject", TEXT),
        Field("text", TEXT, description="the plain-text body"),
        Field("html", TEXT, required=False, description="an HTML body, sent alongside the text"),
        Field("reply_to", TEXT, required=False, description="where answers should go"),
        Field(
            "attachments",
            LIST,
            required=False,
            description='files: [{"filename": "report.csv", "content": "text", '
            '"content_type": "text/csv"}]',
        ),
    ],
    outputs=[
        Field("sent", NUMBER, description="messages handed to the mail server (1)"),
        Field("recipients", LIST, description="every address the message went to"),
    ],
)
def send(context, *, to, cc, bcc, subject, text, html, reply_to, attachments):
    """Sends one e-mail (text, and HTML if given) from the portal's address."""
    to_list, cc_list, bcc_list = recipients(to, "to"), recipients(cc, "cc"), recipients(bcc, "bcc")
    reply_list = recipients(reply_to, "reply_to")
    everyone = to_list + cc_list + bcc_list
    if not to_list:
        raise CardError("input 'to': give at least one address")
    if len(everyone) > MAX_RECIPIENTS:
        raise CardError(f"{len(everyone)} recipients: at most {MAX_RECIPIENTS} per message")
    if "\n" in subject or "\r" in subject:
        raise CardError("input 'subject': must be one line")
    connection = get_connection(
        fail_silently=False,
        timeout=getattr(settings, "EMAIL_TIMEOUT", None) or DEFAULT_TIMEOUT_SECONDS,
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        to=to_list,
        cc=cc_list,
        bcc=bcc_list,
        reply_to=reply_list,
        connection=connection,
    )
    if html:
        message.attach_alternative(html, "text/html")
    for filename, content, content_type in _attachments(attachments):
        message.attach(filename, content, content_type)
    try:
        sent = message.send()
    except BadHeaderError as error:
        raise CardError(f"the message has a bad header: {error}") from None
    except smtplib.SMTPException as error:
        raise _refused(error) from error
    except OSError as error:  # connection refused, reset, timed out, TLS failed
        raise TransientCardError(f"could not reach the mail server: {error}") from error
    return {"sent": sent, "recipients": everyone}

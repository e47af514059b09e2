"""E-mail in development: one line per message on the console instead of the whole message."""

from __future__ import annotations

import logging
import re

from django.core.mail.backends.base import BaseEmailBackend

logger = logging.getLogger(__name__)

LINK = re.compile(r"https?://[^\s<>\"')]+")


def first_link(message) -> str | None:
    """The first web address in the plain text of `message`, else in its HTML alternative."""
    bodies = [message.body or ""]
    bodies += [content for content, _ in getattr(message, "alternatives", []) or []]
    for body in bodies:
        found = LINK.search(str(body))
        if found:
            return found.group(0)
    return None


class OneLineConsoleBackend(BaseEmailBackend):
    """Logs "mail to <recipients>: <subject> → <first link>" for each message, sends nothing.

    Django's console backend prints every part of every message, which buries the web server's
    log under multi-part e-mails; this says who would receive what, and the link to follow.
    """

    def send_messages(self, email_messages) -> int:
        count = 0
        for message in email_messages:
            recipients = ", ".join(message.recipients())
            if not recipients:
                continue
            link = first_link(message)
            subject = " ".join(str(message.subject).split())
            logger.info("mail to %s: %s%s", recipients, subject, f" → {link}" if link else "")
            count += 1
        return count

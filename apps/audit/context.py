"""Per-request (or per-task) facts that every event written meanwhile should carry."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from contextvars import ContextVar

correlation_id_var: ContextVar[str] = ContextVar("correlation_id", default="")
client_ip_var: ContextVar[str | None] = ContextVar("client_ip", default=None)


def new_correlation_id() -> str:
    """A fresh identifier tying together the events of one request or run."""
    return uuid.uuid4().hex


def current_correlation_id() -> str:
    """The correlation id in force, or a new one when nothing set it."""
    return correlation_id_var.get() or new_correlation_id()


@contextmanager
def correlation(correlation_id: str | None = None, client_ip: str | None = None):
    """Run a block with a correlation id (and client address) attached to its events."""
    id_token = correlation_id_var.set(correlation_id or new_correlation_id())
    ip_token = client_ip_var.set(client_ip)
    try:
        yield correlation_id_var.get()
    finally:
        correlation_id_var.reset(id_token)
        client_ip_var.reset(ip_token)

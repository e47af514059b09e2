"""Stored connections for outbound calls, seen from the cards: a name in, credentials out.

The stored-connection model (`apps.flows.stored_connections`) registers the resolver at start
up; cards never read connection rows themselves, so the HTTP card does not change when the
model does. A resolver takes a connection name and returns a `ResolvedConnection`, or None when
there is no such connection; it may raise CardError itself (a disabled connection, a token
endpoint that refuses).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from requests.auth import AuthBase

from apps.flows.errors import CardError


@dataclass(frozen=True)
class ResolvedConnection:
    """What a call through a connection carries.

    - `auth`: a `requests.auth.AuthBase` (basic, an OAuth 2.0 bearer token...) or None;
    - `headers`: headers sent with every request (they win over the card's own of that name);
    - `allowed_private_hosts`: host names (lower case) on private, loopback or link-local
      addresses this connection may call; every other host stays public-only;
    - `refresh`: for credentials that can be renewed (an OAuth 2.0 token), a function giving
      fresh `auth`, called once after a 401; None for fixed credentials.
    """

    auth: AuthBase | None = None
    headers: dict[str, str] = field(default_factory=dict)
    allowed_private_hosts: frozenset[str] = frozenset()
    refresh: Callable[[], AuthBase | None] | None = None


def host_key(host: str) -> str:
    """A host as `allowed_private_hosts` lists it: lower case, IPv6 without brackets."""
    return host.strip().lower().strip("[]")


ConnectionResolver = Callable[[str], ResolvedConnection | None]

_resolver: ConnectionResolver | None = None


def register_connection_resolver(func: ConnectionResolver | None) -> ConnectionResolver | None:
    """Make `func` the resolver of connection names (None removes it); returns the previous one."""
    global _resolver
    previous, _resolver = _resolver, func
    return previous


def resolve_connection(name: str) -> ResolvedConnection:
    """The connection `name`, ready to call through, or CardError."""
    if _resolver is None:
        raise CardError("connections are not configured")
    resolved = _resolver(name)
    if resolved is None:
        raise CardError(f"no connection named '{name}'")
    return resolved

"""Stored connections for outbound calls, seen from the cards: a name in, credentials out.

The stored-connection model (OAuth 2.0 client credentials, basic, bearer, custom header, with
secrets encrypted at rest) registers one resolver here when it arrives; until then, a card that
names a connection fails with "connections are not configured". Cards never read connection
rows themselves, so the HTTP card does not change when the model does.

A resolver takes a connection name and returns `(auth, extra_headers, allow_private)`, or None
when there is no such connection:

- `auth`: a `requests.auth.AuthBase` (an OAuth2 session's auth, HTTPBasicAuth...) or None;
- `extra_headers`: headers sent with every request through the connection (they win over the
  card's own headers of the same name);
- `allow_private`: whether the connection may reach private, loopback and link-local addresses.

It may raise CardError itself (a disabled connection, a token endpoint that refuses).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from requests.auth import AuthBase

from apps.flows.errors import CardError

ResolvedConnection = tuple[AuthBase | None, dict[str, str], bool]
ConnectionResolver = Callable[[str], tuple[AuthBase | None, Mapping[str, Any], bool] | None]

_resolver: ConnectionResolver | None = None


def register_connection_resolver(func: ConnectionResolver | None) -> ConnectionResolver | None:
    """Make `func` the resolver of connection names (None removes it); returns the previous one."""
    global _resolver
    previous, _resolver = _resolver, func
    return previous


def resolve_connection(name: str) -> ResolvedConnection:
    """`(auth, extra_headers, allow_private)` of the connection `name`, or CardError."""
    if _resolver is None:
        raise CardError("connections are not configured")
    resolved = _resolver(name)
    if resolved is None:
        raise CardError(f"no connection named '{name}'")
    auth, headers, allow_private = resolved
    return (
        auth,
        {str(key): str(value) for key, value in (headers or {}).items()},
        bool(allow_private),
    )

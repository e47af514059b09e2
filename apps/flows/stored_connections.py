"""Stored connections in use: the resolver the cards call, OAuth 2.0 tokens, the admin's test.

OAuth 2.0 client credentials (requests-oauthlib's `BackendApplicationClient` and
`OAuth2Session.fetch_token`, the client authenticating with HTTP basic as RFC 6749 §2.3.1
prefers): the access token is kept, encrypted, on the connection's row with its expiry, so
every run and every worker reuses it until 30 seconds before it expires; a call answered 401
fetches a new one and is sent once more. Token calls are guarded like the HTTP card's own: a
private, loopback or link-local address only for a host the connection lists.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import requests
from django.utils import timezone
from oauthlib.oauth2 import BackendApplicationClient, InsecureTransportError, OAuth2Error
from requests.auth import AuthBase, HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from apps.flows.cards import chat as chat_card
from apps.flows.cards import http as http_card
from apps.flows.cards.http import check_destination, guard_session
from apps.flows.connections import ResolvedConnection, host_key
from apps.flows.encryption import EncryptionNotConfigured, SecretUnreadable, decrypt, encrypt
from apps.flows.errors import CardError, TransientCardError
from apps.flows.models import Connection, ConnectionKind

TOKEN_EXPIRY_MARGIN = timedelta(seconds=30)
TOKEN_TIMEOUT_SECONDS = 20
TEST_TIMEOUT_SECONDS = 20


class BearerAuth(AuthBase):
    """`Authorization: Bearer <token>` on every request."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def allowed_hosts_of(connection: Connection) -> frozenset[str]:
    return frozenset(
        host_key(host) for host in (connection.allowed_private_hosts or []) if str(host).strip()
    )


def secret_of(connection: Connection) -> str:
    """The connection's decrypted secret, or CardError saying why it cannot be read."""
    try:
        return decrypt(connection.encrypted_secret)
    except (SecretUnreadable, EncryptionNotConfigured) as error:
        raise CardError(f"connection '{connection.name}': {error}") from None


def usable(name: str) -> Connection | None:
    """The enabled connection `name` (None when there is none; CardError when disabled)."""
    connection = Connection.objects.filter(name=name).first()
    if connection is None:
        return None
    if not connection.enabled:
        raise CardError(f"the connection '{name}' is disabled")
    return connection


def resolve(name: str) -> ResolvedConnection | None:
    """The resolver the HTTP card calls (registered in FlowsConfig.ready)."""
    connection = usable(name)
    if connection is None:
        return None
    if connection.is_chat:
        raise CardError(
            f"the connection '{name}' is a chat webhook: post to it with the chat.post card"
        )
    return credentials(connection)


def credentials(connection: Connection) -> ResolvedConnection:
    hosts = allowed_hosts_of(connection)
    kind = connection.kind
    if kind == ConnectionKind.OAUTH2_CLIENT_CREDENTIALS:
        return ResolvedConnection(
            auth=BearerAuth(access_token(connection)),
            allowed_private_hosts=hosts,
            refresh=lambda: BearerAuth(access_token(connection, renew=True)),
        )
    secret = secret_of(connection)
    if kind == ConnectionKind.BASIC:
        return ResolvedConnection(
            auth=HTTPBasicAuth(connection.username, secret), allowed_private_hosts=hosts
        )
    if kind == ConnectionKind.BEARER:
        return ResolvedConnection(auth=BearerAuth(secret), allowed_private_hosts=hosts)
    if kind == ConnectionKind.HEADER:
        return ResolvedConnection(
            headers={connection.header_name: secret}, allowed_private_hosts=hosts
        )
    raise CardError(f"the connection '{connection.name}' has an unknown kind {kind!r}")


# --- OAuth 2.0 client credentials -----------------------------------------------------------


def access_token(connection: Connection, *, renew: bool = False) -> str:
    """The connection's access token: the cached one while it is valid (and not `renew`),
    else a new one from the token endpoint, cached on the row for every later run."""
    now = timezone.now()
    expires_at = connection.access_token_expires_at
    if (
        not renew
        and connection.encrypted_access_token
        and (expires_at is None or expires_at - TOKEN_EXPIRY_MARGIN > now)
    ):
        try:
            return decrypt(connection.encrypted_access_token)
        except SecretUnreadable:
            pass  # a key was rotated away: fetch a new one
    return store_token(connection, fetch_token(connection), now=now)


def store_token(connection: Connection, token: dict[str, Any], *, now=None) -> str:
    """Cache a token fetched for `connection` on its row (encrypted); the access token."""
    now = now or timezone.now()
    expires_in = token.get("expires_in")
    try:
        expires_at = now + timedelta(seconds=float(expires_in)) if expires_in else None
    except (TypeError, ValueError):
        expires_at = None
    stored = {
        "encrypted_access_token": encrypt(token["access_token"]),
        "access_token_expires_at": expires_at,
    }
    # A cache, not a change anyone made: no event, no updated_at.
    Connection.objects.filter(pk=connection.pk).update(**stored)
    for name, value in stored.items():
        setattr(connection, name, value)
    return token["access_token"]


def _server_error_is_transient(response: requests.Response) -> requests.Response:
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientCardError(
            f"the token endpoint of '{_host(response.url)}' answered HTTP {response.status_code}"
        )
    return response


def _host(url: str) -> str:
    return requests.utils.urlparse(url).hostname or url


def fetch_token(connection: Connection) -> dict[str, Any]:
    """A new token from the connection's token endpoint (client credentials grant)."""
    secret = secret_of(connection)
    hosts = allowed_hosts_of(connection)
    check_destination(connection.token_url, allowed_hosts=hosts)
    client = BackendApplicationClient(client_id=connection.client_id)
    extra = {"scope": connection.scope.split()} if connection.scope.strip() else {}
    with guard_session(OAuth2Session(client=client), allowed_hosts=hosts) as oauth:
        oauth.max_redirects = 0  # a token endpoint that redirects is refused, not followed
        oauth.register_compliance_hook("access_token_response", _server_error_is_transient)
        try:
            token = oauth.fetch_token(
                token_url=connection.token_url,
                client_id=connection.client_id,
                client_secret=secret,
                timeout=TOKEN_TIMEOUT_SECONDS,
                **extra,
            )
        except InsecureTransportError:
            raise CardError(
                f"connection '{connection.name}': the token URL must use https"
            ) from None
        except OAuth2Error as error:
            detail = error.error + (f": {error.description}" if error.description else "")
            raise CardError(
                f"connection '{connection.name}': the token endpoint refused ({detail})"
            ) from None
        except requests.exceptions.Timeout:
            raise TransientCardError(
                f"connection '{connection.name}': the token endpoint timed out"
            ) from None
        except requests.exceptions.ConnectionError as error:
            raise TransientCardError(
                f"connection '{connection.name}': could not reach the token endpoint ({error})"
            ) from None
        except requests.exceptions.RequestException as error:
            raise CardError(
                f"connection '{connection.name}': the token request failed ({error})"
            ) from None
    if not token.get("access_token"):
        raise CardError(f"connection '{connection.name}': the token endpoint gave no token")
    return token


# --- The admin's "test connection" ----------------------------------------------------------


def try_connection(connection: Connection) -> tuple[bool, str]:
    """Try the connection; whether it worked and what the other side answered."""
    try:
        if connection.test_url:
            if connection.is_chat:
                raise CardError(
                    "a chat webhook is tested by posting to it: leave the test URL empty"
                )
            answer = http_card.request(
                None,
                method="GET",
                url=connection.test_url,
                headers=None,
                query=None,
                body=None,
                timeout=TEST_TIMEOUT_SECONDS,
                connection=connection.name,
                follow_redirects=True,
            )
            return True, f"HTTP {answer['status']} from {_host(connection.test_url)}"
        if connection.kind == ConnectionKind.OAUTH2_CLIENT_CREDENTIALS:
            if not connection.enabled:
                raise CardError(f"the connection '{connection.name}' is disabled")
            token = fetch_token(connection)
            store_token(connection, token)
            lifetime = token.get("expires_in")
            return True, "a token was fetched" + (
                f" (valid {lifetime} s)" if lifetime is not None else ""
            )
        if connection.is_chat:
            answer = chat_card.post_message(
                connection.name, text="Gatehouse: testing this connection.", title=""
            )
            return True, f"HTTP {answer['status']}: the test message was posted"
    except CardError as error:
        return False, str(error)
    return False, "nothing to test: give the connection a test URL"

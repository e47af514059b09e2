"""The HTTP card: call an API, directly or through a stored connection.

Outbound calls refuse anything but http and https, and refuse private, loopback, link-local,
multicast, reserved and other non-public addresses unless the connection lists the host among
its `allowed_private_hosts` or the FLOWS_HTTP_ALLOW_PRIVATE_NETWORKS setting allows them all.
The check is made twice: every address the host name resolves to is checked before the call
(for a clear message), and the address the socket actually connected to is checked again (so a
name that resolves differently the second time, DNS rebinding, does not slip through).
Redirects are followed only to the same host, each hop checked again; a redirect elsewhere is
handed back as the response. Proxies and .netrc from the environment are ignored.

Timeouts, connection failures, HTTP 429 and 5xx are transient (the card's retry policy applies);
other 4xx answers are final. A 401 through a connection whose credentials can be renewed (an
OAuth 2.0 token) renews them and sends the request once more.
"""

from __future__ import annotations

import codecs
import ipaddress
import json
import socket
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from apps.flows.connections import ResolvedConnection, host_key, resolve_connection
from apps.flows.errors import CardError, TransientCardError
from apps.flows.registry import Field, card
from apps.flows.types import ANY, BOOLEAN, NUMBER, OBJECT, TEXT

CATEGORY = "HTTP"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
SCHEMES = ("http", "https")
MAX_TIMEOUT_SECONDS = 60
DEFAULT_TIMEOUT_SECONDS = 30
MAX_RESPONSE_BYTES = 1_000_000
MAX_REDIRECTS = 5
EXCERPT_CHARS = 200
USER_AGENT = "Gatehouse-Flows/1"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedAddress(CardError):
    """The call would reach an address outbound calls may not reach."""


# --- Which addresses may be called ----------------------------------------------------------


def blocked_reason(address: str) -> str | None:
    """Why `address` may not be called ("loopback", "private"...), or None for a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    for reason, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return reason
    return None if ip.is_global else "non-public"


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (one lookup; the connection checks its own again)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        kind = TransientCardError if error.errno == socket.EAI_AGAIN else CardError
        raise kind(f"could not resolve the host {host}: {error.strerror}") from None
    except UnicodeError:
        raise CardError(f"the host {host!r} is not a valid name") from None
    return sorted({info[4][0] for info in infos})


def allow_private_for(host: str | None, allowed_hosts: frozenset[str] = frozenset()) -> bool:
    """Whether calls to `host` may reach non-public addresses: the global switch, or a
    connection that lists the host."""
    if getattr(settings, "FLOWS_HTTP_ALLOW_PRIVATE_NETWORKS", False):
        return True
    return bool(host) and host_key(host) in allowed_hosts


def check_destination(
    url: str, *, allow_private: bool = False, allowed_hosts: frozenset[str] = frozenset()
) -> None:
    """Refuse a URL that is not http(s), has no host, or reaches a non-public address (unless
    `allow_private`, or the host is among `allowed_hosts`)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise CardError(
            f"only http and https URLs may be called, not {scheme + ':' if scheme else url!r}"
        )
    host = parts.hostname
    if not host:
        raise CardError(f"the URL {url!r} has no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise CardError(f"the URL {url!r} has a bad port") from None
    if allow_private or allow_private_for(host, allowed_hosts):
        return
    for address in resolve(host, port):
        reason = blocked_reason(address)
        if reason:
            raise BlockedAddress(
                f"refused to call {host}: {address} is a {reason} address; calls to private "
                "networks need a connection that allows them"
            )


class _CheckedPeerMixin:
    """A urllib3 connection that checks the address it connected to before sending anything."""

    def _new_conn(self):
        sock = super()._new_conn()
        try:
            address = sock.getpeername()[0]
            reason = blocked_reason(address)
        except Exception:
            sock.close()
            raise
        if reason:
            sock.close()
            raise BlockedAddress(
                f"refused to connect to {self.host}: it answered from {address}, a {reason} address"
            )
        return sock


class _CheckedHTTPConnection(_CheckedPeerMixin, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedPeerMixin, HTTPSConnection):
    pass


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class PublicOnlyAdapter(HTTPAdapter):
    """Requests' adapter whose connections refuse non-public peers."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPPool,
            "https": _CheckedHTTPSPool,
        }


def guard_session(
    session: requests.Session,
    *,
    allow_private: bool = False,
    allowed_hosts: frozenset[str] = frozenset(),
) -> requests.Session:
    """Make `session` refuse non-public peers, except for `allowed_hosts` (all when
    `allow_private` or the global switch): also used for OAuth 2.0 token and webhook calls."""
    session.trust_env = False  # no proxies or .netrc credentials from the environment
    session.max_redirects = MAX_REDIRECTS
    if allow_private or getattr(settings, "FLOWS_HTTP_ALLOW_PRIVATE_NETWORKS", False):
        return session
    for scheme in SCHEMES:
        session.mount(f"{scheme}://", PublicOnlyAdapter())
        for host in allowed_hosts:
            # requests picks the longest matching prefix: "host/" and "host:" (with a port),
            # never a bare "host" prefix, which "host.evil.example" would match too.
            shown = f"[{host}]" if ":" in host else host
            session.mount(f"{scheme}://{shown}/", HTTPAdapter())
            session.mount(f"{scheme}://{shown}:", HTTPAdapter())
    return session


# --- The card -------------------------------------------------------------------------------


def _text_values(values: dict[str, Any] | None, name: str) -> dict[str, str]:
    checked: dict[str, str] = {}
    for key, value in (values or {}).items():
        if isinstance(value, (dict, list)) or value is None:
            raise CardError(f"input '{name}': the value of {key!r} must be text")
        checked[str(key)] = "true" if value is True else "false" if value is False else str(value)
    return checked


def _query(values: dict[str, Any] | None) -> dict[str, Any]:
    query: dict[str, Any] = {}
    for key, value in (values or {}).items():
        if isinstance(value, list):
            query[str(key)] = [str(item) for item in value]
        elif isinstance(value, dict):
            raise CardError(f"input 'query': the value of {key!r} must be text or a list")
        elif value is not None:
            query[str(key)] = _text_values({key: value}, "query")[str(key)]
    return query


def _same_site(url: str, target: str) -> bool:
    """Whether a redirect from `url` to `target` stays on the same host and port (http may
    move to https)."""
    here, there = urlsplit(url), urlsplit(target)
    try:
        here_port = here.port or (443 if here.scheme == "https" else 80)
        there_port = there.port or (443 if there.scheme == "https" else 80)
    except ValueError:
        return False
    if (here.hostname or "").lower() != (there.hostname or "").lower():
        return False
    if here.scheme == there.scheme:
        return here_port == there_port
    return here.scheme == "http" and there.scheme == "https"


def _remaining(deadline: float, timeout: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TransientCardError(f"the request timed out after {timeout:g} s")
    return left


def _read(response: requests.Response, *, deadline: float, timeout: float) -> tuple[bytes, bool]:
    """The body, at most MAX_RESPONSE_BYTES of it, and whether there was more."""
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=64 * 1024):
            _remaining(deadline, timeout)
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                chunks.append(chunk[: MAX_RESPONSE_BYTES - (size - len(chunk))])
                return b"".join(chunks), True
            chunks.append(chunk)
    except requests.exceptions.RequestException as error:
        raise TransientCardError(f"the response broke off: {error}") from None
    finally:
        response.close()
    return b"".join(chunks), False


def _content_type(response: requests.Response) -> tuple[str, str | None]:
    header = response.headers.get("Content-Type", "")
    mime, _, rest = header.partition(";")
    charset = None
    for parameter in rest.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'")
    return mime.strip().lower(), charset


def _decode_text(raw: bytes, charset: str | None) -> str:
    try:
        codec = codecs.lookup(charset or "utf-8").name
    except LookupError:
        codec = "utf-8"
    return raw.decode(codec, errors="replace")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON a flow can keep")


def _body(raw: bytes, response: requests.Response, method: str) -> Any:
    mime, charset = _content_type(response)
    is_json = mime == "application/json" or mime.endswith("+json")
    if method == "HEAD" or not raw:
        return None if is_json or method == "HEAD" else ""
    if is_json:
        try:
            return json.loads(raw, parse_constant=_reject_constant)
        except ValueError:
            pass  # says JSON, is not: hand back the text
    return _decode_text(raw, charset)


def _failure(status: int, url: str, raw: bytes, response: requests.Response) -> CardError:
    _, charset = _content_type(response)
    excerpt = " ".join(_decode_text(raw[: EXCERPT_CHARS * 4], charset).split())[:EXCERPT_CHARS]
    host = urlsplit(url).hostname
    message = f"HTTP {status} from {host}" + (f": {excerpt}" if excerpt else "")
    if status == 429 or status >= 500:
        retry_after = response.headers.get("Retry-After")
        if retry_after:
            message += f" (Retry-After: {retry_after})"
        return TransientCardError(message)
    return CardError(message)


# Calls that change nothing on the server: a run lost in one may call it again.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@card(
    "http.request",
    "HTTP request",
    CATEGORY,
    inputs=[
        Field("method", TEXT, required=False, default="GET", description=", ".join(METHODS)),
        Field("url", TEXT, description="http or https"),
        Field("headers", OBJECT, required=False, description="header names and text values"),
        Field("query", OBJECT, required=False, description="query parameters (text or lists)"),
        Field("body", ANY, required=False, description="an object or list (sent as JSON), or text"),
        Field(
            "timeout",
            NUMBER,
            required=False,
            default=DEFAULT_TIMEOUT_SECONDS,
            description=f"seconds for the whole call, at most {MAX_TIMEOUT_SECONDS}",
        ),
        Field("connection", TEXT, required=False, description="a stored connection's name"),
        Field(
            "follow_redirects",
            BOOLEAN,
            required=False,
            default=True,
            description="follow redirects to the same host (never to another)",
        ),
    ],
    outputs=[
        Field("status", NUMBER),
        Field("headers", OBJECT, description="response headers, names in lower case"),
        Field("body", ANY, description="parsed JSON for a JSON response, else text"),
        Field("ok", BOOLEAN, description="true for a 2xx status"),
    ],
    idempotent=lambda inputs: (inputs.get("method") or "GET").strip().upper() in SAFE_METHODS,
)
def request(context, *, method, url, headers, query, body, timeout, connection, follow_redirects):
    """Calls an HTTP API and gives its status, headers and body (JSON parsed).

    `connection` names a stored connection (admin: Flows → Connections) whose credentials go
    with the call: an OAuth 2.0 client-credentials token (fetched once, reused until it
    expires, fetched again and the call sent once more after a 401), basic, bearer, or a custom
    header such as an API key. Private, loopback and link-local addresses are refused unless
    the connection lists the host among its allowed private hosts."""
    method = (method or "GET").strip().upper()
    if method not in METHODS:
        raise CardError(f"unknown method {method!r} (one of {', '.join(METHODS)})")
    timeout = DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout
    if not 0 < timeout <= MAX_TIMEOUT_SECONDS:
        raise CardError(f"input 'timeout': between 0 and {MAX_TIMEOUT_SECONDS} seconds")
    resolved = resolve_connection(connection) if connection else ResolvedConnection()
    auth, refresh, allowed_hosts = resolved.auth, resolved.refresh, resolved.allowed_private_hosts
    sent_headers = {"User-Agent": USER_AGENT, **_text_values(headers, "headers")}
    sent_headers.update(resolved.headers)
    params: dict[str, Any] | None = _query(query)
    json_body, data = (body, None) if isinstance(body, (dict, list)) else (None, body)
    if isinstance(data, (bool, int, float)):
        json_body, data = data, None
    elif isinstance(data, str):
        data = data.encode("utf-8")

    deadline = time.monotonic() + timeout
    with guard_session(requests.Session(), allowed_hosts=allowed_hosts) as session:
        for _hop in range(MAX_REDIRECTS + 1):
            check_destination(url, allowed_hosts=allowed_hosts)
            for _attempt in range(2):
                response = _send(
                    session,
                    method,
                    url,
                    headers=sent_headers,
                    params=params,
                    json_body=json_body,
                    data=data,
                    auth=auth,
                    timeout=_remaining(deadline, timeout),
                    total=timeout,
                )
                if response.status_code != 401 or refresh is None:
                    break
                # The server refused the credentials before doing anything: renew them once.
                response.close()
                auth, refresh = refresh(), None
            location = response.headers.get("Location")
            if not (follow_redirects is not False and response.is_redirect and location):
                break
            target = urljoin(response.url, location)
            if not _same_site(response.url, target):
                break  # another host: hand the redirect back rather than follow it silently
            response.close()
            if response.status_code == 303 or (
                response.status_code in (301, 302) and method == "POST"
            ):
                method = "GET" if method != "HEAD" else method
                json_body = data = None
                sent_headers = {
                    k: v for k, v in sent_headers.items() if k.lower() != "content-type"
                }
            url, params = target, None
        else:
            raise CardError(f"more than {MAX_REDIRECTS} redirects")
        raw, truncated = _read(response, deadline=deadline, timeout=timeout)

    status = response.status_code
    if status >= 400:
        raise _failure(status, response.url, raw, response)
    if truncated:
        raise CardError(f"the response is larger than {MAX_RESPONSE_BYTES} bytes (limit)")
    return {
        "status": status,
        "headers": {name.lower(): value for name, value in response.headers.items()},
        "body": _body(raw, response, method),
        "ok": 200 <= status < 300,
    }


def _send(session, method, url, *, headers, params, json_body, data, auth, timeout, total):
    try:
        return session.request(
            method,
            url,
            headers=headers,
            params=params,
            json=json_body,
            data=data,
            auth=auth,
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        )
    except requests.exceptions.Timeout:
        raise TransientCardError(f"the request to {url} timed out after {total:g} s") from None
    except requests.exceptions.SSLError as error:
        raise CardError(f"TLS failed for {url}: {error}") from None
    except requests.exceptions.ConnectionError as error:
        raise TransientCardError(f"could not connect to {url}: {_reason(error)}") from None
    except (requests.exceptions.InvalidURL, requests.exceptions.InvalidHeader) as error:
        raise CardError(f"bad request: {error}") from None
    except requests.exceptions.RequestException as error:
        raise CardError(f"the request failed: {error}") from None


def _reason(error: Exception) -> str:
    """The innermost cause of a requests error, which says what actually went wrong."""
    cause: BaseException = error
    for _ in range(10):
        inner = cause.__cause__ or (cause.args[0] if cause.args else None)
        if not isinstance(inner, BaseException):
            break
        cause = inner
    return str(cause) or type(cause).__name__

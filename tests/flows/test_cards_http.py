"""The HTTP card, calling a real HTTP server the test starts on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from requests.auth import HTTPBasicAuth

from apps.flows import connections
from apps.flows.cards import http as http_card
from apps.flows.connections import ResolvedConnection
from tests.flows.cards_helpers import error, outputs, run_card

pytestmark = pytest.mark.django_db

RETRY = {"policy": "retry", "retries": 3, "backoff_seconds": 0.01}


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def json_answer(value, status=200, **headers) -> Answer:
    return Answer(
        status, json.dumps(value).encode(), {"Content-Type": "application/json", **headers}
    )


def text_answer(text, status=200, content_type="text/plain; charset=utf-8", **headers) -> Answer:
    return Answer(status, text.encode(), {"Content-Type": content_type, **headers})


@dataclass
class Seen:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes


class Server:
    """What the test server answers, by path (one answer, a list played in turn, or a function
    of the request), and every request it received."""

    def __init__(self) -> None:
        self.routes: dict[str, Answer | list[Answer] | Callable[[Seen], Answer]] = {}
        self.seen: list[Seen] = []
        self.base = ""

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def answer(self, request: Seen) -> Answer:
        route = self.routes.get(request.path)
        if route is None:
            return text_answer("no such page", status=404)
        if isinstance(route, list):
            return route.pop(0) if len(route) > 1 else route[0]
        return route(request) if callable(route) else route


@pytest.fixture
def server():
    state = Server()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_one(self):
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            request = Seen(
                self.command,
                parts.path,
                parse_qs(parts.query),
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length),
            )
            state.seen.append(request)
            answer = state.answer(request)
            time.sleep(answer.delay)
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_one

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def no_private_networks(settings):
    settings.FLOWS_HTTP_ALLOW_PRIVATE_NETWORKS = False


@pytest.fixture
def resolver():
    """Register a connection resolver for the test: `resolver[name] = ResolvedConnection(...)`."""
    known: dict = {}
    previous = connections.register_connection_resolver(known.get)
    try:
        yield known
    finally:
        connections.register_connection_resolver(previous)


# --- Calls that work ------------------------------------------------------------------------


def test_get_parses_a_json_answer_and_sends_the_query(server):
    server.routes["/users"] = json_answer({"users": [{"id": 1}], "total": 1}, **{"X-Page": "1"})
    result = outputs(
        "http.request",
        {
            "url": server.url("/users"),
            "query": {"q": "ann lee", "tag": ["a", "b"], "active": True},
            "headers": {"Accept": "application/json"},
        },
    )
    assert result["status"] == 200 and result["ok"] is True
    assert result["body"] == {"users": [{"id": 1}], "total": 1}
    assert result["headers"]["content-type"] == "application/json"
    assert result["headers"]["x-page"] == "1"
    [request] = server.seen
    assert request.method == "GET"
    assert request.query == {"q": ["ann lee"], "tag": ["a", "b"], "active": ["true"]}
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"] == "Gatehouse-Flows/1"


def test_post_sends_an_object_as_json(server):
    server.routes["/echo"] = lambda seen: json_answer(
        {"got": json.loads(seen.body), "type": seen.headers["content-type"]}, status=201
    )
    result = outputs(
        "http.request",
        {
            "method": "post",
            "url": server.url("/echo"),
            "body": {"email": "ann@example.com", "groups": ["VPN"], "n": 2},
        },
    )
    assert result["status"] == 201 and result["ok"] is True
    assert result["body"] == {
        "got": {"email": "ann@example.com", "groups": ["VPN"], "n": 2},
        "type": "application/json",
    }


def test_text_bodies_go_and_come_back_as_text(server):
    server.routes["/echo"] = lambda seen: text_answer(
        "you said: " + seen.body.decode(), content_type="text/html; charset=utf-8"
    )
    result = outputs(
        "http.request",
        {
            "method": "PUT",
            "url": server.url("/echo"),
            "body": "héllo",
            "headers": {"Content-Type": "text/plain; charset=utf-8"},
        },
    )
    assert result["body"] == "you said: héllo"


def test_a_json_content_type_with_a_body_that_is_not_json_comes_back_as_text(server):
    server.routes["/odd"] = Answer(200, b"NaN", {"Content-Type": "application/json"})
    assert outputs("http.request", {"url": server.url("/odd")})["body"] == "NaN"


def test_same_host_redirects_are_followed_and_other_hosts_are_not(server):
    port = urlsplit(server.base).port
    server.routes["/old"] = Answer(302, headers={"Location": "/new"})
    server.routes["/new"] = json_answer({"here": True})
    server.routes["/away"] = Answer(302, headers={"Location": f"http://localhost:{port}/new"})

    followed = outputs("http.request", {"url": server.url("/old")})
    assert followed["status"] == 200 and followed["body"] == {"here": True}

    handed_back = outputs("http.request", {"url": server.url("/away")})
    assert handed_back["status"] == 302 and handed_back["ok"] is False
    assert handed_back["headers"]["location"] == f"http://localhost:{port}/new"
    not_followed = outputs("http.request", {"url": server.url("/old"), "follow_redirects": False})
    assert not_followed["status"] == 302
    assert [seen.path for seen in server.seen] == ["/old", "/new", "/away", "/old"]


def test_a_post_redirected_with_303_becomes_a_get(server):
    server.routes["/submit"] = Answer(303, headers={"Location": "/done"})
    server.routes["/done"] = json_answer({"done": True})
    result = outputs(
        "http.request", {"method": "POST", "url": server.url("/submit"), "body": {"a": 1}}
    )
    assert result["body"] == {"done": True}
    assert [(seen.method, seen.body) for seen in server.seen] == [
        ("POST", b'{"a": 1}'),
        ("GET", b""),
    ]


# --- Failures: transient or final ----------------------------------------------------------


def test_a_503_then_a_200_succeeds_on_the_second_attempt(server):
    server.routes["/flaky"] = [
        text_answer("down for maintenance", status=503),
        json_answer({"ok": 1}),
    ]
    run, record = run_card("http.request", {"url": server.url("/flaky")}, on_error=RETRY)
    assert run.status == "succeeded", run.error
    assert record.attempts == 2
    assert record.outputs["body"] == {"ok": 1}
    assert len(server.seen) == 2


def test_a_server_that_keeps_failing_exhausts_the_retries_with_status_and_excerpt(server):
    server.routes["/broken"] = text_answer("database   unavailable\n" + "x" * 1000, status=500)
    run, record = run_card(
        "http.request",
        {"url": server.url("/broken")},
        on_error={"policy": "retry", "retries": 2, "backoff_seconds": 0.01},
    )
    assert run.status == "failed" and record.attempts == 3
    assert record.error.startswith("HTTP 500 from 127.0.0.1: database unavailable xxx")
    assert len(record.error) < 300


def test_429_is_transient_and_says_when_to_come_back(server):
    server.routes["/busy"] = text_answer("slow down", status=429, **{"Retry-After": "2"})
    run, record = run_card(
        "http.request",
        {"url": server.url("/busy")},
        on_error={"policy": "retry", "retries": 1, "backoff_seconds": 0.01},
    )
    assert run.status == "failed" and record.attempts == 2
    assert record.error == "HTTP 429 from 127.0.0.1: slow down (Retry-After: 2)"


def test_a_404_fails_at_once_without_retry(server):
    run, record = run_card("http.request", {"url": server.url("/missing")}, on_error=RETRY)
    assert run.status == "failed"
    assert record.attempts == 1
    assert record.error == "HTTP 404 from 127.0.0.1: no such page"


def test_a_server_slower_than_the_timeout_is_transient(server):
    server.routes["/slow"] = Answer(200, b"late", delay=1.0)
    started = time.monotonic()
    run, record = run_card(
        "http.request",
        {"url": server.url("/slow"), "timeout": 0.3},
        on_error={"policy": "retry", "retries": 1, "backoff_seconds": 0.01},
    )
    assert run.status == "failed" and record.attempts == 2
    assert record.error == f"the request to {server.url('/slow')} timed out after 0.3 s"
    assert time.monotonic() - started < 2.5


def test_nobody_listening_is_transient():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run, record = run_card(
        "http.request",
        {"url": f"http://127.0.0.1:{port}/"},
        on_error={"policy": "retry", "retries": 1, "backoff_seconds": 0.01},
    )
    assert run.status == "failed" and record.attempts == 2
    assert record.error.startswith(f"could not connect to http://127.0.0.1:{port}/: ")
    assert "refused" in record.error.lower()


def test_an_answer_over_the_size_limit_fails(server, monkeypatch):
    monkeypatch.setattr(http_card, "MAX_RESPONSE_BYTES", 1000)
    server.routes["/big"] = text_answer("y" * 1001)
    server.routes["/fits"] = text_answer("y" * 1000)
    assert error("http.request", {"url": server.url("/big")}) == (
        "the response is larger than 1000 bytes (limit)"
    )
    assert outputs("http.request", {"url": server.url("/fits")})["body"] == "y" * 1000


def test_an_answer_of_more_than_one_megabyte_fails(server):
    server.routes["/huge"] = text_answer("z" * 1_000_001)
    assert error("http.request", {"url": server.url("/huge")}) == (
        "the response is larger than 1000000 bytes (limit)"
    )


@pytest.mark.parametrize(
    "inputs, message",
    [
        ({"method": "BREW"}, "unknown method 'BREW'"),
        ({"timeout": 61}, "input 'timeout': between 0 and 60 seconds"),
        ({"timeout": 0}, "input 'timeout': between 0 and 60 seconds"),
        ({"headers": {"X-List": [1]}}, "input 'headers': the value of 'X-List' must be text"),
        ({"query": {"q": {"a": 1}}}, "input 'query': the value of 'q' must be text or a list"),
    ],
)
def test_bad_inputs_are_refused(server, inputs, message):
    assert message in error("http.request", {"url": server.url("/"), **inputs})
    assert server.seen == []


# --- Where a call may go --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, message",
    [
        ("file:///etc/passwd", "only http and https URLs may be called, not 'file:'"),
        ("ftp://example.com/x", "only http and https URLs may be called, not 'ftp:'"),
        ("gopher://127.0.0.1:70/", "only http and https URLs may be called, not 'gopher:'"),
        ("example.com/path", "only http and https URLs may be called, not 'example.com/path'"),
        ("http:///nohost", "the URL 'http:///nohost' has no host"),
    ],
)
def test_only_http_and_https_urls_are_called(url, message):
    assert error("http.request", {"url": url}) == message


def test_a_private_address_is_refused_when_the_setting_is_off(server, no_private_networks):
    server.routes["/"] = json_answer({})
    message = error("http.request", {"url": server.url("/")})
    assert message == (
        "refused to call 127.0.0.1: 127.0.0.1 is a loopback address; calls to private "
        "networks need a connection that allows them"
    )
    assert "loopback address" in error("http.request", {"url": "http://localhost/"})
    assert "private address" in error("http.request", {"url": "http://10.1.2.3/"})
    assert "link-local address" in error(
        "http.request", {"url": "http://169.254.169.254/latest/meta-data/"}
    )
    assert server.seen == []


def test_a_name_that_resolves_to_a_public_address_but_connects_privately_is_refused(
    server, no_private_networks, monkeypatch
):
    """DNS rebinding: the check before the call sees a public address, the socket does not."""
    monkeypatch.setattr(http_card, "resolve", lambda host, port: ["93.184.216.34"])
    server.routes["/"] = json_answer({})
    message = error("http.request", {"url": server.url("/")})
    assert message == (
        "refused to connect to 127.0.0.1: it answered from 127.0.0.1, a loopback address"
    )
    assert server.seen == []


@pytest.mark.parametrize(
    "address, reason",
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("64:ff9b::7f00:1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", {"private", "reserved"}),  # Python versions differ on the name
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_which_addresses_are_refused(address, reason):
    found = http_card.blocked_reason(address)
    assert found in reason if isinstance(reason, set) else found == reason


# --- Connections ----------------------------------------------------------------------------


def test_naming_a_connection_without_connections_configured_fails(server):
    previous = connections.register_connection_resolver(None)
    try:
        assert error("http.request", {"url": server.url("/"), "connection": "crm"}) == (
            "connections are not configured"
        )
    finally:
        connections.register_connection_resolver(previous)
    assert server.seen == []


def test_a_connection_adds_its_credentials_and_may_allow_private_networks(
    server, resolver, no_private_networks
):
    server.routes["/me"] = lambda seen: json_answer(
        {"auth": seen.headers.get("authorization"), "tenant": seen.headers.get("x-tenant")}
    )
    resolver["lab"] = ResolvedConnection(
        HTTPBasicAuth("svc", "s3cret"), {"X-Tenant": "acme"}, frozenset({"127.0.0.1"})
    )
    resolver["public-only"] = ResolvedConnection()

    result = outputs(
        "http.request",
        {"url": server.url("/me"), "connection": "lab", "headers": {"X-Tenant": "mine"}},
    )
    assert result["body"] == {"auth": "Basic c3ZjOnMzY3JldA==", "tenant": "acme"}
    assert "loopback address" in error(
        "http.request", {"url": server.url("/me"), "connection": "public-only"}
    )
    assert error("http.request", {"url": server.url("/me"), "connection": "nope"}) == (
        "no connection named 'nope'"
    )
    assert len(server.seen) == 1

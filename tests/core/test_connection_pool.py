"""A burst of concurrent API calls against a real threaded server, on PostgreSQL.

Each request of a threaded server runs in a thread of its own; without a connection pool each
of them opens (and, with persistent connections, may leave behind) a server connection of its
own, until PostgreSQL answers "too many clients already". With the pool, the number of server
connections stays at most the pool's size, and requests beyond it wait for a free connection.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
from django.conf import settings
from django.core.servers.basehttp import WSGIServer
from django.db import connection, connections

from apps.access_requests import services
from apps.access_requests.models import ApprovalStatus
from tests.factories import ApprovalStepFactory, RequestTypeFactory, UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: the pool and pg_stat_activity are PostgreSQL's",
    ),
]

BURST = 50

# Django's development server listens with a backlog of 10: more simultaneous connection
# attempts are reset by the kernel before any Python code runs (a production server such as
# gunicorn listens with 2048). The burst is about the database, so the test server listens
# with room for it; this runs at import, before the session's live server binds.
WSGIServer.request_queue_size = BURST * 2


def _probe() -> psycopg.Connection:
    """A connection of its own, outside Django and its pool."""
    params = connection.get_connection_params()
    for django_only in ("pool", "cursor_factory", "context", "prepare_threshold"):
        params.pop(django_only, None)
    return psycopg.connect(**params, autocommit=True)


def _server_connections(database: str) -> int:
    """Connections PostgreSQL holds for `database`, leaving out the one asking."""
    with _probe() as probe:
        row = probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [database],
        ).fetchone()
    return row[0]


class ConnectionWatch:
    """Samples pg_stat_activity in the background and keeps the highest count seen."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.highest = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.highest = max(self.highest, _server_connections(self.database))
            time.sleep(0.02)

    def __enter__(self) -> ConnectionWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.highest = max(self.highest, _server_connections(self.database))


def test_the_database_uses_a_bounded_connection_pool():
    pool = settings.DATABASES["default"]["OPTIONS"].get("pool")
    assert pool, "PostgreSQL connections go through psycopg's pool"
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] == 0
    assert 1 <= pool["min_size"] <= pool["max_size"]


def test_a_burst_of_parallel_approvals_gets_no_500_and_connections_stay_bounded(live_server):
    manager = UserFactory(username="manager")
    request_type = RequestTypeFactory()
    ApprovalStepFactory(request_type=request_type)
    for index in range(BURST):
        requester = UserFactory(username=f"requester{index}", manager=manager)
        services.request_submit(request_type=request_type, requester=requester, answers={})
    approval_ids = list(manager.approvals.values_list("pk", flat=True))
    assert len(approval_ids) == BURST

    api = f"{live_server.url}/api/v1"
    token = requests.post(
        f"{api}/auth/token/", json={"username": "manager", "password": "pass-word-123"}, timeout=30
    ).json()["token"]
    headers = {"Authorization": f"Token {token}"}
    barrier = threading.Barrier(BURST, timeout=30)

    def approve(approval_id: int) -> int | str:
        barrier.wait()
        try:
            answer = requests.post(
                f"{api}/approvals/{approval_id}/approve/", json={}, headers=headers, timeout=60
            )
        except requests.RequestException as error:
            return repr(error)
        return answer.status_code if answer.status_code != 500 else answer.text[:300]

    database = connection.settings_dict["NAME"]
    with ConnectionWatch(database) as watch, ThreadPoolExecutor(max_workers=BURST) as executor:
        statuses = list(executor.map(approve, approval_ids))

    assert statuses == [200] * BURST
    assert not manager.approvals.filter(status=ApprovalStatus.PENDING).exists()
    pool_size = settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"]
    # The pool is shared by the server's threads and this test's own thread.
    assert watch.highest <= pool_size, f"{watch.highest} server connections, pool of {pool_size}"


def test_a_forked_process_opens_connections_of_its_own(transactional_db):
    """The queue's cluster forks its workers: a child must never use the parent's sockets."""
    connection.ensure_connection()
    connections.close_all()  # what django-q2 does before it forks: back into the pool
    database = connection.settings_dict["NAME"]
    with _probe() as probe:
        parents = {
            pid
            for (pid,) in probe.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", [database]
            )
        }
    assert parents, "the parent's pool holds idle connections"

    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (runs in the child)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                os.write(writer, str(cursor.fetchone()[0]).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as answer:
        child_backend = int(answer.read() or 0)
    os.waitpid(child, 0)

    assert child_backend and child_backend not in parents
    with connection.cursor() as cursor:  # the parent's connections still work
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_request_that_finds_no_free_connection_in_time_is_a_503_with_retry_after(
    monkeypatch, transactional_db
):
    """The pool's timeout passed: the server is busy, not broken (503, try again shortly)."""
    from django.test import Client
    from psycopg_pool import PoolTimeout

    connections.close_all()
    pool = connection.pool

    def exhausted(*args, **kwargs):
        raise PoolTimeout("couldn't get a connection after 10.00 sec")

    monkeypatch.setattr(pool, "getconn", exhausted)
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/users/", HTTP_AUTHORIZATION="Token whatever")
    monkeypatch.undo()

    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.json() == {"detail": "The server is busy: try again in a moment."}

"""A real django-q2 cluster for the tests that are about the queue.

`queue_cluster` starts `manage.py qcluster` in a child process against the test database (the
ORM broker, as in a default install), switches this process from inline tasks to the broker, and
stops the cluster afterwards; `redis_queue_cluster` does the same through Redis. Tests using it need `transactional_db`: the worker process only
sees committed rows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or ""
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")


def _start_cluster(extra_env: dict[str, str]) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": _database_url(),
        "Q_SYNC": "false",
        "Q_WORKERS": "1",
        **extra_env,
    }
    if "REDIS_URL" not in extra_env:
        env.pop("REDIS_URL", None)
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop_cluster(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
def queue_cluster(transactional_db, monkeypatch):
    """Start a real cluster of one worker on the ORM broker; yield; stop it."""
    from django_q.conf import Conf

    process = _start_cluster({})
    monkeypatch.setattr(Conf, "SYNC", False)
    try:
        yield process
    finally:
        _stop_cluster(process)


@pytest.fixture
def redis_queue_cluster(transactional_db, monkeypatch):
    """The same with the Redis broker (REDIS_URL set), as a scaled-out install runs it.

    Skips, saying why, when no Redis answers at REDIS_TEST_URL (default database 15 of
    127.0.0.1:6379, emptied first).
    """
    import redis
    from django_q.conf import Conf

    try:
        client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
        client.flushdb()
    except redis.RedisError as error:
        pytest.skip(f"no Redis at {REDIS_TEST_URL} ({error}); start redis-server to run this")
    process = _start_cluster({"REDIS_URL": REDIS_TEST_URL})
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", REDIS_TEST_URL)
    try:
        yield process
    finally:
        _stop_cluster(process)
        client.flushdb()


def wait_for(condition: Callable[[], bool], *, timeout: float = 30.0, what: str = "") -> None:
    """Poll until `condition()` holds, or fail saying what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"Timed out after {timeout:.0f}s waiting for {what or condition}")

"""Latency and query count of every list page and API list, on a large database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gatehouse_bench \\
        .venv/bin/python bench/lists.py [--rounds 50]

Run `bench/scale_data.py` first. Each page is requested in-process through the whole Django
stack (middleware, sessions, templates; no network), a few times to warm up, then `--rounds`
times; it prints p50 / p95 in milliseconds and the number of SQL queries of one request.
Target: p95 under 50 ms with 100k people and 1M requests, and a query count that does not
depend on the data size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
os.environ.update(
    {
        "DJANGO_DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret-key-" + "x" * 40),
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "ERROR",
    }
)

import django

django.setup()

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from apps.access_requests.models import AccessRequest
from apps.directory.models import User

PAGES = [
    # (label, who, url name or path, query string)
    ("portal: catalog", "bench-employee", "portal:catalog", ""),
    ("portal: my requests", "bench-employee", "portal:my-requests", ""),
    ("portal: approvals inbox", "bench-manager", "portal:approvals", ""),
    ("portal: tasks", "bench-agent", "portal:tasks", ""),
    ("portal: request detail", "bench-employee", "detail", ""),
    ("api: request types", "bench-employee", "/api/v1/request-types/", ""),
    ("api: my requests", "bench-employee", "/api/v1/requests/", ""),
    ("api: pending approvals", "bench-manager", "/api/v1/approvals/", "status=pending"),
    ("api: open tasks", "bench-agent", "/api/v1/tasks/", "status=open"),
    ("api: users", "admin", "/api/v1/users/", ""),
    ("api: system log", "admin", "/api/v1/system-log/", ""),
    ("admin: requests", "admin", "admin:access_requests_accessrequest_changelist", ""),
    (
        "admin: requests, pending",
        "admin",
        "admin:access_requests_accessrequest_changelist",
        "status__exact=pending",
    ),
    ("admin: users", "admin", "admin:directory_user_changelist", ""),
    ("admin: users, search", "admin", "admin:directory_user_changelist", "q=scale4242"),
    ("admin: system log", "admin", "admin:audit_systemlogevent_changelist", ""),
]


def resolve(target: str, who: User) -> str | None:
    if target == "detail":
        request = AccessRequest.objects.filter(requester=who).order_by("-pk").first()
        try:
            return reverse("portal:request-detail", args=[request.pk]) if request else None
        except NoReverseMatch:
            return None
    if target.startswith("/"):
        return target
    try:
        return reverse(target)
    except NoReverseMatch:
        return None


def measure(client: Client, url: str, rounds: int) -> tuple[float, float, int, int]:
    for _ in range(3):
        client.get(url)
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    timings.sort()
    p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
    return statistics.median(timings), p95, len(queries.captured_queries), response.status_code


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    print(
        f"database: {connection.vendor}, {User.objects.count()} people, "
        f"{AccessRequest.objects.count()} requests"
    )
    print(f"{'page':32} {'status':>6} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    worst = 0.0
    for label, username, target, query in PAGES:
        who = User.objects.get(username=username)
        url = resolve(target, who)
        if url is None:
            print(f"{label:32} {'-':>6}  (not built yet)")
            continue
        client = Client()
        client.force_login(who)
        p50, p95, queries, status = measure(client, f"{url}?{query}" if query else url, args.rounds)
        worst = max(worst, p95)
        print(f"{label:32} {status:>6} {p50:8.1f} {p95:8.1f} {queries:8d}")
    print(f"worst p95: {worst:.1f} ms (target: 50 ms)")


if __name__ == "__main__":
    main()

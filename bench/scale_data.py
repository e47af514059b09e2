"""Fill a database with a large organisation, for the list-page benchmarks.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gatehouse_bench \\
        .venv/bin/python bench/scale_data.py --users 100000 --requests 1000000

Builds on `seed_demo` (run first), then bulk-inserts people, requests, approvals, tasks,
timeline entries and system log events directly (the services would take hours for a million
requests; the shapes are the ones the services write). Adds the benchmark's own people:
`bench-employee` (500 requests of their own), `bench-manager` (300 pending approvals) and
`bench-agent` (200 open tasks), all with the password `bench-password`.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
os.environ.setdefault("DJANGO_DEBUG", "true")

import django

django.setup()

from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from apps.access_requests.models import (
    AccessRequest,
    Approval,
    ApprovalLevel,
    RequestStatus,
    RequestType,
    Task,
    TimelineEntry,
)
from apps.audit.models import SystemLogEvent
from apps.directory.models import User, UserStatus
from apps.teams.models import TeamMembership

BATCH = 5000
STATUSES = [
    (RequestStatus.CLOSED, 70),
    (RequestStatus.DENIED, 8),
    (RequestStatus.CANCELED, 6),
    (RequestStatus.EXPIRED, 4),
    (RequestStatus.APPROVED, 4),
    (RequestStatus.PENDING, 8),
]


def batched(iterable, size=BATCH):
    batch = []
    for item in iterable:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def make_users(count: int, password: str) -> list[int]:
    existing = User.objects.filter(username__startswith="scale").count()
    managers = list(User.objects.filter(username__in=["bob", "sofia", "farid", "sam", "petra"]))
    people = (
        User(
            username=f"scale{n}",
            email=f"scale{n}@bench.example",
            first_name=f"First{n}",
            last_name=f"Last{n}",
            department=random.choice(["Engineering", "Sales", "Finance", "Security", "People"]),
            status=UserStatus.ACTIVE,
            manager=random.choice(managers),
            password=password,
        )
        for n in range(existing, count)
    )
    for batch in batched(people):
        User.objects.bulk_create(batch)
    return list(User.objects.values_list("pk", flat=True))


def special(username: str, password: str) -> User:
    user, _ = User.objects.get_or_create(
        username=username,
        defaults={
            "email": f"{username}@bench.example",
            "status": UserStatus.ACTIVE,
            "password": password,
            "first_name": username,
        },
    )
    return user


def make_requests(total: int, user_ids: list[int], employee, manager, agent) -> None:
    request_type = RequestType.objects.get(name="Badge access to a building")
    team = request_type.owning_team
    TeamMembership.objects.get_or_create(team=team, user=agent)
    snapshot = AccessRequest.objects.filter(request_type=request_type).first().snapshot
    weights = [w for _, w in STATUSES]
    statuses = [s for s, _ in STATUSES]
    now = timezone.now()
    start = AccessRequest.objects.count()

    def rows():
        for n in range(start, total):
            requester_id = employee.pk if n < start + 500 else random.choice(user_ids)
            status = random.choices(statuses, weights)[0]
            created = now - timedelta(minutes=random.randint(0, 60 * 24 * 365 * 2))
            yield AccessRequest(
                request_type=request_type,
                type_version=1,
                snapshot=snapshot,
                requester_id=requester_id,
                subject=f"Badge access to a building for scale person {n}",
                status=status,
                assignee_id=agent.pk if n % 10 == 0 else None,
                answers={"building": "hq-paris", "business_justification": "benchmark"},
                next_step=4,
                created_at=created,
                last_activity_at=created,
            )

    for batch in batched(rows()):
        with transaction.atomic():
            created = AccessRequest.objects.bulk_create(batch)
            TimelineEntry.objects.bulk_create(
                TimelineEntry(
                    request=r, kind="submitted", message="Submitted.", created_at=r.created_at
                )
                for r in created
            )
            pending = [r for r in created if r.status == RequestStatus.PENDING]
            levels = ApprovalLevel.objects.bulk_create(
                ApprovalLevel(request=r, step_index=4) for r in pending
            )
            Approval.objects.bulk_create(
                Approval(level=level, request=level.request, approver_id=random.choice(user_ids))
                for level in levels
            )
            approved = [r for r in created if r.status == RequestStatus.APPROVED]
            Task.objects.bulk_create(
                Task(request=r, step_index=5, assignee_id=r.assignee_id, title="Badge change")
                for r in approved
            )
        print(f"  requests: {created[-1].pk}", end="\r", flush=True)
    print()


def make_inbox(manager, agent) -> None:
    """The benchmark approver's 300 pending approvals and the agent's 200 open tasks."""
    if Approval.objects.filter(approver=manager).exists():
        return
    pending = list(AccessRequest.objects.filter(status=RequestStatus.PENDING)[:300])
    levels = ApprovalLevel.objects.bulk_create(
        ApprovalLevel(request=r, step_index=5) for r in pending
    )
    Approval.objects.bulk_create(
        Approval(level=level, request=level.request, approver=manager) for level in levels
    )
    approved = AccessRequest.objects.filter(status=RequestStatus.APPROVED)[:200]
    Task.objects.bulk_create(
        Task(request=r, step_index=6, assignee=agent, title="Badge change") for r in approved
    )


def make_events(total: int, user_ids: list[int]) -> None:
    start = SystemLogEvent.objects.count()
    now = timezone.now()
    types = [
        "directory.user.profile_updated",
        "access_request.created",
        "directory.user.session.started",
    ]

    def rows():
        for n in range(start, total):
            actor = random.choice(user_ids)
            yield SystemLogEvent(
                event_type=random.choice(types),
                actor_id=actor,
                actor_display=f"scale{actor}@bench.example",
                target_type="directory.user",
                target_id=str(actor),
                target_display=f"Scale person {actor}",
                published=now - timedelta(seconds=n),
                data={"old": {"title": "a"}, "new": {"title": "b"}},
            )

    for batch in batched(rows()):
        SystemLogEvent.objects.bulk_create(batch)
        print(f"  events: {start + len(batch)}", end="\r", flush=True)
        start += len(batch)
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    random.seed(7)
    started = time.monotonic()
    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    password = make_password("bench-password")
    employee = special("bench-employee", password)
    manager = special("bench-manager", password)
    agent = special("bench-agent", password)
    print(f"users → {args.users}")
    user_ids = make_users(args.users, password)
    print(f"requests → {args.requests}")
    make_requests(args.requests, user_ids, employee, manager, agent)
    make_inbox(manager, agent)
    print(f"events → {args.events}")
    make_events(args.events, user_ids)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # what autovacuum does for a live database
    print(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()

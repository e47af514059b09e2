"""Event → flow start: how long after a system log event its event flow starts, p50 and p99, and
what an event nobody listens to costs the code that writes it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gatehouse_events \\
        .venv/bin/python bench/event_flows.py [--events 200] [--workers 2] \\
        [--redis redis://127.0.0.1:6379/14]

Latency: a real django-q2 cluster (ORM broker, or Redis with --redis) runs the fan-out and the
flow; this process changes a person's title `--events` times, one every 50 ms, and each change
writes `directory.user.profile_updated`, which a one-card event flow listens to. The figure is
the run's `started_at` minus the event's `published`: commit, the subscription check, the
fan-out task, the run's own task. With the ORM broker the workers poll every 0.5 s
(`Q_CLUSTER["poll"]`), which dominates.

Cost of an event nobody listens to: the same profile changes, in-process, with the flow engine's
subscriber not registered at all (as before event flows), with no event flow, and with one
listening to another type: milliseconds per change (best of interleaved rounds), and the queue
tasks queued (none in all three).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
os.environ.setdefault("LOG_LEVEL", "ERROR")

FLOW_NAME = "bench: on profile change"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _flow(events: list[str], *, enabled: bool = True):
    from apps.flows import services
    from apps.flows.models import Flow

    definition = {
        "trigger": {"type": "event", "events": events},
        "inputs": [{"name": "data", "type": "object"}],
        "cards": [{"id": "seen", "card": "control.assign", "inputs": {"v": "{{ inputs.data }}"}}],
    }
    flow = Flow.objects.filter(name=FLOW_NAME).first()
    if flow is None:
        return services.flow_create(
            actor=None, name=FLOW_NAME, definition=definition, kind="event", enabled=enabled
        )
    services.flow_save_definition(flow=flow, actor=None, definition=definition)
    return services.flow_update(flow=flow, actor=None, enabled=enabled)


def _person():
    from apps.directory import services as directory
    from apps.directory.models import User

    user = User.objects.filter(username="bench-events").first()
    return user or directory.user_create(
        actor=None, username="bench-events", email="bench-events@example.com"
    )


def _start_cluster(workers: int, redis_url: str):
    env = {**os.environ, "Q_WORKERS": str(workers)}
    if redis_url:
        env["REDIS_URL"] = redis_url
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def latency(events: int, workers: int, redis_url: str) -> None:
    from django.db import connection
    from django_q.conf import Conf

    from apps.audit.models import SystemLogEvent
    from apps.directory import services as directory
    from apps.flows.models import FlowRun

    Conf.SYNC = False
    if redis_url:
        Conf.ORM, Conf.REDIS = None, redis_url
    flow = _flow(["directory.user.profile_updated"])
    person = _person()
    connection.close()
    cluster = _start_cluster(workers, redis_url)
    try:
        time.sleep(3)  # the cluster starts its workers
        first_event = SystemLogEvent.objects.order_by("-id").values_list("id", flat=True).first()
        for number in range(events):
            directory.user_update_profile(
                user=person, actor=None, changes={"title": f"bench {time.time()} {number}"}
            )
            time.sleep(0.05)
        keys = [
            (f"event:{uuid}", published)
            for uuid, published in SystemLogEvent.objects.filter(
                id__gt=first_event or 0, event_type="directory.user.profile_updated"
            ).values_list("uuid", "published")
        ]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            started = FlowRun.objects.filter(flow=flow, started_at__isnull=False).filter(
                idempotency_key__in=[key for key, _ in keys]
            )
            if started.count() >= len(keys):
                break
            time.sleep(0.2)
        starts = dict(
            FlowRun.objects.filter(idempotency_key__in=[key for key, _ in keys]).values_list(
                "idempotency_key", "started_at"
            )
        )
    finally:
        os.killpg(cluster.pid, signal.SIGINT)
        cluster.wait(timeout=30)
    delays = [
        (starts[key] - published).total_seconds() * 1000
        for key, published in keys
        if starts.get(key) is not None
    ]
    broker = f"Redis ({redis_url})" if redis_url else "ORM broker (poll 0.5 s)"
    print(f"{broker}, {workers} workers: {len(delays)} of {len(keys)} events started their flow")
    if delays:
        print(
            f"event -> flow start: p50 {statistics.median(delays):.0f} ms, "
            f"p99 {_percentile(delays, 0.99):.0f} ms"
        )


def unsubscribed_cost(changes: int, rounds: int = 3) -> None:
    from django.db import connection
    from django_q.conf import Conf

    from apps.audit import services as audit_services
    from apps.audit import subscribers
    from apps.directory import services as directory
    from apps.flows.models import Flow

    Conf.SYNC = True
    queued: list[str] = []
    real_async_task = audit_services.async_task

    def counting(func, *args, **kwargs):
        queued.append(func)
        return real_async_task(func, *args, **kwargs)

    audit_services.async_task = counting
    subscriber = "apps.flows.services.start_event_flows"
    wants = subscribers._wants[subscriber]
    person = _person()
    variants = ("no subscriber registered (before)", "no event flow", "an event flow on groups")
    best: dict[str, float] = {}
    tasks: dict[str, int] = {}
    for _ in range(rounds):  # interleaved rounds, best of each: the machine is shared
        for label in variants:
            subscribers.unregister_subscriber(subscriber)
            if label != variants[0]:
                subscribers.register_subscriber(subscriber, wants=wants)
            Flow.objects.filter(name=FLOW_NAME).update(enabled=False)
            _flow(["directory.group.created"], enabled=label == variants[2])
            for number in range(20):  # warm up
                directory.user_update_profile(
                    user=person, actor=None, changes={"title": f"w{number}"}
                )
            queued.clear()
            started = time.perf_counter()
            for number in range(changes):
                directory.user_update_profile(
                    user=person, actor=None, changes={"title": f"{label} {number}"}
                )
            elapsed = 1000 * (time.perf_counter() - started) / changes
            best[label] = min(best.get(label, elapsed), elapsed)
            tasks[label] = len(queued)
    subscribers.register_subscriber(subscriber, wants=wants)
    connection.close()
    for label in variants:
        print(f"profile change, {label}: {best[label]:.2f} ms each, {tasks[label]} queue tasks")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--redis", default="", help="Redis URL for the cluster's broker")
    parser.add_argument("--changes", type=int, default=500)
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}")
    unsubscribed_cost(args.changes)
    latency(args.events, args.workers, args.redis)


if __name__ == "__main__":
    main()

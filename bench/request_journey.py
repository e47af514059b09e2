"""Submit → approve → delegated flow done, end to end, requests per second.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gatehouse_journey \\
        .venv/bin/python bench/request_journey.py [--requests 300] [--processes 2] \\
        [--workers 2 [--redis redis://127.0.0.1:6379/14]]

Uses the demo's "Badge access to a building" journey: an employee submits (typed answers,
assignee picked), the manager approves (row lock, level settled), the action starts the
"Badge access" delegated flow (one-way), and the flow runs to its end (read the requester,
compose, send the e-mail — to Django's in-memory backend here, so no mail server is timed).
Each process runs its share of journeys one after another through the services. Queued work
(the flow run, the notifications) runs either in-process (default: the CPU cost of a journey,
all of it) or, with --workers, in a real django-q2 cluster, as deployed; the figure is
journeys whose delegated flow has finished, per second, over the whole run. Target: 150 per
second on 2 cores with PostgreSQL.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
os.environ.setdefault("LOG_LEVEL", "ERROR")
os.environ["EMAIL_URL"] = "memorymail://"


QUEUE = {"mode": "inline", "redis": ""}


def _setup():
    import django

    django.setup()
    from django.conf import settings
    from django_q.conf import Conf

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    if QUEUE["mode"] == "inline":
        Conf.SYNC = True  # queued work runs in this process, as a worker would run it
    else:
        Conf.SYNC = False  # queued work goes to the broker; the cluster's workers run it
        if QUEUE["redis"]:
            Conf.ORM, Conf.REDIS = None, QUEUE["redis"]


def journeys(count: int, offset: int) -> float:
    """Run `count` journeys; return the seconds they took."""
    _setup()
    from django.db import connection

    from apps.access_requests import services
    from apps.access_requests.models import RequestType
    from apps.directory.models import User

    connection.close()
    badge = RequestType.objects.get(name="Badge access to a building")
    alice = User.objects.get(username="alice")
    bob = User.objects.get(username="bob")
    answers = {
        "business_justification": "benchmark",
        "building": "data-center",
        "data_center_escort": "no",
        "end_date": "2099-12-31",
    }
    started = time.perf_counter()
    for _ in range(count):
        request = services.request_submit(request_type=badge, requester=alice, answers=answers)
        approval = request.approvals.get()
        services.approval_decide(approval=approval, actor=bob, approve=True)
    return time.perf_counter() - started


def _start_cluster(workers: int, redis_url: str):
    """A real `manage.py qcluster` on the same database (and Redis, if given)."""
    env = {
        **os.environ,
        "Q_WORKERS": str(workers),
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="run queued work in a real django-q2 cluster with this many workers (0: inline)",
    )
    parser.add_argument("--redis", default="", help="Redis URL for the cluster's broker")
    args = parser.parse_args()
    if args.workers:
        QUEUE.update(mode="cluster", redis=args.redis)
    _setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    connection.close()
    share = args.requests // args.processes
    if not args.workers:
        journeys(5, 0)  # warm up (with a cluster the first journeys warm it up)
    connection.close()
    from apps.flows.models import FlowRun

    succeeded_before = FlowRun.objects.filter(status="succeeded").count()
    connection.close()
    cluster = _start_cluster(args.workers, args.redis) if args.workers else None
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.processes) as pool:
        per_process = pool.starmap(journeys, [(share, n) for n in range(args.processes)])
    done = share * args.processes
    deadline = time.monotonic() + 600
    while True:  # with a cluster, wait for the workers to finish every delegated flow
        flows_done = FlowRun.objects.filter(status="succeeded").count() - succeeded_before
        if flows_done >= done or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    wall = time.perf_counter() - started
    if cluster is not None:
        cluster.send_signal(signal.SIGINT)
        cluster.wait(timeout=30)
    assert flows_done == done, f"{flows_done} delegated flows succeeded for {done} journeys"
    queue = f"a cluster of {args.workers} workers" if args.workers else "queued work inline"
    print(f"database: {connection.vendor}; {args.processes} processes, {queue}, {done} journeys")
    print(f"journeys per second: {done / wall:.1f} (wall {wall:.1f} s)")
    print(f"per journey in one process: {1000 * max(per_process) / share:.1f} ms")
    print("target: 150 per second on 2 cores with PostgreSQL")


if __name__ == "__main__":
    main()

"""The demo's `hello` API-endpoint flow over HTTP: answers per second, p50 and p99.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gatehouse_hooks \\
        .venv/bin/python bench/hook_flow.py [--workers 2] [--connections 16] [--seconds 10]

Migrates and seeds the database, gives `hello` a fresh client token, then serves the app with
`--workers` pre-forked processes sharing one listening socket, each a threaded WSGI server
(Django's own `runserver` server classes: HTTP/1.1 keep-alive, one thread per connection) on
127.0.0.1, the way gunicorn's sync workers share theirs. A separate load process holds
`--connections` keep-alive connections (threads with http.client), each posting
`{"name": ...}` to `/api/v1/hooks/hello/` as fast as it is answered, for `--seconds` after a
one-second warm-up; then it stops by itself and the servers are stopped. History is on (the
flow keeps its card-by-card record), as shipped.

`--sync` serves as gunicorn's sync workers do (one request at a time per process, each answer
closing its connection); `--wrk` loads with wrk (`apt-get install wrk`) instead of the Python
load process; `--health` loads `GET /healthz` (no database) for the floor of server + Django;
`--compare N` also times N runs in-process, today's `run_now` against the endpoint's inline run.

Each answer commits once (the run and its history, durable): in `--sync` mode PostgreSQL's WAL
flush per commit is a large part of the time (`PGOPTIONS="-c synchronous_commit=off"` shows how
much; not a setting to ship without deciding that the last moments of history may be lost).

With gunicorn and wrk installed, the same measure is:

    gunicorn -w 2 -b 127.0.0.1:8000 config.wsgi    # DJANGO_DEBUG=false, SECRET_KEY, ALLOWED_HOSTS
    wrk -t2 -c16 -d10s -s post_hello.lua http://127.0.0.1:8000/api/v1/hooks/hello/
    # post_hello.lua: wrk.method = "POST"; wrk.body = '{"name": "Ada"}';
    #   wrk.headers["Content-Type"] = "application/json"; wrk.headers["x-api-client-token"] = ...
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
os.environ.setdefault("LOG_LEVEL", "ERROR")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")

HOST = "127.0.0.1"
PATH = "/api/v1/hooks/hello/"


def _prepare() -> str:
    """Migrate, seed, and return a new client token for `hello`."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from apps.flows import services
    from apps.flows.models import ApiEndpoint

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    token = services.endpoint_rotate_token(
        endpoint=ApiEndpoint.objects.get(slug="hello"), actor=None
    )
    connections.close_all()  # each server process opens its own
    return token


def _serve(listener: socket.socket, sync: bool = False) -> None:
    """One server process on the shared socket: Django's threaded WSGI server (keep-alive, a
    thread per connection) or, `sync`, its plain one (one request at a time, each answer
    closing its connection, as gunicorn's sync workers do)."""
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler, WSGIServer

    from config.wsgi import application

    class QuietHandler(WSGIRequestHandler):
        def setup(self):
            # The handler writes the head and the body apart: without TCP_NODELAY, Nagle's
            # algorithm meets the client's delayed ACK and every keep-alive answer waits ~40 ms.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().setup()

        def log_message(self, format, *args):
            pass

    server_class = WSGIServer if sync else ThreadedWSGIServer
    server = server_class((HOST, 0), QuietHandler, bind_and_activate=False)
    server.socket.close()
    server.socket = listener
    server.server_address = listener.getsockname()
    server.server_name, server.server_port = HOST, server.server_address[1]
    server.setup_environ()
    server.set_app(application)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server.serve_forever(poll_interval=0.2)


class _Connection(http.client.HTTPConnection):
    """Keep-alive, with TCP_NODELAY (as wrk sets it): a request is never held back."""

    def connect(self):
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _load(port: int, token: str, connections: int, seconds: float, queue, health=False) -> None:
    """The load process: keep-alive connections posting as fast as they are answered."""
    headers = {"Content-Type": "application/json", "x-api-client-token": token}
    warm_until = time.monotonic() + 1.0
    stop_at = warm_until + seconds
    results: list[tuple[list[float], dict[int, int]]] = []

    def client(number: int) -> None:
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        conn = _Connection(HOST, port, timeout=30)
        body = json.dumps({"name": f"user{number}"})
        while True:
            started = time.monotonic()
            if started >= stop_at:
                break
            try:
                if health:
                    conn.request("GET", "/healthz")
                else:
                    conn.request("POST", PATH, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                status = 0
            finished = time.monotonic()
            if started >= warm_until:
                latencies.append(finished - started)
                statuses[status] = statuses.get(status, 0) + 1
        conn.close()
        results.append((latencies, statuses))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies = sorted(value for values, _ in results for value in values)
    statuses: dict[int, int] = {}
    for _, counts in results:
        for status, count in counts.items():
            statuses[status] = statuses.get(status, 0) + count
    queue.put({"latencies": latencies, "statuses": statuses, "seconds": seconds})


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(len(values) * fraction))] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--sync",
        action="store_true",
        help="servers take one request at a time and close each connection (gunicorn sync)",
    )
    parser.add_argument(
        "--wrk",
        action="store_true",
        help="load with wrk (apt-get install wrk): -t2, --connections, --seconds, --latency",
    )
    parser.add_argument(
        "--health",
        action="store_true",
        help="load GET /healthz instead (no database): the floor of this server and Django",
    )
    parser.add_argument(
        "--compare", type=int, default=0, help="also time N runs in-process: run_now vs inline"
    )
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("note: DATABASE_URL is not PostgreSQL; the figures will not be comparable")
    token = _prepare()
    if args.compare:
        print(f"in-process, {args.compare} runs each (2-card hello, history on):")
        _compare_in_process(args.compare)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    fork = multiprocessing.get_context("fork")
    servers = [
        fork.Process(target=_serve, args=(listener, args.sync), daemon=True)
        for _ in range(args.workers)
    ]
    for server in servers:
        server.start()
    try:
        _wait_until_answering(port)
        if args.wrk:
            _run_wrk(port, token, args)
            return
        cpu_before = sum(_cpu_seconds(server.pid) for server in servers)
        queue = fork.Queue()
        loader = fork.Process(
            target=_load, args=(port, token, args.connections, args.seconds, queue, args.health)
        )
        loader.start()
        outcome = queue.get(timeout=args.seconds + 120)
        server_cpu = sum(_cpu_seconds(server.pid) for server in servers) - cpu_before
        loader_cpu = _cpu_seconds(loader.pid)
        loader.join(timeout=30)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.join(timeout=10)
    latencies, statuses = outcome["latencies"], outcome["statuses"]
    answered = len(latencies)
    print(
        f"{'GET /healthz' if args.health else 'hello'} over HTTP: {args.workers} "
        f"{'sync' if args.sync else 'threaded'} server processes, {args.connections} "
        f"connections, {args.seconds:g} s"
    )
    print(f"  answers: {answered} ({answered / outcome['seconds']:.0f}/s), statuses {statuses}")
    print(
        f"  latency: p50 {_percentile(latencies, 0.50) * 1000:.1f} ms, "
        f"p99 {_percentile(latencies, 0.99) * 1000:.1f} ms, "
        f"mean {statistics.fmean(latencies) * 1000 if latencies else float('nan'):.1f} ms"
    )
    total = answered + 1  # the warm-up second's answers are in the CPU time too: a bound
    print(
        f"  CPU: servers {server_cpu:.1f} s (at most {server_cpu / total * 1000:.2f} ms an "
        f"answer), load generator {loader_cpu:.1f} s; load average {os.getloadavg()[0]:.2f}"
    )


def _compare_in_process(calls: int) -> None:
    """Per-call wall time of the run itself, in this process, without HTTP: `run_now` (the
    queued-run path: a row first, then claim, finish and history) against `run_inline`."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.flows import hooks, services
    from apps.flows.models import ApiEndpoint, Flow

    flow = Flow.objects.get(pk=ApiEndpoint.objects.get(slug="hello").flow_id)
    served = hooks.hook_version(flow.current_version_id)

    def run_now():
        services.run_now(flow=flow, inputs={"name": "Ada"})

    def run_inline():
        services.run_inline(
            flow_id=flow.pk, version=served.version, inputs={"name": "Ada"}, save_history=True
        )

    for label, call in (("run_now (before)", run_now), ("run_inline (hooks)", run_inline)):
        for _ in range(20):
            call()
        with CaptureQueriesContext(connection) as queries:
            call()
        started = time.perf_counter()
        for _ in range(calls):
            call()
        each = (time.perf_counter() - started) / calls * 1000
        print(f"  {label}: {each:.2f} ms a run, {len(queries)} statements")
    connection.close()


WRK_SCRIPT = """wrk.method = "POST"
wrk.body = '{"name": "Ada"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-api-client-token"] = "%s"
"""


def _run_wrk(port: int, token: str, args) -> None:
    """wrk's own figures (answers per second, latency percentiles) against the servers."""
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT % token)
        script.flush()
        command = ["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds:g}s", "--latency"]
        if not args.health:
            command += ["-s", script.name]
        url = f"http://{HOST}:{port}{'/healthz' if args.health else PATH}"
        mode = "sync" if args.sync else "threaded"
        print(f"{' '.join(command)} {url}  ({args.workers} {mode} server processes)")
        subprocess.run([*command, url], check=True, timeout=args.seconds + 60)  # noqa: S603
    print(f"  load average {os.getloadavg()[0]:.2f}")


def _wait_until_answering(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not answer within 30 s")


if __name__ == "__main__":
    main()

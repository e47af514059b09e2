"""The flow engine's own cost per card, with history on and off.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gatehouse_bench \\
        .venv/bin/python bench/flow_engine.py [--cards 1000] [--runs 5]

A flow of N `control.assign` cards, each reading the previous card's output through a
reference (`{{ cN.value + 1 }}`), so every card renders an expression, checks its types and
leaves a history record; the whole run, including writing the history in one bulk insert and
finishing the run, is timed. Assign does no work of its own: what is measured is the engine.
Target: at most 0.5 ms per card with history on.
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
os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
os.environ.setdefault("LOG_LEVEL", "ERROR")

import django

django.setup()

from django.core.management import call_command
from django.db import connection

from apps.flows import services
from apps.flows.models import CardRun, Flow, FlowRun


def chain_definition(cards: int) -> dict:
    steps = [{"id": "c0", "card": "control.assign", "inputs": {"value": "{{ inputs.start }}"}}]
    for n in range(1, cards):
        steps.append(
            {
                "id": f"c{n}",
                "card": "control.assign",
                "inputs": {"value": f"{{{{ c{n - 1}.value + 1 }}}}"},
            }
        )
    return {
        "inputs": [{"name": "start", "type": "number"}],
        "cards": steps,
        "output": f"{{{{ c{cards - 1}.value }}}}",
    }


def flow_for(cards: int, history: bool) -> Flow:
    name = f"bench chain {cards} {'history' if history else 'no history'}"
    flow = Flow.objects.filter(name=name).first()
    if flow is None:
        flow = services.flow_create(
            actor=None, name=name, definition=chain_definition(cards), save_history=history
        )
    return flow


def measure(flow: Flow, cards: int, runs: int) -> list[float]:
    services.run_now(flow=flow, inputs={"start": 0})  # warm caches
    per_card = []
    for _ in range(runs):
        started = time.perf_counter()
        run = services.run_now(flow=flow, inputs={"start": 0})
        elapsed = time.perf_counter() - started
        assert run.status == "succeeded" and run.output == cards - 1, run.error
        per_card.append(elapsed * 1000 / cards)
    return per_card


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}; {args.cards} cards per run, {args.runs} runs")
    for history in (True, False):
        per_card = measure(flow_for(args.cards, history), args.cards, args.runs)
        label = "history on " if history else "history off"
        print(
            f"{label}: {statistics.median(per_card):.3f} ms per card (median), "
            f"{max(per_card):.3f} ms worst"
        )
    FlowRun.objects.filter(flow__name__startswith="bench chain").delete()
    left = CardRun.objects.filter(run__flow__name__startswith="bench chain").count()
    print(f"card history rows left after clean-up: {left}")
    print("target: at most 0.5 ms per card with history on")


if __name__ == "__main__":
    main()

"""Calling one card through the registry, and running a small flow, for the card tests."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from apps.flows import registry, services
from apps.flows.errors import CardError
from apps.flows.models import CardRun, FlowRun

_flow_numbers = itertools.count(1)


def call(card_key: str, /, **inputs: Any) -> dict[str, Any]:
    """What the engine does with one card: check the inputs, call it, check the outputs."""
    card_type = registry.get(card_key)
    checked = card_type.check_inputs(inputs)
    context = registry.CardContext(run=None)
    return card_type.check_outputs(card_type.func(context, **checked))


def refused(card_key: str, /, **inputs: Any) -> str:
    """The CardError message of a call that must fail."""
    with pytest.raises(CardError) as failure:
        call(card_key, **inputs)
    return str(failure.value)


def run_flow(
    cards: list[dict], *, inputs: list[dict] = (), output: Any = None, **values
) -> FlowRun:
    """Save a helper flow with these cards and run it now; the finished run."""
    definition: dict[str, Any] = {"inputs": list(inputs), "cards": cards}
    if output is not None:
        definition["output"] = output
    flow = services.flow_create(
        actor=None, name=f"cards flow {next(_flow_numbers)}", definition=definition
    )
    return services.run_now(flow=flow, inputs=values)


def run_card(key: str, inputs: dict | None = None, *, on_error: dict | None = None):
    """Run one card in a flow of its own; the run and the card's record."""
    spec: dict[str, Any] = {"id": "card", "card": key, "inputs": inputs or {}}
    if on_error is not None:
        spec["on_error"] = on_error
    run = run_flow([spec])
    return run, card_run(run, "card")


def card_run(run: FlowRun, card_id: str) -> CardRun:
    return run.card_runs.get(card_id=card_id)


def outputs(key: str, inputs: dict | None = None) -> dict:
    """The outputs of one card that must succeed."""
    run, record = run_card(key, inputs)
    assert record.succeeded, record.error
    assert run.status == "succeeded", run.error
    return record.outputs


def error(key: str, inputs: dict | None = None) -> str:
    """The error of one card that must fail (and fail its run)."""
    run, record = run_card(key, inputs)
    assert not record.succeeded, record.outputs
    assert run.status == "failed" and run.error == record.error
    return record.error

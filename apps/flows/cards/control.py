"""Control cards: branches, loops, try / if-error, helper flows, return, stop, wait."""

from __future__ import annotations

import time

from apps.flows.errors import CardError, FlowStopped
from apps.flows.registry import REGISTRY, CardType, Field, card
from apps.flows.types import ANY, BOOLEAN, LIST, NUMBER, OBJECT, TEXT

MAX_WAIT_SECONDS = 30

REGISTRY["control.if"] = CardType(
    key="control.if",
    title="If / else if / else",
    category="Control",
    func=None,
    blocks=("branches", "else"),
    outputs=(Field("branch", ANY, description="number of the branch taken, or 'else'"),),
    description="Runs the cards of the first branch whose condition is true, else the 'else' "
    'cards. Definition: {"card": "control.if", "branches": [{"condition": "{{ ... }}", '
    '"cards": [...]}, ...], "else": [...]}.',
    idempotent=True,  # the cards in its blocks say for themselves
)
REGISTRY["control.for_each"] = CardType(
    key="control.for_each",
    title="For each",
    category="Control",
    func=None,
    blocks=("do",),
    inputs=(
        Field("items", LIST, description="the list to go through"),
        Field("flow", TEXT, required=False, description="a helper flow to call for each item"),
    ),
    outputs=(
        Field("results", LIST, description="per item: the last card's outputs, or 'collect'"),
        Field("count", NUMBER),
    ),
    description="Runs the 'do' cards once per item, with {{ item }} and {{ index }}; or calls "
    "a helper flow per item (inputs item and index) and collects its outputs (map). "
    'An optional "collect" expression chooses what each round adds to the results.',
    idempotent=True,  # the cards in its blocks say for themselves
)
REGISTRY["control.try"] = CardType(
    key="control.try",
    title="Try / if error",
    category="Control",
    func=None,
    blocks=("try", "catch"),
    outputs=(
        Field("failed", BOOLEAN),
        Field("error", ANY, required=False, description="card, path and message, if failed"),
    ),
    description="Runs the 'try' cards; if one fails, runs the 'catch' cards with {{ error }} "
    "(card, path, message) instead of failing the flow.",
    idempotent=True,  # the cards in its blocks say for themselves
)


@card(
    "control.continue_if",
    "Continue if",
    "Control",
    inputs=[Field("condition", BOOLEAN)],
    idempotent=True,
)
def continue_if(context, *, condition):
    """Ends the run here, successfully and with no output, when the condition is false."""
    if not condition:
        raise FlowStopped(output=None)
    return {}


@card("control.assign", "Assign", "Control", open_inputs=True, open_outputs=True, idempotent=True)
def assign(context, **values):
    """Gives names to values: every input becomes an output of the same name."""
    return values


@card(
    "control.return",
    "Return",
    "Control",
    inputs=[Field("value", ANY, required=False)],
    idempotent=True,
)
def return_(context, *, value):
    """Ends the run with this value as its output (what a caller of a helper flow receives)."""
    raise FlowStopped(output=value)


@card(
    "control.fail", "Stop with error", "Control", inputs=[Field("message", TEXT)], idempotent=True
)
def fail(context, *, message):
    """Ends the card, and the run unless inside a try, with this error message."""
    raise CardError(message)


@card(
    "control.wait",
    "Wait",
    "Control",
    inputs=[Field("seconds", NUMBER, description=f"at most {MAX_WAIT_SECONDS}")],
    outputs=[Field("waited", NUMBER)],
    idempotent=True,
)
def wait(context, *, seconds):
    """Pauses the run for a short while (at most 30 seconds; use a schedule for longer)."""
    if seconds < 0 or seconds > MAX_WAIT_SECONDS:
        raise CardError(f"seconds must be between 0 and {MAX_WAIT_SECONDS}")
    time.sleep(seconds)
    return {"waited": seconds}


@card(
    "control.call_flow",
    "Call helper flow",
    "Control",
    inputs=[Field("flow", TEXT), Field("inputs", OBJECT, required=False, default=None)],
    outputs=[Field("output", ANY, required=False)],
)
def call_flow(context, *, flow, inputs):
    """Runs a helper flow now and waits for it; its output becomes this card's 'output'."""
    return {"output": context.engine.call_flow(flow, inputs or {})}


@card(
    "control.call_flow_async",
    "Call helper flow (don't wait)",
    "Control",
    inputs=[Field("flow", TEXT), Field("inputs", OBJECT, required=False, default=None)],
    outputs=[Field("run_id", NUMBER)],
)
def call_flow_async(context, *, flow, inputs):
    """Queues a helper flow and goes on at once; gives the child run's id."""
    return {"run_id": context.engine.start_flow(flow, inputs or {})}

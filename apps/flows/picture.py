"""A read-only picture of a flow definition: its cards as boxes, nested blocks inside them.

`flow_picture()` turns a definition into plain data (boxes and blocks) that the template
`flows/admin/flow_picture.html` draws as HTML and CSS, without JavaScript. It reads the card
registry for titles and block names, so a card added later is drawn without changes here; a
definition it does not understand (an unknown card, a malformed block) is drawn as it is, never
refused: the picture is for looking, validation is `apps.flows.validation`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from apps.flows import registry
from apps.flows.errors import CardError

MAX_VALUE_CHARS = 120
MAX_INPUTS_SHOWN = 8
MAX_DEPTH = 25  # deeper blocks are summarised: the page must stay drawable


@dataclass
class Block:
    """A nested chain of cards inside a control card (a branch, a loop body, try, catch...)."""

    label: str
    cards: list[CardBox]
    condition: str = ""
    kind: str = ""  # "branch", "else", "loop", "try", "catch" or a block name: a CSS hook


@dataclass
class CardBox:
    """One card as the picture shows it."""

    id: str
    card: str
    title: str
    path: str
    known: bool = True
    inputs: list[tuple[str, str]] = field(default_factory=list)
    hidden_inputs: int = 0
    notes: list[tuple[str, str]] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    highlight: bool = False
    truncated: bool = False


@dataclass
class FlowPicture:
    """The whole flow: its typed inputs, its chain of cards, and its output expression."""

    inputs: list[dict[str, Any]]
    cards: list[CardBox]
    output: str = ""


def short(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """A value as one short line of text: strings as they are, anything else as JSON."""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def flow_picture(definition: Any, *, highlight: str = "") -> FlowPicture:
    """The picture of `definition`; the card whose id is `highlight` is marked (a failed card)."""
    if not isinstance(definition, dict):
        return FlowPicture(inputs=[], cards=[])
    inputs = [
        {
            "name": spec.get("name", "?"),
            "type": spec.get("type", "?"),
            "required": spec.get("required", True),
        }
        for spec in definition.get("inputs", []) or []
        if isinstance(spec, dict)
    ]
    output = definition.get("output")
    return FlowPicture(
        inputs=inputs,
        cards=_chain(definition.get("cards"), "", highlight, depth=0),
        output=short(output, 300) if output is not None else "",
    )


def _chain(cards: Any, prefix: str, highlight: str, *, depth: int) -> list[CardBox]:
    if not isinstance(cards, list):
        return []
    return [
        _box(spec, f"{prefix}{position}", highlight, depth=depth)
        for position, spec in enumerate(cards, start=1)
    ]


def _box(spec: Any, path: str, highlight: str, *, depth: int) -> CardBox:
    if not isinstance(spec, dict):
        return CardBox(id="?", card="?", title="(not a card)", path=path, known=False)
    key = str(spec.get("card", ""))
    try:
        card_type: registry.CardType | None = registry.get(key)
    except CardError:
        card_type = None
    card_id = str(spec.get("id", "") or "?")
    given = spec.get("inputs") if isinstance(spec.get("inputs"), dict) else {}
    shown = list(given.items())[:MAX_INPUTS_SHOWN]
    box = CardBox(
        id=card_id,
        card=key or "?",
        title=card_type.title if card_type else "Unknown card",
        path=path,
        known=card_type is not None,
        inputs=[(str(name), short(value)) for name, value in shown],
        hidden_inputs=max(0, len(given) - len(shown)),
        highlight=bool(highlight) and card_id == highlight,
    )
    policy = spec.get("on_error")
    if isinstance(policy, dict) and policy.get("policy"):
        text = str(policy["policy"])
        if policy.get("retries"):
            text += f" ({policy['retries']} retries)"
        box.notes.append(("on error", text))
    if spec.get("collect") is not None:
        box.notes.append(("collect", short(spec["collect"])))
    if depth >= MAX_DEPTH:
        box.truncated = any(isinstance(spec.get(name), list) for name in _block_names(spec))
        return box
    box.blocks = _blocks(spec, card_type, path, highlight, depth=depth + 1)
    return box


def _block_names(spec: dict) -> tuple[str, ...]:
    try:
        return registry.get(str(spec.get("card", ""))).blocks
    except CardError:
        return ()


def _blocks(spec, card_type, path, highlight, *, depth) -> list[Block]:
    """The nested blocks of a control card, in the order the engine would consider them."""
    names = card_type.blocks if card_type else ()
    blocks: list[Block] = []
    for name in names:
        value = spec.get(name)
        if name == "branches":
            for number, branch in enumerate(value if isinstance(value, list) else [], start=1):
                branch = branch if isinstance(branch, dict) else {}
                blocks.append(
                    Block(
                        label="if" if number == 1 else "else if",
                        condition=short(branch.get("condition", "")),
                        cards=_chain(
                            branch.get("cards"), f"{path}/if{number}/", highlight, depth=depth
                        ),
                        kind="branch",
                    )
                )
        elif name == "else":
            if isinstance(value, list) and (value or blocks):
                blocks.append(
                    Block(
                        label="else",
                        cards=_chain(value, f"{path}/else/", highlight, depth=depth),
                        kind="else",
                    )
                )
        elif name == "do":
            given = spec.get("inputs") if isinstance(spec.get("inputs"), dict) else {}
            if not value and given.get("flow"):
                continue  # the loop calls a helper flow per item: its inputs say which
            items = given.get("items")
            blocks.append(
                Block(
                    label="for each item of",
                    condition=short(items) if items is not None else "",
                    cards=_chain(value, f"{path}/*/", highlight, depth=depth),
                    kind="loop",
                )
            )
        else:  # try, catch, and the blocks of control cards added later
            label = {"try": "try", "catch": "if an error happens"}.get(name, name)
            blocks.append(
                Block(
                    label=label,
                    cards=_chain(value, f"{path}/{name}/", highlight, depth=depth),
                    kind=name,
                )
            )
    return blocks

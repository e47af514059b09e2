"""The card registry: every card type, with its typed input and output fields.

A card is a Python function registered with `@card(...)`. The engine renders the card's inputs
(references to earlier outputs), checks and converts each against its declared type, calls the
function with them as keyword arguments, and checks the returned outputs the same way:

    @card("text.upper", "Upper case", "Text",
          inputs=[Field("text", TEXT)], outputs=[Field("text", TEXT)])
    def upper(context, *, text):
        return {"text": text.upper()}

Control cards (if, for each, try, call flow...) hold nested blocks of cards; the engine runs
them itself, and they are registered with `blocks=` naming their slots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from apps.flows import types
from apps.flows.errors import CardError


@dataclass(frozen=True)
class Field:
    """One input or output of a card."""

    name: str
    type: str = types.ANY
    required: bool = True
    description: str = ""
    default: Any = None

    def __post_init__(self):
        if self.type not in types.ALL_TYPES:
            raise ValueError(f"Field {self.name}: unknown type {self.type!r}")


@dataclass(frozen=True)
class CardType:
    """A registered card: what it is called, what it takes and gives, and how it runs."""

    key: str
    title: str
    category: str
    func: Callable[..., dict[str, Any]] | None
    inputs: tuple[Field, ...] = ()
    outputs: tuple[Field, ...] = ()
    description: str = ""
    blocks: tuple[str, ...] = ()
    open_inputs: bool = False  # accepts inputs beyond the declared ones (e.g. a helper's)
    open_outputs: bool = False  # returns fields decided at run time (parse JSON, a row...)
    # Whether running the card twice does no harm (pure cards, reads): a run whose worker was
    # lost is taken up again only if every card it may have been in is idempotent. False, or
    # a function of the card's checked inputs (an HTTP GET is, a POST is not).
    idempotent: bool | Callable[[dict[str, Any]], bool] = False

    def is_idempotent(self, inputs: dict[str, Any]) -> bool:
        return self.idempotent(inputs) if callable(self.idempotent) else self.idempotent

    @property
    def idempotence(self) -> str:
        """For the reference page: whether a run lost in this card may run it again."""
        if callable(self.idempotent):
            return "depending on its inputs"
        return "yes" if self.idempotent else "no: a run lost in it is failed instead"

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.inputs)

    def check_inputs(self, values: dict[str, Any]) -> dict[str, Any]:
        """The inputs converted to their declared types; CardError naming a bad or missing one."""
        checked: dict[str, Any] = {}
        for spec in self.inputs:
            value = values.get(spec.name)
            if value is None:
                value = spec.default
            if value is None:
                if spec.required:
                    raise CardError(f"input '{spec.name}' is required")
                checked[spec.name] = None
                continue
            try:
                checked[spec.name] = types.coerce(spec.type, value)
            except types.TypeMismatch as error:
                raise CardError(f"input '{spec.name}': {error}") from None
        if self.open_inputs:
            checked.update({k: v for k, v in values.items() if k not in checked})
        else:
            unknown = sorted(set(values) - set(self.input_names))
            if unknown:
                raise CardError(f"unknown input {', '.join(unknown)} for card {self.key}")
        return checked

    def check_outputs(self, values: dict[str, Any]) -> dict[str, Any]:
        """The function's result checked against the declared outputs."""
        if not isinstance(values, dict):
            raise CardError(f"card {self.key} returned {type(values).__name__}, not an object")
        checked = dict(values) if self.open_outputs else {}
        for spec in self.outputs:
            value = values.get(spec.name)
            try:
                checked[spec.name] = types.coerce(spec.type, value)
            except types.TypeMismatch as error:
                raise CardError(f"output '{spec.name}': {error}") from None
        return checked


REGISTRY: dict[str, CardType] = {}


def card(
    key: str,
    title: str,
    category: str,
    *,
    inputs: Iterable[Field] = (),
    outputs: Iterable[Field] = (),
    blocks: Iterable[str] = (),
    open_inputs: bool = False,
    open_outputs: bool = False,
    idempotent: bool | Callable[[dict[str, Any]], bool] = False,
):
    """Register the decorated function as the card `key`; its docstring is its description."""

    def register(func):
        if key in REGISTRY:
            raise ValueError(f"Card {key!r} is registered twice.")
        REGISTRY[key] = CardType(
            key=key,
            title=title,
            category=category,
            func=func,
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            description=(func.__doc__ or "").strip() if func else "",
            blocks=tuple(blocks),
            open_inputs=open_inputs,
            open_outputs=open_outputs,
            idempotent=idempotent,
        )
        return func

    return register


def get(key: str) -> CardType:
    """The card type `key`, or CardError naming the unknown card."""
    try:
        return REGISTRY[key]
    except KeyError:
        raise CardError(f"unknown card {key!r}") from None


def by_category() -> dict[str, list[CardType]]:
    """Every card, grouped by category, for the reference page."""
    grouped: dict[str, list[CardType]] = {}
    for card_type in sorted(REGISTRY.values(), key=lambda c: (c.category, c.key)):
        grouped.setdefault(card_type.category, []).append(card_type)
    return grouped


@dataclass
class CardContext:
    """What a card function may use besides its inputs: the run and who started it."""

    run: Any
    actor: Any = None
    scope: dict[str, Any] = field(default_factory=dict)
    engine: Any = None

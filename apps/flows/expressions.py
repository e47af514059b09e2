"""References between cards, rendered in Jinja2's sandbox.

A string that is exactly one `{{ expression }}` evaluates to the expression's own value, so a
number stays a number and a list stays a list; any other string with `{{ }}` renders as text.
Lists and objects are rendered item by item. Compiled templates are cached: a flow run renders
the same few strings again and again.

An expression may not exhaust the worker: the operators that can build a huge value from small
ones (`*`, `**`, `%`) and the string methods and filters that pad or repeat are checked
before they run; `range` is bounded; text is rendered piece by piece against its length limit;
and the run's deadline is checked while an expression loops, so a card cannot run past the
run's time limit. Each refusal is a CardError saying which limit.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from apps.flows.errors import CardError, FlowLimitExceeded

_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}).)*)\}\}\s*$", re.DOTALL)
MAX_RENDERED_TEXT = 1_000_000
MAX_VALUE_LENGTH = 1_000_000  # characters of a text, items of a list, built by one operation
MAX_INTEGER_BITS = 10_000  # about 3000 digits
MAX_RANGE = 100_000
_DEADLINE_EVERY = 1024  # loop steps between two looks at the clock
# A width or precision of a million or more in a %-format or a {}-format's spec, or a
# width taken from an argument ({:{}}), which could ask for any size.
_HUGE_PERCENT_FORMAT = re.compile(r"%[-#0 +]*(?:\d{7,}|\d*\.\d{7,})")
_HUGE_BRACE_FORMAT = re.compile(r"\{[^{}]*:[^{}]*?(?:\d{7,}|\{)")

# (monotonic deadline, the limit in seconds) of the run rendering now, if any.
_deadline: ContextVar[tuple[float, float] | None] = ContextVar("flow_deadline", default=None)


@contextmanager
def deadline(at: float, seconds: float):
    """Expressions rendered in this block stop with FlowLimitExceeded once `at` has passed."""
    current = _deadline.get()
    if current is not None and current[0] < at:
        at, seconds = current  # a helper flow run in-process keeps its caller's deadline
    token = _deadline.set((at, seconds))
    try:
        yield
    finally:
        _deadline.reset(token)


def check_deadline() -> None:
    current = _deadline.get()
    if current is not None and time.monotonic() > current[0]:
        raise FlowLimitExceeded(f"the run took longer than {current[1]:g} s (limit)")


def _too_long(what: str, length: int) -> CardError:
    return FlowLimitExceeded(f"{what} would be {length} long, over the {MAX_VALUE_LENGTH} limit")


def _length(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else None


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _checked_multiply(left: Any, right: Any) -> Any:
    for sequence, count in ((left, right), (right, left)):
        length = _length(sequence)
        if length is not None and _integer(count) and length * count > MAX_VALUE_LENGTH:
            raise _too_long("the repeated value", length * count)
    if (
        _integer(left)
        and _integer(right)
        and left.bit_length() + right.bit_length() > MAX_INTEGER_BITS
    ):
        raise FlowLimitExceeded(f"the product is over {MAX_INTEGER_BITS} bits (limit)")
    return left * right


def _checked_power(base: Any, exponent: Any) -> Any:
    if (
        _integer(base)
        and _integer(exponent)
        and abs(base) > 1
        and (abs(base).bit_length() - 1) * exponent > MAX_INTEGER_BITS
    ):
        raise FlowLimitExceeded(f"the power is over {MAX_INTEGER_BITS} bits (limit)")
    return base**exponent


def _checked_modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        _check_format(left)
        for argument in right if isinstance(right, tuple) else (right,):
            if _integer(argument) and argument > MAX_VALUE_LENGTH and "*" in left:
                raise _too_long("the formatted text", argument)
    return left % right


def _check_format(text: str) -> None:
    if _HUGE_PERCENT_FORMAT.search(text) or _HUGE_BRACE_FORMAT.search(text):
        raise FlowLimitExceeded(
            "a format with a width or precision of a million or more, or one taken from "
            f"an argument, is refused (limit {MAX_VALUE_LENGTH})"
        )


_CHECKED_BINOPS = {
    "*": _checked_multiply,
    "**": _checked_power,
    "%": _checked_modulo,
}

# String methods (and filters) that build a text larger than their inputs: checked first.
_PADDING = {"ljust", "rjust", "center", "zfill"}


def _check_call(obj: Any, args: tuple, kwargs: dict) -> None:
    name = getattr(obj, "__name__", "")
    owner = getattr(obj, "__self__", None)
    if not isinstance(owner, str):
        return
    if name in _PADDING and args and _integer(args[0]) and args[0] > MAX_VALUE_LENGTH:
        raise _too_long(f"{name}()", args[0])
    if name == "expandtabs" and args and _integer(args[0]):
        _check_growth(name, owner.count("\t") * args[0] + len(owner))
    if name == "replace" and len(args) >= 2 and isinstance(args[0], str):
        _check_replace(owner, args[0], args[1])
    if name in {"format", "format_map"}:
        _check_format(owner)


def _check_replace(text: str, old: Any, new: Any) -> None:
    if isinstance(new, str) and len(new) > len(old):
        occurrences = text.count(old) if old else len(text) + 1
        _check_growth("replace()", len(text) + occurrences * (len(new) - len(old)))


def _check_growth(what: str, length: int) -> None:
    if length > MAX_VALUE_LENGTH:
        raise _too_long(what, length)


class _BoundedRange:
    """`range()` in expressions: at most MAX_RANGE numbers, looking at the run's deadline as
    a loop goes through them."""

    def __init__(self, *args: int):
        try:
            self._range = range(*args)
        except (TypeError, ValueError) as error:
            raise CardError(f"range{args}: {error}") from None
        if len(self._range) > MAX_RANGE:
            raise FlowLimitExceeded(
                f"range{args} has {len(self._range)} numbers, over the {MAX_RANGE} limit"
            )

    def __iter__(self):
        for position, number in enumerate(self._range):
            if position % _DEADLINE_EVERY == 0:
                check_deadline()
            yield number

    def __len__(self) -> int:
        return len(self._range)

    def __getitem__(self, index):
        return self._range[index]

    def __contains__(self, value) -> bool:
        return value in self._range

    def __reversed__(self):
        return reversed(self._range)

    def __repr__(self) -> str:
        return repr(self._range)


def _tojson(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


class _FlowEnvironment(SandboxedEnvironment):
    """The sandbox, where `card.items` means the output named items, not dict.items, and
    where the operations that could exhaust memory or time are checked first."""

    intercepted_binops = frozenset(_CHECKED_BINOPS)

    def getattr(self, obj, attribute):
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        if isinstance(obj, str) and attribute in {"format", "format_map"}:
            _check_format(obj)  # the sandbox hands out its own wrapper of str.format
        return super().getattr(obj, attribute)

    def call_binop(self, context, operator_name, left, right):
        check_deadline()
        return _CHECKED_BINOPS[operator_name](left, right)

    def call(__self, __context, __obj, *args, **kwargs):
        check_deadline()
        _check_call(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)


def _guarded_filter(name: str, original):
    """A filter that pads or repeats, refusing a result over the limit before building it."""

    passes_context = hasattr(original, "jinja_pass_arg")

    def guarded(*args, **kwargs):
        context, (value, *args) = (args[:1], args[1:]) if passes_context else ((), args)
        if name in {"center", "indent"} and args and _integer(args[0]):
            lines = str(value).count("\n") + 1
            _check_growth(f"the {name} filter", len(str(value)) + args[0] * lines)
        if name == "replace" and len(args) >= 2:
            _check_replace(str(value), str(args[0]), str(args[1]))
        if name == "format":
            _check_format(str(value))
        if name == "wordwrap" and len(args) >= 3 and isinstance(args[2], str):
            _check_growth("the wordwrap filter", len(str(value)) * (len(args[2]) + 1))
        return original(*context, value, *args, **kwargs)

    if passes_context:
        guarded.jinja_pass_arg = original.jinja_pass_arg
    return guarded


def _environment() -> SandboxedEnvironment:
    environment = _FlowEnvironment(undefined=StrictUndefined, autoescape=False)
    environment.filters["tojson"] = _tojson
    for name in ("center", "indent", "replace", "format", "wordwrap"):
        environment.filters[name] = _guarded_filter(name, environment.filters[name])
    environment.globals.update({"now": lambda: dt.datetime.now(dt.UTC), "range": _BoundedRange})
    return environment


ENVIRONMENT = _environment()


@lru_cache(maxsize=4096)
def _compiled_expression(source: str):
    """The compiled expression and the names it reads (only those are handed to it)."""
    return (
        ENVIRONMENT.compile_expression(source, undefined_to_none=False),
        _names(f"{{{{ {source} }}}}"),
    )


@lru_cache(maxsize=4096)
def _compiled_template(source: str):
    return ENVIRONMENT.from_string(source), _names(source)


def _names(source: str) -> tuple[str, ...]:
    return tuple(_read_names(source))


def _read_names(source: str) -> set[str]:
    """Names a template reads from outside: its free variables, and globals it uses (a card
    may be called `now` and shadow the global)."""
    from jinja2 import meta, nodes

    tree = ENVIRONMENT.parse(source)
    loaded = {node.name for node in tree.find_all(nodes.Name) if node.ctx == "load"}
    return meta.find_undeclared_variables(tree) | (loaded & set(ENVIRONMENT.globals))


def _visible(scope, names: tuple[str, ...]) -> dict[str, Any]:
    # Jinja copies every variable it is given into a new context: hand it only what the
    # expression reads, so a card late in a long run costs no more than an early one.
    return {name: scope[name] for name in names if name in scope}


def render(value: Any, scope: dict[str, Any]) -> Any:
    """`value` with every reference resolved against `scope` (card outputs, inputs, item)."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        try:
            single = _SINGLE_EXPRESSION.match(value)
            if single:
                expression, names = _compiled_expression(single.group("expr").strip())
                result = expression(**_visible(scope, names))
                if isinstance(result, _BoundedRange):
                    result = result._range
                length = _length(result)
                if length is not None and length > MAX_VALUE_LENGTH:
                    raise _too_long("the value", length)
                return None if _is_undefined(result) else result
            template, names = _compiled_template(value)
            return _render_text(template, _visible(scope, names))
        except FlowLimitExceeded as error:
            raise FlowLimitExceeded(f"in {_quoted(value)}: {error}") from None
        except TemplateError as error:
            raise CardError(f"in {_quoted(value)}: {error}") from error
        except (OverflowError, MemoryError, RecursionError) as error:
            raise CardError(
                f"in {_quoted(value)}: the expression is too large to compute ({error})"
            ) from None
    if isinstance(value, list):
        return [render(item, scope) for item in value]
    if isinstance(value, dict):
        return {key: render(item, scope) for key, item in value.items()}
    return value


def _render_text(template, variables: dict[str, Any]) -> str:
    """The template's text, built piece by piece: stopped as soon as it passes the length
    limit or the run's deadline, rather than after building all of it."""
    pieces: list[str] = []
    length = 0
    for count, piece in enumerate(template.root_render_func(template.new_context(variables))):
        length += len(piece)
        if length > MAX_RENDERED_TEXT:
            raise FlowLimitExceeded(f"the text is over {MAX_RENDERED_TEXT} characters (limit)")
        if count % _DEADLINE_EVERY == _DEADLINE_EVERY - 1:
            check_deadline()
        pieces.append(piece)
    return "".join(pieces)


def _quoted(value: str) -> str:
    return repr(value if len(value) <= 200 else value[:200] + "...")


def _is_undefined(value: Any) -> bool:
    from jinja2 import Undefined

    return isinstance(value, Undefined)


def references(value: Any) -> set[str]:
    """The top-level names a value refers to (`read_user` in `{{ read_user.email }}`)."""
    names: set[str] = set()
    if isinstance(value, str) and "{{" in value:
        try:
            names |= _read_names(value)
        except TemplateError as error:
            raise CardError(f"in {value!r}: {error}") from error
    elif isinstance(value, list):
        for item in value:
            names |= references(item)
    elif isinstance(value, dict):
        for item in value.values():
            names |= references(item)
    return names

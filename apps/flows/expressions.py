"""References between cards, rendered in Jinja2's sandbox.

A string that is exactly one `{{ expression }}` evaluates to the expression's own value, so a
number stays a number and a list stays a list; any other string with `{{ }}` renders as text.
Lists and objects are rendered item by item. Compiled templates are cached: a flow run renders
the same few strings again and again.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from apps.flows.errors import CardError

_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}).)*)\}\}\s*$", re.DOTALL)
MAX_RENDERED_TEXT = 1_000_000


def _tojson(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


class _FlowEnvironment(SandboxedEnvironment):
    """The sandbox, where `card.items` means the output named items, not dict.items."""

    def getattr(self, obj, attribute):
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def _environment() -> SandboxedEnvironment:
    environment = _FlowEnvironment(undefined=StrictUndefined, autoescape=False)
    environment.filters["tojson"] = _tojson
    environment.globals.update({"now": lambda: dt.datetime.now(dt.UTC)})
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
                return None if _is_undefined(result) else result
            template, names = _compiled_template(value)
            text = template.render(**_visible(scope, names))
        except TemplateError as error:
            raise CardError(f"in {value!r}: {error}") from error
        if len(text) > MAX_RENDERED_TEXT:
            raise CardError(f"in {value!r}: the text is over {MAX_RENDERED_TEXT} characters")
        return text
    if isinstance(value, list):
        return [render(item, scope) for item in value]
    if isinstance(value, dict):
        return {key: render(item, scope) for key, item in value.items()}
    return value


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

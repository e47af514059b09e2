"""Object and JSON cards: construct, get and set by path, merge, pick and omit fields, parse
and write JSON.

Paths are dotted text (`manager.emails.0.value`: keys of objects, positions in lists) or, for
keys that themselves contain dots, a list of keys and positions. No card changes its input:
`object.set` and `object.merge` copy only the objects along the way they change.
"""

from __future__ import annotations

import json
from typing import Any

from apps.flows.cards.support import (
    MISSING,
    describe,
    list_index,
    lookup,
    open_values,
    parse_path,
    whole_number,
)
from apps.flows.errors import CardError
from apps.flows.registry import Field, card
from apps.flows.types import ANY, BOOLEAN, LIST, NUMBER, OBJECT, TEXT, coerce

CATEGORY = "Object and JSON"
MAX_INDENT = 8


def _path_text(segments: tuple[Any, ...]) -> str:
    return ".".join(str(segment) for segment in segments)


def _with(container: Any, segments: tuple[Any, ...], value: Any, done: int = 0) -> Any:
    """A copy of `container` with `value` at the end of the path; missing steps become {}."""
    head, rest = segments[done], done + 1 < len(segments)
    if isinstance(container, dict):
        copy = dict(container)
        key = str(head)
        if rest:
            child = container.get(key)
            copy[key] = _with({} if child is None else child, segments, value, done + 1)
        else:
            copy[key] = value
        return copy
    if isinstance(container, list):
        index = list_index(head)
        if index is None or not -len(container) <= index <= len(container):
            raise CardError(
                f"input 'path': {head!r} at {_path_text(segments[:done]) or 'the top'} is not a "
                f"position in a list of length {len(container)} (use 0 to {len(container)})"
            )
        copy = list(container)
        if index == len(copy):
            copy.append(None)
        child = copy[index]
        copy[index] = (
            _with({} if child is None else child, segments, value, done + 1) if rest else value
        )
        return copy
    raise CardError(
        f"input 'path': cannot go into {_path_text(segments[:done])}, which is "
        f"{describe(container)}"
    )


def _merged(base: dict, extra: dict, deep: bool) -> dict:
    result = dict(base)
    for key, value in extra.items():
        current = result.get(key)
        if deep and isinstance(current, dict) and isinstance(value, dict):
            result[key] = _merged(current, value, deep)
        else:
            result[key] = value
    return result


def _field_names(fields: list) -> list[str]:
    names = []
    for position, name in enumerate(fields):
        if name is None or isinstance(name, (dict, list)):
            raise CardError(f"input 'fields', item {position} is {describe(name)}, not a name")
        names.append(coerce(TEXT, name))
    return names


@card(
    "object.construct",
    "Construct object",
    CATEGORY,
    outputs=[Field("object", OBJECT)],
    open_inputs=True,
    idempotent=True,
)
def construct(context, /, **values):
    """Builds an object from inputs of any names: each input becomes a field of the same name,
    its value keeping its type (a number stays a number, a list a list). Use it to shape the
    body of an HTTP call or a flow's output."""
    return {"object": dict(open_values(values, ()))}


@card(
    "object.get",
    "Get field",
    CATEGORY,
    inputs=[
        Field("object", ANY, description="an object or a list"),
        Field("path", ANY, description="e.g. manager.emails.0.value, or a list of keys"),
        Field("default", ANY, required=False, description="the value when the path is absent"),
    ],
    outputs=[Field("value", ANY, required=False), Field("found", BOOLEAN)],
    idempotent=True,
)
def get(context, *, object, path, default):
    """Gives the value at a path inside an object: dotted keys, with positions for lists
    (`groups.0.name`; -1 is the last) or, when a key contains a dot, a list of keys such as
    `["emails", "ana@example.com"]`. When the path leads nowhere, it gives the default (null
    unless one is given) and found is false, rather than failing."""
    if not isinstance(object, (dict, list)):
        raise CardError(f"input 'object' must be an object or a list, got {describe(object)}")
    value = lookup(object, parse_path("path", path))
    if value is MISSING:
        return {"value": default, "found": False}
    return {"value": value, "found": True}


@card(
    "object.set",
    "Set field",
    CATEGORY,
    inputs=[
        Field("object", OBJECT),
        Field("path", ANY, description="e.g. profile.title, or a list of keys"),
        Field("value", ANY, required=False),
    ],
    outputs=[Field("object", OBJECT)],
    idempotent=True,
)
def set_(context, *, object, path, value):
    """Gives a copy of the object with a value set at a path (the input object is left as it
    was). Missing or null objects along the path are created; a list position may be an
    existing one or the list's length to add at the end. A path that runs into a text, number or
    other plain value fails the card, naming where."""
    return {"object": _with(object, parse_path("path", path), value)}


@card(
    "object.merge",
    "Merge objects",
    CATEGORY,
    inputs=[
        Field("objects", LIST, description="objects; later ones win"),
        Field("deep", BOOLEAN, required=False, default=False, description="merge inner objects"),
    ],
    outputs=[Field("object", OBJECT)],
    idempotent=True,
)
def merge(context, *, objects, deep):
    """Merges a list of objects into one; where several have the same field, the later one
    wins. With `deep`, fields that are objects on both sides are merged in turn instead of
    replaced (lists are still replaced). Null entries are skipped; an entry that is not an
    object fails the card, naming its position."""
    result: dict = {}
    for position, item in enumerate(objects):
        if item is None:
            continue
        if not isinstance(item, dict):
            raise CardError(f"input 'objects', item {position} is {describe(item)}, not an object")
        result = _merged(result, item, bool(deep))
    return {"object": result}


@card(
    "object.pick",
    "Pick fields",
    CATEGORY,
    inputs=[Field("object", OBJECT), Field("fields", LIST, description="names to keep")],
    outputs=[Field("object", OBJECT)],
    idempotent=True,
)
def pick(context, *, object, fields):
    """Gives a new object with only the named fields of the object, in the order of the names;
    names the object does not have are left out."""
    return {"object": {name: object[name] for name in _field_names(fields) if name in object}}


@card(
    "object.omit",
    "Omit fields",
    CATEGORY,
    inputs=[Field("object", OBJECT), Field("fields", LIST, description="names to leave out")],
    outputs=[Field("object", OBJECT)],
    idempotent=True,
)
def omit(context, *, object, fields):
    """Gives a new object with every field of the object except the named ones (names it does
    not have are ignored), e.g. to drop a password before logging a record."""
    left_out = set(_field_names(fields))
    return {"object": {key: value for key, value in object.items() if key not in left_out}}


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not allowed in JSON")


@card(
    "json.parse",
    "Parse JSON",
    CATEGORY,
    inputs=[Field("text", TEXT)],
    outputs=[Field("value", ANY, required=False)],
    idempotent=True,
)
def parse(context, *, text):
    """Reads JSON text (from an HTTP response or a stored field) into a value: an object, a
    list, a text, a number, true/false or null, which later cards reach as `{{ card.value }}`
    (e.g. `{{ parse.value.user.email }}`). Text that is not valid JSON fails the card with the
    reason and the line and column where reading stopped."""
    try:
        return {"value": json.loads(text, parse_constant=_refuse_constant)}
    except json.JSONDecodeError as error:
        raise CardError(
            f"input 'text' is not valid JSON: {error.msg} at line {error.lineno} "
            f"column {error.colno} (character {error.pos})"
        ) from None
    except RecursionError:
        raise CardError("input 'text': the JSON is nested too deeply") from None
    except ValueError as error:  # NaN / Infinity, or an integer too long to read
        raise CardError(f"input 'text' is not valid JSON: {error}") from None


@card(
    "json.stringify",
    "Write JSON",
    CATEGORY,
    inputs=[
        Field("value", ANY, required=False),
        Field("indent", NUMBER, required=False, description=f"0 to {MAX_INDENT}; empty: compact"),
    ],
    outputs=[Field("text", TEXT)],
    idempotent=True,
)
def stringify(context, *, value, indent):
    """Writes a value as JSON text, e.g. for an HTTP body or a log line: compact by default,
    or spread over lines with `indent` spaces per level. Dates are written as ISO 8601 text;
    a number that is not finite fails the card."""
    spaces = (
        None if indent is None else whole_number("indent", indent, minimum=0, maximum=MAX_INDENT)
    )
    try:
        text = json.dumps(
            value, indent=spaces, ensure_ascii=False, allow_nan=False, default=_json_default
        )
    except ValueError as error:
        raise CardError(f"input 'value' cannot be written as JSON: {error}") from None
    except RecursionError:
        raise CardError("input 'value' is nested too deeply") from None
    return {"text": text}


def _json_default(value: Any) -> str:
    """Dates (the one non-JSON type a flow value may hold) as ISO 8601; the rest as text."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)

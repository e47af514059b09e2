"""List cards: construct, pick by position, measure, filter, find, pluck, join, unique, sort,
flatten.

Filter and find share one "where" test (a field, an operator, a value). Where one side is text
and the other a number or a date, the text is read as a number or date, so a value typed in the
definition as "5" still matches a 5 from a directory read. No card changes its input list.
"""

from __future__ import annotations

import builtins
import json
import operator as op
from typing import Any

from apps.flows import types
from apps.flows.cards.support import (
    MISSING,
    choice,
    describe,
    lookup,
    open_values,
    parse_path,
    whole_number,
)
from apps.flows.errors import CardError
from apps.flows.registry import Field, card
from apps.flows.types import ANY, BOOLEAN, LIST, NUMBER, TEXT, TypeMismatch, coerce

CATEGORY = "List"
COMPARISONS = {"<": op.lt, "<=": op.le, ">": op.gt, ">=": op.ge}
WHERE_OPERATORS = (
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "in",
    "not_in",
    "is_empty",
    "is_not_empty",
)
_ORDERED_TYPES = (types.NUMBER, types.TEXT, types.DATETIME, types.BOOLEAN)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _align(left: Any, right: Any) -> tuple[Any, Any]:
    """Read a text side as a number or a date when the other side is one."""
    if isinstance(left, str) == isinstance(right, str) or left is None or right is None:
        return left, right
    text_on_left = isinstance(left, str)
    text, other = (left, right) if text_on_left else (right, left)
    kind = types.type_of(other)
    if kind not in (types.NUMBER, types.DATETIME):
        return left, right
    try:
        converted = coerce(kind, text)
    except TypeMismatch:
        return left, right
    return (converted, right) if text_on_left else (left, converted)


def _equal(left: Any, right: Any) -> bool:
    left, right = _align(left, right)
    if left is None or right is None:
        return left is right
    return types.type_of(left) == types.type_of(right) and left == right


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, (list, dict)):
        return None
    return coerce(TEXT, value)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not value)


def _contains(left: Any, right: Any) -> bool:
    if isinstance(left, str):
        needle = _as_text(right)
        return needle is not None and needle in left
    if isinstance(left, list):
        return any(_equal(element, right) for element in left)
    if isinstance(left, dict):
        return isinstance(right, str) and right in left
    return False


def where(field: str | None, operator: str | None, value: Any):
    """A test `(position, item) -> bool` for filter and find; CardError for a bad where."""
    operator = choice("operator", operator or "==", WHERE_OPERATORS)
    segments = parse_path("field", field) if field else ()
    if operator in ("in", "not_in") and not isinstance(value, list):
        raise CardError(f"input 'value' must be a list for '{operator}', got {describe(value)}")

    def compare(position: int, left: Any) -> bool:
        if left is None or value is None:
            return False
        left_value, right_value = _align(left, value)
        left_type, right_type = types.type_of(left_value), types.type_of(right_value)
        if left_type != right_type or left_type not in _ORDERED_TYPES:
            raise CardError(
                f"item {position}: cannot compare {describe(left_value)} {_shown(left_value)} "
                f"with {describe(right_value)} {_shown(right_value)} (input 'value')"
            )
        return COMPARISONS[operator](left_value, right_value)

    def test(position: int, item: Any) -> bool:
        left = lookup(item, segments) if segments else item
        if left is MISSING:
            left = None
        if operator == "==":
            return _equal(left, value)
        if operator == "!=":
            return not _equal(left, value)
        if operator in COMPARISONS:
            return compare(position, left)
        if operator == "contains":
            return _contains(left, value)
        if operator == "not_contains":
            return not _contains(left, value)
        if operator in ("starts_with", "ends_with"):
            needle = _as_text(value)
            if not isinstance(left, str) or needle is None:
                return False
            return left.startswith(needle) if operator == "starts_with" else left.endswith(needle)
        if operator == "in":
            return any(_equal(left, element) for element in value)
        if operator == "not_in":
            return not any(_equal(left, element) for element in value)
        return _empty(left) if operator == "is_empty" else not _empty(left)

    return test


WHERE_INPUTS = [
    Field("list", LIST),
    Field("field", TEXT, required=False, description="a field path like a.b; empty: the item"),
    Field("operator", TEXT, required=False, default="==", description=" ".join(WHERE_OPERATORS)),
    Field("value", ANY, required=False, description="what to compare with"),
]


@card(
    "list.construct",
    "Construct list",
    CATEGORY,
    inputs=[Field("items", LIST, required=False, description="the items, as one list")],
    outputs=[Field("list", LIST)],
    open_inputs=True,
    idempotent=True,
)
def construct(context, /, **values):
    """Builds a list from values. Either give `items` (a list, each element rendered), or add
    inputs of any names, each one an item: they are taken in the natural order of their names
    (item1, item2, ..., item10; a saved definition does not keep the order in which inputs
    were written). Given both, `items` comes first. Values keep their types."""
    items = values.pop("items", None)
    return {"list": [*(items or []), *(value for _, value in open_values(values, ()))]}


@card(
    "list.at",
    "Item at position",
    CATEGORY,
    inputs=[
        Field("list", LIST),
        Field("index", NUMBER, description="0 is the first; -1 the last"),
    ],
    outputs=[Field("item", ANY, required=False)],
    idempotent=True,
)
def at(context, *, list, index):
    """Gives the item at a position: 0 is the first item, 1 the second, and negative positions
    count from the end (-1 is the last). A position past either end fails the card, naming the
    position and the list's length."""
    index = whole_number("index", index)
    if not -len(list) <= index < len(list):
        raise CardError(f"input 'index': {index} is out of range for a list of length {len(list)}")
    return {"item": list[index]}


@card(
    "list.length",
    "Length of list",
    CATEGORY,
    inputs=[Field("list", LIST)],
    outputs=[Field("length", NUMBER)],
    idempotent=True,
)
def length(context, *, list):
    """Gives the number of items in the list (0 for an empty list)."""
    return {"length": len(list)}


@card(
    "list.filter",
    "Filter list",
    CATEGORY,
    inputs=WHERE_INPUTS,
    outputs=[Field("list", LIST), Field("count", NUMBER)],
    idempotent=True,
)
def filter_(context, *, list, field, operator, value):
    """Keeps the items that pass a test, in their order, and counts them. The test compares an
    item's `field` (a path such as `profile.department`; empty for lists of plain values) with
    the `value` using one of `== != < <= > >=`, `contains` / `not_contains` (text in a text,
    an element in a list, a key in an object), `starts_with`, `ends_with`, `in` / `not_in`
    (the value is a list) and `is_empty` / `is_not_empty` (null, missing, "", [] or {}). Text
    on one side is read as a number or date when the other side is one; ordering text against
    a number that cannot be read as one fails the card, naming the item."""
    test = where(field, operator, value)
    kept = [item for position, item in enumerate(list) if test(position, item)]
    return {"list": kept, "count": len(kept)}


@card(
    "list.find",
    "Find in list",
    CATEGORY,
    inputs=WHERE_INPUTS,
    outputs=[
        Field("item", ANY, required=False, description="the first match, or null"),
        Field("found", BOOLEAN),
        Field("index", NUMBER, required=False, description="its position, or null"),
    ],
    idempotent=True,
)
def find(context, *, list, field, operator, value):
    """Gives the first item that passes the test, whether one was found and its position (0
    for the first); with no match, item and position are null and found is false. The test is
    the same as Filter list's: a field path, an operator and a value."""
    test = where(field, operator, value)
    for position, item in enumerate(list):
        if test(position, item):
            return {"item": item, "found": True, "index": position}
    return {"item": None, "found": False, "index": None}


@card(
    "list.pluck",
    "Pluck field",
    CATEGORY,
    inputs=[Field("list", LIST), Field("field", TEXT, description="a field path like a.b")],
    outputs=[Field("list", LIST)],
    idempotent=True,
)
def pluck(context, *, list, field):
    """Gives, for each object of the list, the value of one field (a path such as
    `manager.email`), keeping the order; an item that lacks the field, or is not an object,
    gives null in its place, so the result is as long as the list."""
    segments = parse_path("field", field)
    plucked = []
    for item in list:
        found = lookup(item, segments)
        plucked.append(None if found is MISSING else found)
    return {"list": plucked}


@card(
    "list.join",
    "Join list",
    CATEGORY,
    inputs=[
        Field("list", LIST),
        Field("separator", TEXT, required=False, default="", description="e.g. ', '"),
    ],
    outputs=[Field("text", TEXT)],
    idempotent=True,
)
def join(context, *, list, separator):
    """Joins the items into one text with the separator between them (nothing by default).
    Numbers, dates and true/false become their text and null items empty text; an item that is
    a list or an object fails the card, naming its position."""
    pieces = []
    for position, item in enumerate(list):
        if isinstance(item, (dict, builtins.list)):
            raise CardError(f"input 'list', item {position} is {describe(item)}, not text")
        pieces.append("" if item is None else coerce(TEXT, item))
    return {"text": (separator or "").join(pieces)}


def _identity(value: Any) -> Any:
    """A hashable stand-in for a value: true and 1 differ, 1 and 1.0 do not."""
    if isinstance(value, (dict, list)):
        return ("json", json.dumps(value, sort_keys=True, default=str))
    return (types.type_of(value), value)


@card(
    "list.unique",
    "Remove duplicates",
    CATEGORY,
    inputs=[
        Field("list", LIST),
        Field("field", TEXT, required=False, description="compare objects by this field"),
    ],
    outputs=[Field("list", LIST)],
    idempotent=True,
)
def unique(context, *, list, field):
    """Removes repeated items, keeping the first of each in its place. Objects and lists are
    equal when their contents are; with `field`, objects count as duplicates when that field
    (a path such as `email`) is equal, and the first object with each value is kept."""
    segments = parse_path("field", field) if field else ()
    seen: set = set()
    kept = []
    for item in list:
        key = _identity(lookup(item, segments) if segments else item)
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return {"list": kept}


@card(
    "list.sort",
    "Sort list",
    CATEGORY,
    inputs=[
        Field("list", LIST),
        Field("field", TEXT, required=False, description="sort objects by this field"),
        Field("descending", BOOLEAN, required=False, default=False),
    ],
    outputs=[Field("list", LIST)],
    idempotent=True,
)
def sort(context, *, list, field, descending):
    """Sorts the items (numbers, texts, dates or true/false), smallest first or, with
    `descending`, largest first; objects are sorted by a `field` (a path such as
    `profile.last_name`). Text is sorted without regard to case, equal items keep their order,
    and null or missing values go last either way. A mix of types (numbers and texts) fails the
    card."""
    segments = parse_path("field", field) if field else ()
    keyed, nulls = [], []
    kinds = set()
    for item in list:
        key = lookup(item, segments) if segments else item
        if key is None or key is MISSING:
            nulls.append(item)
            continue
        kinds.add(types.type_of(key))
        keyed.append(((key.casefold(), key) if isinstance(key, str) else key, item))
    if kinds - set(_ORDERED_TYPES):
        raise CardError("input 'list': objects and lists cannot be sorted; give a 'field'")
    if len(kinds) > 1:
        raise CardError(f"input 'list': cannot sort a mix of {' and '.join(sorted(kinds))}")
    keyed.sort(key=lambda pair: pair[0], reverse=bool(descending))
    return {"list": [item for _, item in keyed] + nulls}


@card(
    "list.flatten",
    "Flatten list",
    CATEGORY,
    inputs=[
        Field("list", LIST),
        Field("deep", BOOLEAN, required=False, default=False, description="all levels"),
    ],
    outputs=[Field("list", LIST)],
    idempotent=True,
)
def flatten(context, *, list, deep):
    """Puts the items of inner lists in place of those lists: [[1, 2], [3], 4] gives
    [1, 2, 3, 4]. By default one level is undone; with `deep`, lists inside lists at any depth
    are flattened too."""
    flat = []
    if not deep:
        for item in list:
            if isinstance(item, builtins.list):
                flat.extend(item)
            else:
                flat.append(item)
        return {"list": flat}
    stack = [iter(list)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, builtins.list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return {"list": flat}

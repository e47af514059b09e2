"""Helpers shared by the pure card families: whole numbers, choices, paths into objects.

Not a card family: nothing here is registered. Every helper raises CardError with a message
that names the input it was given, so a card can pass its values straight through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError

from apps.core.statemachine import IllegalTransition
from apps.flows import types
from apps.flows.errors import CardError

MISSING = object()  # a path that leads nowhere (distinct from a null value)
MAX_PATH_SEGMENTS = 100
MAX_PATH_CHARS = 1000
_DIGITS = re.compile(r"(\d+)")


_KINDS = {
    types.TEXT: "text",
    types.NUMBER: "a number",
    types.BOOLEAN: "true/false",
    types.DATETIME: "a date",
    types.LIST: "a list",
    types.OBJECT: "an object",
}


def describe(value: Any) -> str:
    """What kind of value this is, for an error message: 'a list', 'text', 'null'..."""
    return "null" if value is None else _KINDS[types.type_of(value)]


def whole_number(
    name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """`value` (already a number) as an int, or CardError naming the input."""
    if isinstance(value, float):
        if not value.is_integer():
            raise CardError(f"input '{name}' must be a whole number, got {value}")
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise CardError(f"input '{name}' must be a whole number, got {describe(value)}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        low = "" if minimum is None else f" from {minimum}"
        high = "" if maximum is None else f" to {maximum}"
        raise CardError(f"input '{name}' must be{low}{high}, got {value}")
    return value


def choice(name: str, value: str, allowed: Iterable[str]) -> str:
    """`value` trimmed and lower-cased, if it is one of `allowed`; CardError listing them."""
    allowed = tuple(allowed)
    normalized = value.strip().lower()
    if normalized not in allowed:
        raise CardError(f"input '{name}' must be one of {', '.join(allowed)}; got {value!r}")
    return normalized


def natural_key(name: str) -> tuple:
    """Sort key putting item2 before item10 (digit runs compare as numbers)."""
    parts = _DIGITS.split(name)
    return tuple(int(part) if i % 2 else part.casefold() for i, part in enumerate(parts)), name


def open_values(values: dict[str, Any], declared: Iterable[str]) -> list[tuple[str, Any]]:
    """The undeclared (open) inputs as (name, value), in natural order of their names.

    A saved definition does not keep the order of an object's names (PostgreSQL's jsonb sorts
    them), so the order of open inputs has to come from the names themselves.
    """
    skip = set(declared)
    return sorted(
        ((k, v) for k, v in values.items() if k not in skip), key=lambda kv: natural_key(kv[0])
    )


@lru_cache(maxsize=1024)
def _split_path(path: str) -> tuple[str, ...] | None:
    segments = tuple(path.split("."))
    return None if any(segment == "" for segment in segments) else segments


def parse_path(name: str, path: Any) -> tuple[Any, ...]:
    """A path as its segments: dotted text ("a.b.0.c") or a list of keys and indexes."""
    if isinstance(path, (list, tuple)):
        if not path:
            raise CardError(f"input '{name}' is an empty path")
        for segment in path:
            if isinstance(segment, bool) or not isinstance(segment, (str, int)):
                raise CardError(
                    f"input '{name}': a path segment must be text or a whole number, "
                    f"got {describe(segment)}"
                )
        segments = tuple(path)
    elif isinstance(path, bool) or not isinstance(path, (str, int)):
        raise CardError(f"input '{name}' must be dotted text or a list, got {describe(path)}")
    else:
        if len(str(path)) > MAX_PATH_CHARS:
            raise CardError(f"input '{name}' is over {MAX_PATH_CHARS} characters")
        segments = _split_path(str(path).strip())
        if segments is None:
            raise CardError(f"input '{name}': {path!r} has an empty segment (like 'a..b')")
    if len(segments) > MAX_PATH_SEGMENTS:
        raise CardError(f"input '{name}' has more than {MAX_PATH_SEGMENTS} segments")
    return segments


def list_index(segment: Any) -> int | None:
    """A path segment as a list index (negative counts from the end), or None."""
    if isinstance(segment, int) and not isinstance(segment, bool):
        return segment
    if isinstance(segment, str):
        text = segment[1:] if segment.startswith("-") else segment
        if text.isdigit() and text.isascii():
            return int(segment)
    return None


def step(container: Any, segment: Any) -> Any:
    """One step down a path: a key of an object or an index of a list; MISSING if absent."""
    if isinstance(container, dict):
        return container.get(str(segment), MISSING)
    if isinstance(container, list):
        index = list_index(segment)
        if index is not None and -len(container) <= index < len(container):
            return container[index]
    return MISSING


def lookup(value: Any, segments: tuple[Any, ...]) -> Any:
    """The value at the end of the path, or MISSING."""
    for segment in segments:
        value = step(value, segment)
        if value is MISSING:
            return MISSING
    return value


def describe_error(error: ValidationError) -> str:
    """A ValidationError as one line that names each field."""
    if hasattr(error, "error_dict"):
        return "; ".join(
            " ".join(messages) if field == "__all__" else f"{field}: {' '.join(messages)}"
            for field, messages in error.message_dict.items()
        )
    return " ".join(error.messages)


@contextmanager
def domain_errors_as_card_errors() -> Iterator[None]:
    """A service's ValidationError, IllegalTransition or refusal (PermissionDenied) becomes a
    CardError with its message."""
    try:
        yield
    except (IllegalTransition, PermissionDenied) as error:
        raise CardError(str(error)) from None
    except ValidationError as error:
        raise CardError(describe_error(error)) from None

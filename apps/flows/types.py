"""The value types of flow inputs and card fields, and how values are checked against them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

TEXT, NUMBER, BOOLEAN, DATETIME, LIST, OBJECT, ANY = (
    "text",
    "number",
    "boolean",
    "datetime",
    "list",
    "object",
    "any",
)
ALL_TYPES = (TEXT, NUMBER, BOOLEAN, DATETIME, LIST, OBJECT, ANY)
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class TypeMismatch(ValueError):
    """A value that does not fit its declared type; the message says what was expected."""


def coerce(value_type: str, value: Any) -> Any:
    """`value` as `value_type`, converting only where the meaning is unambiguous."""
    if value is None or value_type == ANY:
        return value
    if value_type == TEXT:
        if isinstance(value, (dict, list)):
            raise TypeMismatch(f"expected text, got a {type(value).__name__}")
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dt.datetime):
            return value.isoformat()
        return str(value)
    if value_type == NUMBER:
        return _number(value)
    if value_type == BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise TypeMismatch(f"expected true or false, got {value!r}")
    if value_type == DATETIME:
        return _datetime(value)
    if value_type == LIST:
        if isinstance(value, (list, tuple)):
            return list(value)
        raise TypeMismatch(f"expected a list, got {type(value).__name__}")
    if value_type == OBJECT:
        if isinstance(value, dict):
            return value
        raise TypeMismatch(f"expected an object, got {type(value).__name__}")
    raise TypeMismatch(f"unknown type {value_type!r}")


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise TypeMismatch("expected a number, got true/false")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TypeMismatch("expected a finite number")
        return value
    if isinstance(value, (Decimal, str)):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise TypeMismatch(f"expected a number, got {value!r}") from None
        if not number.is_finite():
            raise TypeMismatch("expected a finite number")
        return int(number) if number == number.to_integral_value() else float(number)
    raise TypeMismatch(f"expected a number, got {type(value).__name__}")


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time.min)
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = parse_datetime(text)
            if moment is None and parse_date(text) is not None:
                moment = dt.datetime.combine(parse_date(text), dt.time.min)
        except ValueError:
            moment = None
        if moment is None:
            raise TypeMismatch(f"expected an ISO 8601 date and time, got {value!r}")
    else:
        raise TypeMismatch(f"expected a date and time, got {type(value).__name__}")
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def type_of(value: Any) -> str:
    """The flow type a Python value has (for error messages and type checks)."""
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, (int, float, Decimal)):
        return NUMBER
    if isinstance(value, dt.datetime):
        return DATETIME
    if isinstance(value, (list, tuple)):
        return LIST
    if isinstance(value, dict):
        return OBJECT
    return TEXT


def compatible(source: str, target: str) -> bool:
    """Whether a value of type `source` can feed a field of type `target` without loss."""
    return source == target or ANY in (source, target) or (target == TEXT and source != OBJECT)

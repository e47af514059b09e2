"""Typed values of custom profile attributes: parse what people and flows send, or say why not."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.directory.models import AttributeType

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def coerce_attribute_value(attribute_type: str, value: Any) -> Any:
    """The JSON-safe stored form of `value` for an attribute of `attribute_type`.

    None (or an empty string) clears the value. Anything that does not fit raises ValidationError
    with a message naming the expected type; nothing is guessed.
    """
    if value is None or value == "":
        return None
    if attribute_type == AttributeType.TEXT:
        if isinstance(value, (dict, list, bool)):
            raise ValidationError("Expected text.")
        return str(value)
    if attribute_type == AttributeType.NUMBER:
        return _coerce_number(value)
    if attribute_type == AttributeType.BOOLEAN:
        return _coerce_boolean(value)
    if attribute_type == AttributeType.DATETIME:
        return _coerce_datetime(value).isoformat()
    raise ValidationError(f"Unknown attribute type {attribute_type!r}.")


def _coerce_number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise ValidationError("Expected a number.")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(f"Expected a number, got {value!r}.") from None
    if not number.is_finite():
        raise ValidationError("Expected a finite number.")
    return int(number) if number == number.to_integral_value() else float(number)


def _coerce_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValidationError(f"Expected true or false, got {value!r}.")


def _coerce_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = parse_datetime(value.strip())
        except ValueError:
            moment = None
        if moment is None:
            raise ValidationError(
                f"Expected a date and time in ISO 8601 (2026-01-31T09:00:00Z), got {value!r}."
            )
    else:
        raise ValidationError("Expected a date and time.")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment

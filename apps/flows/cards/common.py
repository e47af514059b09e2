"""Helpers the card families share: turning domain errors into card errors, whole numbers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError

from apps.core.statemachine import IllegalTransition
from apps.flows.errors import CardError


def describe(error: ValidationError) -> str:
    """A ValidationError as one line that names each field."""
    if hasattr(error, "error_dict"):
        return "; ".join(
            " ".join(messages) if field == "__all__" else f"{field}: {' '.join(messages)}"
            for field, messages in error.message_dict.items()
        )
    return " ".join(error.messages)


@contextmanager
def domain_errors_as_card_errors() -> Iterator[None]:
    """A service's ValidationError or IllegalTransition becomes a CardError with its message."""
    try:
        yield
    except IllegalTransition as error:
        raise CardError(str(error)) from None
    except ValidationError as error:
        raise CardError(describe(error)) from None


def whole_number(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None):
    """`value` (a number input) as an int within bounds, or CardError naming the input."""
    if isinstance(value, float) and not value.is_integer():
        raise CardError(f"input '{name}' must be a whole number, not {value}")
    number = int(value)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise CardError(f"input '{name}' must be between {minimum} and {maximum}, not {number}")
    return number

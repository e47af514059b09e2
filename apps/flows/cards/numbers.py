"""Number and boolean cards: arithmetic, comparison, rounding, and/or/not/xor.

Decimal fractions are computed as decimals (0.1 + 0.2 is 0.3, 2.675 rounds to 2.68), whole
numbers exactly; a result is a whole number whenever it has no fraction, and a result too large
for a number (past about 1.8e308) is refused rather than stored as infinity.
"""

from __future__ import annotations

import math
import sys
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)

from apps.flows.cards.support import choice, describe, whole_number
from apps.flows.errors import CardError
from apps.flows.registry import Field, card
from apps.flows.types import BOOLEAN, LIST, NUMBER, TEXT, TypeMismatch, coerce

NUMBER_CATEGORY = "Number and boolean"
LARGEST = sys.float_info.max
EXACT_FLOAT_INTEGERS = 2**53
ARITHMETIC_OPERATORS = ("+", "-", "*", "/", "%", "**", "min", "max")
COMPARE_OPERATORS = ("==", "!=", "<", "<=", ">", ">=")
ROUNDING = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "down": ROUND_DOWN,
    "up": ROUND_UP,
    "floor": ROUND_FLOOR,
    "ceiling": ROUND_CEILING,
}
LOGIC_OPERATORS = ("and", "or", "not", "xor")
MAX_PLACES = 20
_DECIMAL = Context(prec=28, traps=[InvalidOperation, DivisionByZero, Overflow])
_WIDE = Context(prec=400, traps=[InvalidOperation, DivisionByZero, Overflow])


def _decimal(value: int | float) -> Decimal:
    # repr is the shortest text that reads back as the same float: 0.1 becomes Decimal("0.1").
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _finite(name: str, value: int | float) -> int | float:
    if isinstance(value, float) and not math.isfinite(value):
        raise CardError(f"input '{name}' is not a finite number")
    return value


def _result(value: int | float | Decimal) -> int | float:
    """A plain number: a float with no fraction becomes an int; too large is an error."""
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CardError("the result is too large")
        if value.is_integer() and abs(value) < EXACT_FLOAT_INTEGERS:
            return int(value)
    elif abs(value) > LARGEST:
        raise CardError("the result is too large")
    return value


def _exact(a: int, operator: str, b: int) -> int:
    if operator == "**":
        if abs(a) > 1 and b * (abs(a).bit_length() - 1) > 1100:  # far past 1.8e308
            raise CardError("the result is too large")
        return a**b
    return {"+": a + b, "-": a - b, "*": a * b, "%": a % b}[operator]


def _decimal_arithmetic(a: int | float, operator: str, b: int | float) -> Decimal:
    x, y = _decimal(a), _decimal(b)
    with localcontext(_DECIMAL):
        if operator == "+":
            return x + y
        if operator == "-":
            return x - y
        if operator == "*":
            return x * y
        if operator == "/":
            return x / y
        if operator == "%":
            remainder = x % y  # Decimal keeps the sign of x; the card uses the sign of b
            return remainder + y if remainder and (remainder < 0) != (y < 0) else remainder
        return x**y


@card(
    "number.arithmetic",
    "Arithmetic",
    NUMBER_CATEGORY,
    inputs=[
        Field("a", NUMBER),
        Field("operator", TEXT, description=" ".join(ARITHMETIC_OPERATORS)),
        Field("b", NUMBER),
    ],
    outputs=[Field("result", NUMBER)],
    idempotent=True,
)
def arithmetic(context, *, a, operator, b):
    """Computes `a operator b`, where the operator is one of `+ - * / % ** min max`: `%` is
    the remainder (with the sign of b, as in spreadsheets), `**` raises a to the power b, and
    `min` / `max` give the smaller / larger of the two. Decimal fractions are computed as
    decimals, so 0.1 + 0.2 gives 0.3, and a result with no fraction is a whole number (6 / 3
    gives 2). Dividing by zero, a power with no real result (like (-8) ** 0.5) and a result past
    about 1.8e308 fail the card."""
    operator = choice("operator", operator, ARITHMETIC_OPERATORS)
    a, b = _finite("a", a), _finite("b", b)
    if operator == "min":
        return {"result": min(a, b)}
    if operator == "max":
        return {"result": max(a, b)}
    if operator in ("/", "%") and b == 0:
        raise CardError(f"input 'b' is 0: cannot compute {a} {operator} 0")
    if operator == "**" and a == 0 and b < 0:
        raise CardError(f"0 ** {b} divides by zero (input 'a' is 0 and 'b' is negative)")
    if (
        isinstance(a, int)
        and isinstance(b, int)
        and operator != "/"
        and (operator != "**" or b >= 0)
    ):
        return {"result": _result(_exact(a, operator, b))}
    try:
        return {"result": _result(_decimal_arithmetic(a, operator, b))}
    except Overflow:
        raise CardError("the result is too large") from None
    except DivisionByZero:  # pragma: no cover  (zero divisors are refused above)
        raise CardError(f"{a} {operator} {b} divides by zero") from None
    except InvalidOperation:
        raise CardError(f"{a} {operator} {b} has no real-number result") from None


@card(
    "number.compare",
    "Compare numbers",
    NUMBER_CATEGORY,
    inputs=[
        Field("a", NUMBER),
        Field("operator", TEXT, description=" ".join(COMPARE_OPERATORS)),
        Field("b", NUMBER),
    ],
    outputs=[Field("result", BOOLEAN)],
    idempotent=True,
)
def compare(context, *, a, operator, b):
    """Compares two numbers with one of `== != < <= > >=` and gives true or false, e.g. to
    branch on a count or a score. Text that holds a number ("42") is read as that number."""
    operator = choice("operator", operator, COMPARE_OPERATORS)
    a, b = _finite("a", a), _finite("b", b)
    result = {
        "==": a == b,
        "!=": a != b,
        "<": a < b,
        "<=": a <= b,
        ">": a > b,
        ">=": a >= b,
    }[operator]
    return {"result": result}


@card(
    "number.round",
    "Round",
    NUMBER_CATEGORY,
    inputs=[
        Field("value", NUMBER),
        Field("places", NUMBER, required=False, default=0, description="negative: tens, ..."),
        Field("mode", TEXT, required=False, default="half_up", description=" ".join(ROUNDING)),
    ],
    outputs=[Field("result", NUMBER)],
    idempotent=True,
)
def round_(context, *, value, places, mode):
    """Rounds a number to a number of decimal places (0 by default; -2 rounds to hundreds).
    The mode says which way: `half_up` (the default, 2.5 gives 3 and 2.675 to two places gives
    2.68), `half_even` (banker's rounding, 2.5 gives 2), `down` (towards zero), `up` (away from
    zero), `floor` (towards minus infinity) or `ceiling` (towards plus infinity)."""
    places = whole_number(
        "places", 0 if places is None else places, minimum=-MAX_PLACES, maximum=MAX_PLACES
    )
    rounding = ROUNDING[choice("mode", mode or "half_up", ROUNDING)]
    value = _finite("value", value)
    if isinstance(value, int) and places >= 0:
        return {"result": value}
    with localcontext(_WIDE):
        rounded = _decimal(value).quantize(Decimal(1).scaleb(-places), rounding=rounding)
    return {"result": _result(int(rounded) if places <= 0 else rounded)}


def _boolean(index: int, value) -> bool:
    if value is None:
        return False
    try:
        return coerce(BOOLEAN, value)
    except TypeMismatch:
        raise CardError(
            f"input 'values', item {index}: expected true or false, got {describe(value)} {value!r}"
        ) from None


@card(
    "boolean.logic",
    "And / or / not / xor",
    NUMBER_CATEGORY,
    inputs=[
        Field("operator", TEXT, description=" ".join(LOGIC_OPERATORS)),
        Field("values", LIST, description="true/false values (null counts as false)"),
    ],
    outputs=[Field("result", BOOLEAN)],
    idempotent=True,
)
def logic(context, *, operator, values):
    """Combines true/false values: `and` is true when all are true (also when the list is
    empty), `or` when at least one is, `xor` when exactly one is (for two values, the usual
    exclusive or), and `not` turns its single value around. The texts "true"/"false" (also
    yes/no, on/off, 1/0) count as such and a null value counts as false; anything else fails
    the card, naming the item."""
    operator = choice("operator", operator, LOGIC_OPERATORS)
    flags = [_boolean(index, value) for index, value in enumerate(values)]
    if operator == "not":
        if len(flags) != 1:
            raise CardError(f"input 'values': 'not' takes exactly one value, got {len(flags)}")
        return {"result": not flags[0]}
    if operator == "and":
        return {"result": all(flags)}
    if operator == "or":
        return {"result": any(flags)}
    return {"result": sum(flags) == 1}

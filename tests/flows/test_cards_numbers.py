"""Number and boolean cards: each with good and bad input, and a flow that chains them."""

import pytest

from apps.flows.models import RunStatus
from tests.flows.cards_helpers import call, refused, run_flow


@pytest.mark.parametrize(
    ("a", "operator", "b", "expected"),
    [
        (2, "+", 3, 5),
        (0.1, "+", 0.2, 0.3),
        (10, "-", 12.5, -2.5),
        (1.1, "*", 3, 3.3),
        (6, "/", 3, 2),
        (1, "/", 4, 0.25),
        (7, "%", 3, 1),
        (-7, "%", 3, 2),
        (-7.5, "%", 2, 0.5),
        (7.5, "%", -2, -0.5),
        (2, "**", 10, 1024),
        (2, "**", 64, 2**64),
        (2, "**", -2, 0.25),
        (9, "**", 0.5, 3),
        (4, "min", 2.5, 2.5),
        (4, "max", 2.5, 4),
        ("12", " + ", "0.5", 12.5),
    ],
)
def test_arithmetic(a, operator, b, expected):
    result = call("number.arithmetic", a=a, operator=operator, b=b)["result"]
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("operator", ["/", "%"])
def test_arithmetic_refuses_division_by_zero(operator):
    assert "input 'b' is 0" in refused("number.arithmetic", a=1, operator=operator, b=0)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            {"a": 1, "operator": "^", "b": 2},
            "input 'operator' must be one of +, -, *, /, %, **, min, max; got '^'",
        ),
        ({"a": "ten", "operator": "+", "b": 2}, "input 'a': expected a number, got 'ten'"),
        ({"a": True, "operator": "+", "b": 2}, "input 'a': expected a number, got true/false"),
        ({"a": 1, "operator": "+"}, "input 'b' is required"),
        ({"a": 10, "operator": "**", "b": 400}, "the result is too large"),
        ({"a": 10.0, "operator": "**", "b": 400}, "the result is too large"),
        ({"a": 1e308, "operator": "*", "b": 10}, "the result is too large"),
        ({"a": -8, "operator": "**", "b": 0.5}, "has no real-number result"),
        ({"a": 0, "operator": "**", "b": -1}, "divides by zero"),
        ({"a": float("inf"), "operator": "+", "b": 1}, "input 'a': expected a finite number"),
    ],
)
def test_arithmetic_refuses_bad_input(inputs, message):
    assert message in refused("number.arithmetic", **inputs)


@pytest.mark.parametrize(
    ("a", "operator", "b", "expected"),
    [
        (1, "==", 1.0, True),
        (1, "!=", 2, True),
        (1, "<", 2, True),
        (2, "<=", 2, True),
        (3, ">", 2.5, True),
        (2, ">=", 3, False),
        ("42", "==", 42, True),
    ],
)
def test_compare(a, operator, b, expected):
    assert call("number.compare", a=a, operator=operator, b=b) == {"result": expected}


def test_compare_refuses_an_unknown_operator_or_text():
    assert "input 'operator' must be one of ==, !=, <, <=, >, >=; got '=<'" in refused(
        "number.compare", a=1, operator="=<", b=2
    )
    assert "input 'b': expected a number" in refused("number.compare", a=1, operator="<", b="x")


@pytest.mark.parametrize(
    ("value", "places", "mode", "expected"),
    [
        (2.5, None, None, 3),
        (2.675, 2, "half_up", 2.68),
        (2.5, 0, "half_even", 2),
        (3.5, 0, "half_even", 4),
        (-2.7, 0, "down", -2),
        (2.1, 0, "up", 3),
        (-2.1, 0, "floor", -3),
        (-2.9, 0, "ceiling", -2),
        (1234.5, -2, "half_up", 1200),
        (1250, -2, "half_up", 1300),
        (7, 2, "half_up", 7),
        (1.0005, 3, "half_up", 1.001),
    ],
)
def test_round(value, places, mode, expected):
    inputs = {"value": value}
    if places is not None:
        inputs["places"] = places
    if mode is not None:
        inputs["mode"] = mode
    result = call("number.round", **inputs)["result"]
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"value": 1.5, "places": 1.5}, "input 'places' must be a whole number"),
        ({"value": 1.5, "places": 40}, "input 'places' must be from -20 to 20"),
        (
            {"value": 1.5, "mode": "nearest"},
            "input 'mode' must be one of half_up, half_even, down, up, floor, ceiling",
        ),
        ({"value": "abc"}, "input 'value': expected a number"),
    ],
)
def test_round_refuses_bad_input(inputs, message):
    assert message in refused("number.round", **inputs)


@pytest.mark.parametrize(
    ("operator", "values", "expected"),
    [
        ("and", [True, True], True),
        ("and", [True, "false"], False),
        ("and", [], True),
        ("or", [False, "yes"], True),
        ("or", [False, None], False),
        ("xor", [True, False], True),
        ("xor", [True, True], False),
        ("xor", [True, False, True], False),
        ("not", ["off"], True),
        ("NOT", [True], False),
    ],
)
def test_logic(operator, values, expected):
    assert call("boolean.logic", operator=operator, values=values) == {"result": expected}


def test_logic_refuses_values_that_are_not_true_or_false_naming_the_item():
    message = refused("boolean.logic", operator="and", values=[True, 1])
    assert message == "input 'values', item 1: expected true or false, got a number 1"
    assert "'not' takes exactly one value, got 2" in refused(
        "boolean.logic", operator="not", values=[True, False]
    )
    assert "input 'operator' must be one of and, or, not, xor" in refused(
        "boolean.logic", operator="nand", values=[True]
    )
    assert "input 'values': expected a list" in refused(
        "boolean.logic", operator="and", values=True
    )


@pytest.mark.django_db
def test_a_computed_number_stays_a_number_into_compare_and_logic():
    run = run_flow(
        inputs=[{"name": "price", "type": "number"}, {"name": "seats", "type": "number"}],
        cards=[
            {
                "id": "total",
                "card": "number.arithmetic",
                "inputs": {"a": "{{ inputs.price }}", "operator": "*", "b": "{{ inputs.seats }}"},
            },
            {
                "id": "rounded",
                "card": "number.round",
                "inputs": {"value": "{{ total.result }}", "places": 1},
            },
            {
                "id": "over_budget",
                "card": "number.compare",
                "inputs": {"a": "{{ rounded.result }}", "operator": ">", "b": 100},
            },
            {
                "id": "needs_approval",
                "card": "boolean.logic",
                "inputs": {"operator": "or", "values": ["{{ over_budget.result }}", False]},
            },
        ],
        output={
            "total": "{{ total.result }}",
            "rounded": "{{ rounded.result }}",
            "needs_approval": "{{ needs_approval.result }}",
        },
        price="19.99",
        seats=6,
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.output == {"total": 119.94, "rounded": 119.9, "needs_approval": True}
    compare_inputs = run.card_runs.get(card_id="over_budget").inputs
    assert compare_inputs == {"a": 119.9, "operator": ">", "b": 100}


@pytest.mark.django_db
def test_division_by_zero_fails_the_run_naming_the_card():
    run = run_flow(
        inputs=[{"name": "count", "type": "number"}],
        cards=[
            {
                "id": "share",
                "card": "number.arithmetic",
                "inputs": {"a": 100, "operator": "/", "b": "{{ inputs.count }}"},
            },
            {"id": "after", "card": "number.round", "inputs": {"value": "{{ share.result }}"}},
        ],
        count=0,
    )
    assert run.status == RunStatus.FAILED
    assert run.error_card == "share"
    assert run.error == "input 'b' is 0: cannot compute 100 / 0"
    assert list(run.card_runs.values_list("card_id", "succeeded")) == [("share", False)]

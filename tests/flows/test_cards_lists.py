"""List cards: each with good and bad input, and a flow that chains them."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from apps.flows import services
from apps.flows.models import RunStatus
from tests.flows.cards_helpers import call, refused, run_flow

PEOPLE = [
    {"name": "Ana", "age": 34, "team": {"name": "IT"}, "tags": ["admin"]},
    {"name": "rui", "age": "27", "team": {"name": "HR"}, "tags": []},
    {"name": "Bea", "age": 41, "team": {"name": "IT"}},
    {"name": "Cy", "age": None, "team": None, "tags": ["new", "admin"]},
]


def names(items):
    return [item["name"] for item in items]


def test_construct_from_items_or_open_inputs_in_natural_name_order():
    assert call("list.construct", items=[1, "a", None]) == {"list": [1, "a", None]}
    result = call("list.construct", item10="j", item2="b", item1="a", context="c")
    assert result == {"list": ["c", "a", "b", "j"]}  # "context" is a name like any other
    assert call("list.construct", items=[0], b=2, a=1) == {"list": [0, 1, 2]}
    assert call("list.construct") == {"list": []}


def test_construct_refuses_items_that_are_not_a_list():
    assert "input 'items': expected a list, got str" in refused("list.construct", items="abc")


def test_at_counts_from_zero_and_from_the_end():
    assert call("list.at", list=["a", "b", "c"], index=0) == {"item": "a"}
    assert call("list.at", list=["a", "b", "c"], index="-1") == {"item": "c"}


@pytest.mark.parametrize("index", [3, -4])
def test_at_out_of_range_names_the_index_and_the_length(index):
    assert refused("list.at", list=["a", "b", "c"], index=index) == (
        f"input 'index': {index} is out of range for a list of length 3"
    )


def test_at_refuses_a_fractional_index():
    assert "input 'index' must be a whole number, got 1.5" in refused(
        "list.at", list=[1, 2], index=1.5
    )


def test_length():
    assert call("list.length", list=[1, [2, 3]]) == {"length": 2}
    assert call("list.length", list=[]) == {"length": 0}
    assert "input 'list': expected a list, got dict" in refused("list.length", list={"a": 1})


@pytest.mark.parametrize(
    ("field", "operator", "value", "expected"),
    [
        ("name", "==", "Ana", ["Ana"]),
        ("name", None, "Ana", ["Ana"]),
        ("team.name", "!=", "IT", ["rui", "Cy"]),
        ("age", ">", 30, ["Ana", "Bea"]),
        ("age", "<=", "34", ["Ana", "rui"]),
        ("age", "==", 27, ["rui"]),
        ("tags", "contains", "admin", ["Ana", "Cy"]),
        ("tags", "not_contains", "admin", ["rui", "Bea"]),
        ("name", "contains", "e", ["Bea"]),
        ("team", "contains", "name", ["Ana", "rui", "Bea"]),
        ("name", "starts_with", "B", ["Bea"]),
        ("name", "ends_with", "i", ["rui"]),
        ("team.name", "in", ["HR", "Sales"], ["rui"]),
        ("team.name", "not_in", ["HR"], ["Ana", "Bea", "Cy"]),
        ("tags", "is_empty", None, ["rui", "Bea"]),
        ("age", "is_empty", None, ["Cy"]),
        ("tags.0", "is_not_empty", None, ["Ana", "Cy"]),
        ("team", "==", None, ["Cy"]),
    ],
)
def test_filter_objects(field, operator, value, expected):
    result = call("list.filter", list=PEOPLE, field=field, operator=operator, value=value)
    assert names(result["list"]) == expected
    assert result["count"] == len(expected)


def test_filter_plain_values_without_a_field():
    numbers = [5, "7", 1, None, 9.5]
    assert call("list.filter", list=numbers, operator=">=", value=5)["list"] == [5, "7", 9.5]
    assert call("list.filter", list=[True, 1, "1"], value=True)["list"] == [True]
    moments = ["2025-01-01T00:00:00Z", "2025-06-01T00:00:00Z"]
    after = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    assert call("list.filter", list=moments, operator=">", value=after)["list"] == [moments[1]]


def test_filter_does_not_change_its_input():
    before = [dict(person) for person in PEOPLE]
    call("list.filter", list=PEOPLE, field="age", operator=">", value=30)
    assert before == PEOPLE


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"operator": "~="}, "input 'operator' must be one of ==, !=, <"),
        ({"operator": "in", "value": "HR"}, "input 'value' must be a list for 'in', got text"),
        ({"field": "a..b"}, "input 'field': 'a..b' has an empty segment"),
        (
            {"field": "name", "operator": ">", "value": 3},
            "item 0: cannot compare text 'Ana' with a number 3 (input 'value')",
        ),
        ({"field": "team", "operator": "<", "value": "x"}, "item 0: cannot compare an object"),
    ],
)
def test_filter_refuses_a_bad_where(inputs, message):
    assert message in refused("list.filter", list=PEOPLE, **inputs)


def test_find_gives_the_first_match_and_its_position():
    assert call("list.find", list=PEOPLE, field="team.name", value="IT") == {
        "item": PEOPLE[0],
        "found": True,
        "index": 0,
    }
    assert call("list.find", list=PEOPLE, field="age", operator=">", value=100) == {
        "item": None,
        "found": False,
        "index": None,
    }


def test_find_refuses_a_bad_where():
    assert "input 'operator'" in refused("list.find", list=PEOPLE, operator="like", value="A")
    assert "input 'list': expected a list" in refused("list.find", list="Ana", value="A")


def test_pluck_keeps_positions_with_null_for_missing_fields():
    assert call("list.pluck", list=PEOPLE, field="team.name") == {"list": ["IT", "HR", "IT", None]}
    assert call("list.pluck", list=[[1, 2], "x", {"0": "zero"}], field="0") == {
        "list": [1, None, "zero"]
    }


def test_pluck_refuses_a_bad_field():
    assert "input 'field' is required" in refused("list.pluck", list=PEOPLE)
    assert "input 'field': '.name' has an empty segment" in refused(
        "list.pluck", list=PEOPLE, field=".name"
    )


def test_join_turns_items_into_text():
    moment = dt.datetime(2025, 1, 2, tzinfo=dt.UTC)
    assert call("list.join", list=["a", 1, None, False, moment], separator=", ") == {
        "text": "a, 1, , false, 2025-01-02T00:00:00+00:00"
    }
    assert call("list.join", list=["a", "b"]) == {"text": "ab"}


def test_join_refuses_an_object_item_naming_its_position():
    assert refused("list.join", list=["a", {"b": 1}], separator="-") == (
        "input 'list', item 1 is an object, not text"
    )


def test_unique_keeps_first_occurrences_telling_true_from_1():
    assert call("list.unique", list=[1, True, 1.0, "1", 1, True, None, None]) == {
        "list": [1, True, "1", None]
    }
    assert call("list.unique", list=[{"a": 1, "b": 2}, {"b": 2, "a": 1}, [1], [1]]) == {
        "list": [{"a": 1, "b": 2}, [1]]
    }
    assert names(call("list.unique", list=PEOPLE, field="team.name")["list"]) == [
        "Ana",
        "rui",
        "Cy",
    ]


def test_unique_refuses_a_bad_field():
    assert "input 'field'" in refused("list.unique", list=PEOPLE, field="a..")


def test_sort_plain_values_case_insensitive_nulls_last():
    assert call("list.sort", list=[3, None, 1.5, 2]) == {"list": [1.5, 2, 3, None]}
    assert call("list.sort", list=["bob", "Alice", "carl"], descending=True) == {
        "list": ["carl", "bob", "Alice"]
    }


def test_sort_objects_by_a_field_stably():
    people = [
        {"n": "b", "k": 2},
        {"n": "a", "k": 1},
        {"n": "c", "k": 2},
        {"n": "d"},
        {"n": "e", "k": 1},
    ]
    assert [p["n"] for p in call("list.sort", list=people, field="k")["list"]] == list("aebcd")
    assert [p["n"] for p in call("list.sort", list=people, field="k", descending=True)["list"]] == (
        list("bcaed")
    )


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"list": [1, "2"]}, "input 'list': cannot sort a mix of number and text"),
        ({"list": [{"a": 1}, {"a": 2}]}, "objects and lists cannot be sorted; give a 'field'"),
        ({"list": [1], "descending": "maybe"}, "input 'descending': expected true or false"),
    ],
)
def test_sort_refuses_mixed_or_unsortable_items(inputs, message):
    assert message in refused("list.sort", **inputs)


def test_flatten_one_level_or_deep():
    nested = [1, [2, [3, [4]]], [], 5]
    assert call("list.flatten", list=nested) == {"list": [1, 2, [3, [4]], 5]}
    assert call("list.flatten", list=nested, deep=True) == {"list": [1, 2, 3, 4, 5]}
    deep = [0]
    for _ in range(5000):  # deeper than Python's recursion limit
        deep = [deep]
    assert call("list.flatten", list=deep, deep=True) == {"list": [0]}


def test_flatten_refuses_a_non_list():
    assert "input 'list': expected a list, got str" in refused("list.flatten", list="abc")


@pytest.mark.django_db
def test_list_cards_chain_in_a_flow_keeping_types():
    run = run_flow(
        inputs=[{"name": "people", "type": "list"}],
        cards=[
            {
                "id": "it",
                "card": "list.filter",
                "inputs": {"list": "{{ inputs.people }}", "field": "team.name", "value": "IT"},
            },
            {
                "id": "sorted",
                "card": "list.sort",
                "inputs": {"list": "{{ it.list }}", "field": "age", "descending": True},
            },
            {
                "id": "who",
                "card": "list.pluck",
                "inputs": {"list": "{{ sorted.list }}", "field": "name"},
            },
            {"id": "eldest", "card": "list.at", "inputs": {"list": "{{ who.list }}", "index": 0}},
            {
                "id": "line",
                "card": "list.join",
                "inputs": {"list": "{{ who.list }}", "separator": " & "},
            },
            {"id": "how_many", "card": "list.length", "inputs": {"list": "{{ who.list }}"}},
        ],
        output={
            "line": "{{ line.text }}",
            "eldest": "{{ eldest.item }}",
            "count": "{{ how_many.length }}",
        },
        people=PEOPLE,
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.output == {"line": "Bea & Ana", "eldest": "Bea", "count": 2}


@pytest.mark.django_db
def test_an_index_out_of_range_fails_the_run_naming_the_card():
    run = run_flow(
        inputs=[{"name": "people", "type": "list"}],
        cards=[
            {
                "id": "hr",
                "card": "list.filter",
                "inputs": {"list": "{{ inputs.people }}", "field": "team.name", "value": "Sales"},
            },
            {"id": "first", "card": "list.at", "inputs": {"list": "{{ hr.list }}", "index": 0}},
        ],
        people=PEOPLE,
    )
    assert run.status == RunStatus.FAILED
    assert run.error_card == "first"
    assert run.error == "input 'index': 0 is out of range for a list of length 0"


@pytest.mark.django_db
def test_declared_output_types_let_a_definition_be_checked_on_save():
    with pytest.raises(ValidationError) as refused_definition:
        services.flow_create(
            actor=None,
            name="mismatch",
            definition={
                "inputs": [],
                "cards": [
                    {"id": "xs", "card": "list.construct", "inputs": {"items": [1, 2]}},
                    {"id": "n", "card": "number.round", "inputs": {"value": "{{ xs.list }}"}},
                ],
            },
        )
    assert "expects number but xs.list is list" in " ".join(refused_definition.value.messages)

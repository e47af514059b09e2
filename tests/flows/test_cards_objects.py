"""Object and JSON cards: each with good and bad input, and a flow that chains them."""

import copy
import datetime as dt

import pytest

from apps.flows.models import RunStatus
from tests.flows.cards_helpers import call, refused, run_flow

USER = {
    "profile": {"email": "ana@example.com", "title": "Engineer"},
    "groups": [{"name": "IT"}, {"name": "Admins"}],
    "emails": {"ana@example.com": {"primary": True}},
    "manager": None,
}


def test_construct_makes_an_object_keeping_types():
    moment = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    result = call("object.construct", n=1, tags=["a"], when=moment, context="x")
    assert result == {"object": {"context": "x", "n": 1, "tags": ["a"], "when": moment}}
    assert call("object.construct") == {"object": {}}


def test_construct_refuses_nothing_but_keeps_nulls():
    assert call("object.construct", a=None) == {"object": {"a": None}}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("profile.email", "ana@example.com"),
        ("groups.1.name", "Admins"),
        ("groups.-1.name", "Admins"),
        (["emails", "ana@example.com", "primary"], True),
        ("manager", None),
    ],
)
def test_get_follows_a_path(path, expected):
    assert call("object.get", object=USER, path=path) == {"value": expected, "found": True}


@pytest.mark.parametrize("path", ["profile.phone", "groups.5.name", "groups.x", "manager.email"])
def test_get_gives_the_default_when_the_path_leads_nowhere(path):
    assert call("object.get", object=USER, path=path) == {"value": None, "found": False}
    assert call("object.get", object=USER, path=path, default="n/a") == {
        "value": "n/a",
        "found": False,
    }


def test_get_from_a_list_at_the_top():
    assert call("object.get", object=[{"a": 1}], path="0.a") == {"value": 1, "found": True}


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"object": "text", "path": "a"}, "input 'object' must be an object or a list, got text"),
        ({"object": USER, "path": "a..b"}, "input 'path': 'a..b' has an empty segment"),
        ({"object": USER, "path": []}, "input 'path' is an empty path"),
        ({"object": USER, "path": [{"a": 1}]}, "a path segment must be text or a whole number"),
        ({"object": USER, "path": "a." * 101 + "a"}, "input 'path' has more than 100 segments"),
        ({"object": USER}, "input 'path' is required"),
    ],
)
def test_get_refuses_bad_input(inputs, message):
    assert message in refused("object.get", **inputs)


def test_set_gives_a_new_object_and_leaves_the_input_alone():
    before = copy.deepcopy(USER)
    result = call("object.set", object=USER, path="profile.title", value="Lead")["object"]
    assert result["profile"] == {"email": "ana@example.com", "title": "Lead"}
    assert before == USER
    assert result["groups"] is USER["groups"]  # untouched branches are shared, not copied


@pytest.mark.parametrize(
    ("path", "value", "where", "expected"),
    [
        ("address.city", "Porto", "address", {"city": "Porto"}),
        ("manager.email", "bo@example.com", "manager", {"email": "bo@example.com"}),
        ("groups.0.name", "Ops", "groups", [{"name": "Ops"}, {"name": "Admins"}]),
        (
            "groups.2",
            {"name": "New"},
            "groups",
            [{"name": "IT"}, {"name": "Admins"}, {"name": "New"}],
        ),
        ("groups.-1", None, "groups", [{"name": "IT"}, None]),
        (
            ["emails", "ana@example.com", "primary"],
            False,
            "emails",
            {"ana@example.com": {"primary": False}},
        ),
    ],
)
def test_set_creates_missing_steps_and_sets_list_positions(path, value, where, expected):
    before = copy.deepcopy(USER)
    result = call("object.set", object=USER, path=path, value=value)["object"]
    assert result[where] == expected
    assert before == USER


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("profile.email.domain", "cannot go into profile.email, which is text"),
        ("groups.3", "'3' at groups is not a position in a list of length 2 (use 0 to 2)"),
        ("groups.name", "'name' at groups is not a position in a list of length 2"),
    ],
)
def test_set_refuses_a_path_that_cannot_be_followed(path, message):
    assert message in refused("object.set", object=USER, path=path, value=1)


def test_set_refuses_a_list_as_the_object():
    assert "input 'object': expected an object, got list" in refused(
        "object.set", object=[1], path="0", value=1
    )


def test_merge_shallow_and_deep_without_changing_inputs():
    first = {"a": 1, "nested": {"x": 1, "y": {"z": 1}}, "list": [1]}
    second = {"b": 2, "nested": {"y": {"w": 2}}, "list": [2]}
    before = copy.deepcopy([first, second])
    assert call("object.merge", objects=[first, None, second]) == {
        "object": {"a": 1, "nested": {"y": {"w": 2}}, "list": [2], "b": 2}
    }
    assert call("object.merge", objects=[first, second], deep=True) == {
        "object": {"a": 1, "nested": {"x": 1, "y": {"z": 1, "w": 2}}, "list": [2], "b": 2}
    }
    assert [first, second] == before
    assert call("object.merge", objects=[]) == {"object": {}}


def test_merge_refuses_an_item_that_is_not_an_object():
    assert refused("object.merge", objects=[{"a": 1}, [1]]) == (
        "input 'objects', item 1 is a list, not an object"
    )


def test_pick_and_omit_fields():
    record = {"id": 7, "name": "Ana", "password": "x", "email": "a@x"}
    assert call("object.pick", object=record, fields=["email", "id", "nope"]) == {
        "object": {"email": "a@x", "id": 7}
    }
    assert call("object.omit", object=record, fields=["password", "nope"]) == {
        "object": {"id": 7, "name": "Ana", "email": "a@x"}
    }


@pytest.mark.parametrize("key", ["object.pick", "object.omit"])
def test_pick_and_omit_refuse_bad_fields(key):
    assert "input 'fields': expected a list, got str" in refused(key, object={"a": 1}, fields="a")
    assert "input 'fields', item 0 is a list, not a name" in refused(
        key, object={"a": 1}, fields=[["a"]]
    )
    assert "input 'object': expected an object" in refused(key, object="a", fields=["a"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": [1, 2.5, null, true]}', {"a": [1, 2.5, None, True]}),
        ("[1, 2]", [1, 2]),
        ('"text"', "text"),
        ("null", None),
    ],
)
def test_json_parse(text, expected):
    assert call("json.parse", text=text) == {"value": expected}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"a": [1, 2',
            "input 'text' is not valid JSON: Expecting ',' delimiter at line 1 column 12 "
            "(character 11)",
        ),
        ("{\n  'a': 1\n}", "Expecting property name enclosed in double quotes at line 2 column 3"),
        ("", "input 'text' is not valid JSON: Expecting value at line 1 column 1 (character 0)"),
        ('{"a": NaN}', "input 'text' is not valid JSON: NaN is not allowed in JSON"),
        ("[" * 100_000 + "]" * 100_000, "input 'text': the JSON is nested too deeply"),
    ],
)
def test_json_parse_refuses_bad_json_with_the_position(text, message):
    assert message in refused("json.parse", text=text)


def test_json_stringify_compact_indented_and_with_dates():
    value = {"b": [1, "é"], "when": dt.datetime(2025, 1, 1, tzinfo=dt.UTC)}
    assert call("json.stringify", value=value) == {
        "text": '{"b": [1, "é"], "when": "2025-01-01T00:00:00+00:00"}'
    }
    assert call("json.stringify", value={"a": 1}, indent=2) == {"text": '{\n  "a": 1\n}'}
    assert call("json.stringify") == {"text": "null"}


def test_json_stringify_refuses_bad_indent_and_non_finite_numbers():
    assert "input 'indent' must be from 0 to 8, got 20" in refused(
        "json.stringify", value=1, indent=20
    )
    assert "input 'value' cannot be written as JSON" in refused(
        "json.stringify", value=[float("nan")]
    )


@pytest.mark.django_db
def test_parsed_json_feeds_get_set_and_stringify():
    run = run_flow(
        inputs=[{"name": "body", "type": "text"}],
        cards=[
            {"id": "parsed", "card": "json.parse", "inputs": {"text": "{{ inputs.body }}"}},
            {
                "id": "email",
                "card": "object.get",
                "inputs": {"object": "{{ parsed.value }}", "path": "user.emails.0"},
            },
            {
                "id": "seats",
                "card": "object.get",
                "inputs": {"object": "{{ parsed.value }}", "path": "seats"},
            },
            {
                "id": "more",
                "card": "number.arithmetic",
                "inputs": {"a": "{{ seats.value }}", "operator": "+", "b": 1},
            },
            {
                "id": "updated",
                "card": "object.set",
                "inputs": {
                    "object": "{{ parsed.value }}",
                    "path": "seats",
                    "value": "{{ more.result }}",
                },
            },
            {
                "id": "body",
                "card": "object.construct",
                "inputs": {"email": "{{ email.value }}", "seats": "{{ updated.object.seats }}"},
            },
            {"id": "out", "card": "json.stringify", "inputs": {"value": "{{ body.object }}"}},
        ],
        output={"json": "{{ out.text }}", "original_seats": "{{ parsed.value.seats }}"},
        body='{"user": {"emails": ["ana@example.com"]}, "seats": 2}',
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.output == {
        "json": '{"email": "ana@example.com", "seats": 3}',
        "original_seats": 2,
    }


@pytest.mark.django_db
def test_bad_json_fails_the_run_naming_the_card():
    run = run_flow(
        inputs=[{"name": "body", "type": "text"}],
        cards=[
            {"id": "parsed", "card": "json.parse", "inputs": {"text": "{{ inputs.body }}"}},
            {
                "id": "email",
                "card": "object.get",
                "inputs": {"object": "{{ parsed.value }}", "path": "a"},
            },
        ],
        body="{not json}",
    )
    assert run.status == RunStatus.FAILED
    assert run.error_card == "parsed"
    assert run.error.startswith("input 'text' is not valid JSON: Expecting property name")

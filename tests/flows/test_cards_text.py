"""Text cards: each with good and bad input, and a flow that chains them."""

import pytest

from apps.flows.models import RunStatus
from tests.flows.cards_helpers import call, refused, run_flow


def test_compose_gives_back_the_rendered_template():
    assert call("text.compose", template="Hello Ana") == {"text": "Hello Ana"}
    assert call("text.compose", template=42) == {"text": "42"}


def test_compose_refuses_a_list_or_a_missing_template():
    assert "input 'template'" in refused("text.compose", template=["a"])
    assert "input 'template' is required" in refused("text.compose")


def test_concatenate_turns_parts_into_text_with_a_separator():
    result = call("text.concatenate", parts=["a", 1, None, True], separator="-")
    assert result == {"text": "a-1--true"}
    assert call("text.concatenate", parts=["x", "y"]) == {"text": "xy"}


def test_concatenate_refuses_an_object_part_naming_its_position():
    assert "input 'parts', item 1 is an object, not text" in refused(
        "text.concatenate", parts=["a", {"b": 1}]
    )
    assert "input 'parts'" in refused("text.concatenate", parts="abc")


def test_split_at_a_separator_whitespace_or_up_to_max_parts():
    assert call("text.split", text="a,b,,c", separator=",") == {
        "parts": ["a", "b", "", "c"],
        "count": 4,
    }
    assert call("text.split", text="  one two\tthree\n")["parts"] == ["one", "two", "three"]
    assert call("text.split", text="k=v=w", separator="=", max_parts=2)["parts"] == ["k", "v=w"]


@pytest.mark.parametrize("max_parts", [0, 1.5, -2])
def test_split_refuses_max_parts_that_is_not_a_positive_whole_number(max_parts):
    assert "input 'max_parts'" in refused("text.split", text="a b", max_parts=max_parts)


def test_replace_plain_text_and_count():
    assert call("text.replace", text="a.b.c", find=".", replace_with="/") == {
        "text": "a/b/c",
        "count": 2,
    }
    assert call("text.replace", text="a-b", find="-") == {"text": "ab", "count": 1}
    assert call("text.replace", text="Ana ANA", find="ana", replace_with="x", ignore_case=True)[
        "text"
    ] == ("x x")


def test_replace_with_a_regular_expression_and_its_groups():
    result = call(
        "text.replace",
        text="Lima, Ana; Silva, Rui",
        find=r"(?P<last>\w+), (\w+)",
        replace_with=r"\2 \g<last>",
        regex=True,
    )
    assert result == {"text": "Ana Lima; Rui Silva", "count": 2}
    # Special characters of a plain `find` are plain, even with ignore_case.
    assert call("text.replace", text="A.B", find=".", replace_with="", ignore_case=True) == {
        "text": "AB",
        "count": 1,
    }


def test_replace_refuses_empty_find_bad_patterns_and_runaway_results():
    assert "input 'find' is empty" in refused("text.replace", text="abc", find="")
    assert "input 'find': not a valid regular expression" in refused(
        "text.replace", text="abc", find="(", regex=True
    )
    assert "input 'replace_with'" in refused(
        "text.replace", text="abc", find="b", replace_with=r"\3", regex=True
    )
    assert "over 1000000 characters" in refused(
        "text.replace", text="a" * 50_000, find="a", replace_with="b" * 100
    )
    assert "over 1000000 characters" in refused(
        "text.replace", text="a" * 50_000, find="a", replace_with="b" * 100, regex=True
    )


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("text.upper", "Ana Lima", "ANA LIMA"),
        ("text.lower", "Ana.Lima@Example.COM", "ana.lima@example.com"),
        ("text.trim", "  \tpadded \n", "padded"),
    ],
)
def test_case_and_trim(key, text, expected):
    assert call(key, text=text) == {"text": expected}


def test_trim_given_characters():
    assert call("text.trim", text="/a/b/", characters="/") == {"text": "a/b"}


@pytest.mark.parametrize("key", ["text.upper", "text.lower", "text.trim", "text.length"])
def test_text_cards_refuse_a_list_and_unknown_inputs(key):
    assert "input 'text': expected text" in refused(key, text=["a"])
    assert f"unknown input colour for card {key}" in refused(key, text="a", colour="red")


def test_length_counts_characters():
    assert call("text.length", text="façade") == {"length": 6}
    assert call("text.length", text="") == {"length": 0}


def test_match_gives_groups_and_named_groups():
    result = call("text.match", text="ana.lima@example.com", pattern=r"(?P<user>[^@]+)@(.+)$")
    assert result == {
        "matched": True,
        "match": "ana.lima@example.com",
        "groups": ["ana.lima", "example.com"],
        "named": {"user": "ana.lima"},
    }
    assert call("text.match", text="ABC", pattern="b", ignore_case=True)["matched"] is True


def test_match_without_a_match_gives_empty_groups():
    assert call("text.match", text="no digits", pattern=r"(\d+)") == {
        "matched": False,
        "match": None,
        "groups": [],
        "named": {},
    }


def test_match_refuses_a_pattern_that_does_not_compile_with_the_reason():
    message = refused("text.match", text="abc", pattern="(unclosed")
    assert message.startswith("input 'pattern': not a valid regular expression: missing )")


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"^(\w+\s?)+$", r"((ab)*)*", r"(?:x+|y)*z"])
def test_match_refuses_nested_repetition_before_running_it(pattern):
    assert "repeats a group that itself repeats" in refused(
        "text.match", text="a" * 40 + "!", pattern=pattern
    )


@pytest.mark.parametrize("pattern", [r"(\d+,)*\d+", r"(a|b)*c", r"^[\w.+-]+@([\w-]+\.)+\w+$"])
def test_match_allows_ordinary_repeated_groups(pattern):
    call("text.match", text="1,2,3 abc x@y.org", pattern=pattern)


def test_match_bounds_the_pattern_and_the_text():
    assert "over 500 characters" in refused("text.match", text="a", pattern="a" * 501)
    assert "input 'text' is over 100000 characters" in refused(
        "text.match", text="a" * 100_001, pattern="a"
    )


@pytest.mark.django_db
def test_text_cards_chain_in_a_flow():
    run = run_flow(
        inputs=[{"name": "name", "type": "text"}, {"name": "email", "type": "text"}],
        cards=[
            {
                "id": "greeting",
                "card": "text.compose",
                "inputs": {"template": "Hello {{ inputs.name }}"},
            },
            {"id": "loud", "card": "text.upper", "inputs": {"text": "{{ greeting.text }}"}},
            {
                "id": "address",
                "card": "text.match",
                "inputs": {"text": "{{ inputs.email }}", "pattern": r"^(?P<user>[^@]+)@(.+)$"},
            },
            {
                "id": "words",
                "card": "text.split",
                "inputs": {"text": "{{ address.named.user }}", "separator": "."},
            },
        ],
        output={
            "loud": "{{ loud.text }}",
            "matched": "{{ address.matched }}",
            "words": "{{ words.parts }}",
            "count": "{{ words.count }}",
        },
        name="Ana",
        email="ana.lima@example.com",
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.output == {
        "loud": "HELLO ANA",
        "matched": True,
        "words": ["ana", "lima"],
        "count": 2,
    }


@pytest.mark.django_db
def test_a_bad_pattern_fails_the_run_naming_the_card():
    run = run_flow(
        inputs=[{"name": "pattern", "type": "text"}],
        cards=[
            {"id": "ok", "card": "text.lower", "inputs": {"text": "ABC"}},
            {
                "id": "check",
                "card": "text.match",
                "inputs": {"text": "{{ ok.text }}", "pattern": "{{ inputs.pattern }}"},
            },
        ],
        pattern="[a-",
    )
    assert run.status == RunStatus.FAILED
    assert run.error_card == "check"
    assert run.error.startswith("input 'pattern': not a valid regular expression")


def test_random_password_mixes_every_kind_of_character_and_differs_each_time():
    first = call("text.random_password", length=16)["password"]
    second = call("text.random_password")["password"]
    assert len(first) == 16 and len(second) == 20 and first != second
    assert any(c.islower() for c in first) and any(c.isupper() for c in first)
    assert any(c.isdigit() for c in first) and any(not c.isalnum() for c in first)
    assert "between 12 and 128" in refused("text.random_password", length=6)


def test_to_csv_writes_a_row_per_object_with_chosen_columns():
    people = [
        {"username": "ann", "profile": {"team": "a"}, "last_login": None},
        {"username": 'bob "b", jr', "profile": {"team": "b"}, "last_login": "2026-01-01"},
    ]
    result = call("text.to_csv", list=people, columns=["username", "profile.team", "last_login"])
    assert result == {
        "text": 'username,profile.team,last_login\r\nann,a,\r\n"bob ""b"", jr",b,2026-01-01\r\n',
        "rows": 2,
    }
    plain = call("text.to_csv", list=[{"a": 1, "b": True}], header=False)
    assert plain["text"] == "1,true\r\n"
    assert "objects only" in refused("text.to_csv", list=[1, 2])


def test_to_csv_defuses_texts_a_spreadsheet_would_run_as_formulas():
    rows = [{"name": '=HYPERLINK("http://evil")', "note": "@SUM(A1)", "count": -3}]
    assert call("text.to_csv", list=rows, header=False)["text"] == (
        '"\'=HYPERLINK(""http://evil"")",\'@SUM(A1),-3\r\n'
    )
    kept = call("text.to_csv", list=rows, header=False, formulas=True)["text"]
    assert kept.startswith('"=HYPERLINK')

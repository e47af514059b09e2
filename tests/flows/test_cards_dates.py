"""Date and time cards: each with good and bad input, and a flow that chains them."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from apps.flows.models import RunStatus
from tests.flows.cards_helpers import call, refused, run_flow

UTC = dt.UTC
PARIS = ZoneInfo("Europe/Paris")


def at(*parts, tz=UTC):
    return dt.datetime(*parts, tzinfo=tz)


def test_now_gives_the_current_utc_moment_as_a_date_and_as_iso_text():
    before = dt.datetime.now(UTC)
    result = call("date.now")
    after = dt.datetime.now(UTC)
    assert before <= result["datetime"] <= after
    assert result["datetime"].utcoffset() == dt.timedelta(0)
    assert dt.datetime.fromisoformat(result["text"]) == result["datetime"]


def test_now_takes_no_inputs():
    assert "unknown input zone for card date.now" in refused("date.now", zone="UTC")


@pytest.mark.parametrize(
    ("start", "amount", "unit", "expected"),
    [
        (at(2025, 1, 1, 10), 90, "seconds", at(2025, 1, 1, 10, 1, 30)),
        (at(2025, 1, 1, 10), -30, "minutes", at(2025, 1, 1, 9, 30)),
        (at(2025, 1, 1, 10), 1.5, "hours", at(2025, 1, 1, 11, 30)),
        (at(2025, 1, 1, 10), 2, "day", at(2025, 1, 3, 10)),
        (at(2025, 1, 1, 10), -2, "weeks", at(2024, 12, 18, 10)),
        (at(2024, 1, 31, 10), 1, "months", at(2024, 2, 29, 10)),
        (at(2025, 1, 31, 10), 1, "months", at(2025, 2, 28, 10)),
        (at(2025, 3, 31, 10), -1, "months", at(2025, 2, 28, 10)),
        (at(2025, 11, 15), 3, "months", at(2026, 2, 15)),
        (at(2024, 2, 29), 1, "years", at(2025, 2, 28)),
        (at(2024, 2, 29), -4, "years", at(2020, 2, 29)),
        ("2025-01-01", "1", "days", at(2025, 1, 2)),
    ],
)
def test_add(start, amount, unit, expected):
    assert call("date.add", datetime=start, amount=amount, unit=unit) == {"datetime": expected}


def test_add_days_keeps_the_clock_time_across_daylight_saving_but_hours_are_elapsed():
    saturday_noon = at(2025, 3, 29, 12, tz=PARIS)  # clocks go forward that night
    next_day = call("date.add", datetime=saturday_noon, amount=1, unit="days")["datetime"]
    plus_24_hours = call("date.add", datetime=saturday_noon, amount=24, unit="hours")["datetime"]
    assert next_day == at(2025, 3, 30, 12, tz=PARIS)
    assert (plus_24_hours.hour, plus_24_hours.tzinfo) == (13, PARIS)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"amount": 1, "unit": "fortnights"}, "input 'unit' must be one of seconds, minutes"),
        ({"amount": 1.5, "unit": "months"}, "input 'amount' must be a whole number of months"),
        ({"amount": 10_000, "unit": "years"}, "outside the years 1 to 9999"),
        ({"amount": 1e12, "unit": "days"}, "outside the years 1 to 9999"),
        ({"amount": -1e12, "unit": "seconds"}, "outside the years 1 to 9999"),
        ({"amount": "soon", "unit": "days"}, "input 'amount': expected a number"),
    ],
)
def test_add_refuses_bad_input(inputs, message):
    assert message in refused("date.add", datetime=at(2025, 1, 1), **inputs)


def test_add_refuses_a_datetime_that_is_not_one():
    assert "input 'datetime': expected an ISO 8601 date and time, got 'tomorrow'" in refused(
        "date.add", datetime="tomorrow", amount=1, unit="days"
    )


def test_format_with_a_format_and_a_time_zone():
    moment = at(2025, 3, 1, 8, 30)
    assert call("date.format", datetime=moment, format="%d %B %Y at %H:%M") == {
        "text": "01 March 2025 at 08:30"
    }
    assert call(
        "date.format", datetime=moment, format="%Y-%m-%d %H:%M %Z (%z)", time_zone="Europe/Paris"
    ) == {"text": "2025-03-01 09:30 CET (+0100)"}
    assert call("date.format", datetime=moment, format="%I:%M %p, %A %j%%") == {
        "text": "08:30 AM, Saturday 060%"
    }


def test_format_without_a_format_gives_iso_text():
    moment = at(2025, 3, 1, 8, 30)
    assert call("date.format", datetime=moment) == {"text": "2025-03-01T08:30:00+00:00"}
    assert call("date.format", datetime=moment, format="", time_zone="Asia/Tokyo") == {
        "text": "2025-03-01T17:30:00+09:00"
    }


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"format": "%c"}, "input 'format': %c is not supported"),
        ({"format": "%-d"}, "input 'format': %- is not supported"),
        ({"format": "100%"}, "input 'format': a lone % at the end is not supported"),
        ({"time_zone": "Mars/Olympus"}, "input 'time_zone': unknown time zone 'Mars/Olympus'"),
        ({"time_zone": "../../etc/passwd"}, "input 'time_zone': unknown time zone"),
        ({"format": ["%Y"]}, "input 'format': expected text"),
    ],
)
def test_format_refuses_bad_input(inputs, message):
    assert message in refused("date.format", datetime=at(2025, 1, 1), **inputs)


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({"text": "2025-03-01T09:30:00Z"}, at(2025, 3, 1, 9, 30)),
        ({"text": " 2025-03-01 "}, at(2025, 3, 1)),
        ({"text": "2025-03-01T10:30:00+01:00"}, at(2025, 3, 1, 9, 30)),
        ({"text": "2025-03-01 09:30", "time_zone": "Europe/Paris"}, at(2025, 3, 1, 8, 30)),
        ({"text": "01/03/2025 09:30", "format": "%d/%m/%Y %H:%M"}, at(2025, 3, 1, 9, 30)),
        (
            {"text": "01/03/2025", "format": "%d/%m/%Y", "time_zone": "Asia/Tokyo"},
            at(2025, 2, 28, 15),
        ),
    ],
)
def test_parse(inputs, expected):
    moment = call("date.parse", **inputs)["datetime"]
    assert moment == expected and moment.tzinfo is not None


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"text": "next tuesday"}, "input 'text': 'next tuesday' is not an ISO 8601 date and time"),
        ({"text": "2025-02-30"}, "input 'text': '2025-02-30' is not an ISO 8601 date"),
        ({"text": "2025-03-01", "format": "%d/%m/%Y"}, "input 'text': '2025-03-01' does not fit"),
        ({"text": "01/03/2025", "format": "%d/%m/%Y %c"}, "input 'format': %c is not supported"),
        ({"text": "2025-03-01", "time_zone": "Nowhere"}, "unknown time zone 'Nowhere'"),
    ],
)
def test_parse_refuses_bad_input(inputs, message):
    assert message in refused("date.parse", **inputs)


@pytest.mark.parametrize(
    ("start", "end", "unit", "expected"),
    [
        (at(2025, 1, 1), at(2025, 1, 1, 0, 1, 30), "seconds", 90),
        (at(2025, 1, 1), at(2025, 1, 1, 1, 30), "minutes", 90),
        (at(2025, 1, 2, 12), at(2025, 1, 1), "hours", -36),
        (at(2025, 1, 1), at(2025, 1, 2, 12), "days", 1.5),
        (at(2025, 1, 1), at(2025, 1, 15), "weeks", 2),
        (at(2025, 1, 31), at(2025, 2, 28), "months", 1),
        (at(2025, 1, 15), at(2025, 3, 14), "months", 1),
        (at(2025, 3, 14), at(2025, 1, 15), "months", -1),
        (at(2000, 3, 15), at(2024, 3, 14), "years", 23),
        (at(2000, 3, 15), at(2024, 3, 15), "years", 24),
        ("2025-01-01T00:00:00+01:00", "2025-01-01T00:00:00Z", "hours", 1),
    ],
)
def test_difference(start, end, unit, expected):
    result = call("date.difference", start=start, end=end, unit=unit)["difference"]
    assert result == expected and type(result) is type(expected)


def test_difference_in_days_counts_calendar_days_across_daylight_saving():
    start = at(2025, 3, 29, 12, tz=PARIS)
    assert call("date.difference", start=start, end=at(2025, 3, 30, 12, tz=PARIS), unit="days") == {
        "difference": 1
    }
    assert call(
        "date.difference", start=start, end=at(2025, 3, 30, 12, tz=PARIS), unit="hours"
    ) == {"difference": 23}


def test_difference_refuses_bad_input():
    assert "input 'unit' must be one of" in refused(
        "date.difference", start=at(2025, 1, 1), end=at(2025, 1, 2), unit="decades"
    )
    assert "input 'end': expected a date and time, got int" in refused(
        "date.difference", start=at(2025, 1, 1), end=5, unit="days"
    )
    assert "input 'start' is required" in refused(
        "date.difference", end=at(2025, 1, 2), unit="days"
    )


@pytest.mark.django_db
def test_a_computed_date_stays_a_date_into_format_and_difference():
    run = run_flow(
        inputs=[{"name": "granted", "type": "datetime"}],
        cards=[
            {
                "id": "expiry",
                "card": "date.add",
                "inputs": {"datetime": "{{ inputs.granted }}", "amount": 1, "unit": "months"},
            },
            {
                "id": "shown",
                "card": "date.format",
                "inputs": {
                    "datetime": "{{ expiry.datetime }}",
                    "format": "%A %d %B %Y, %H:%M",
                    "time_zone": "Europe/Paris",
                },
            },
            {
                "id": "days",
                "card": "date.difference",
                "inputs": {
                    "start": "{{ inputs.granted }}",
                    "end": "{{ expiry.datetime }}",
                    "unit": "days",
                },
            },
            {
                "id": "again",
                "card": "date.parse",
                "inputs": {"text": "{{ shown.text }}", "format": "%A %d %B %Y, %H:%M"},
            },
        ],
        output={"shown": "{{ shown.text }}", "days": "{{ days.difference }}"},
        granted="2024-01-31T09:00:00Z",
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.output == {"shown": "Thursday 29 February 2024, 10:00", "days": 29}
    record = run.card_runs.get(card_id="shown")
    assert dt.datetime.fromisoformat(record.inputs["datetime"]) == at(2024, 2, 29, 9)


@pytest.mark.django_db
def test_an_unknown_time_zone_fails_the_run_naming_the_card():
    run = run_flow(
        cards=[
            # Not "now": a card id equal to a Jinja global is shadowed by it (see the report).
            {"id": "clock", "card": "date.now"},
            {
                "id": "local",
                "card": "date.format",
                "inputs": {"datetime": "{{ clock.datetime }}", "time_zone": "Mars/Olympus"},
            },
        ],
    )
    assert run.status == RunStatus.FAILED
    assert run.error_card == "local"
    assert run.error.startswith("input 'time_zone': unknown time zone 'Mars/Olympus'")

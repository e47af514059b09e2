"""The trigger a flow's definition declares: checking it, matching events, next run times."""

from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from apps.flows import triggers
from apps.flows.models import FlowKind
from apps.flows.validation import validate_definition

PARIS = ZoneInfo("Europe/Paris")


def event_trigger(**changes):
    return {"type": "event", "events": ["directory.user.*"], **changes}


def schedule_trigger(**changes):
    return {"type": "schedule", "cron": "0 6 * * *", "timezone": "Europe/Paris", **changes}


# --- validate_trigger -----------------------------------------------------------------------


def test_event_and_scheduled_flows_need_a_trigger_of_their_own_type():
    assert triggers.validate_trigger(FlowKind.EVENT, None) == [
        "trigger: a flow of kind 'event' needs a trigger of type 'event'."
    ]
    assert triggers.validate_trigger(FlowKind.SCHEDULED, event_trigger()) == [
        "trigger.type: a flow of kind 'scheduled' takes a 'schedule' trigger, not 'event'."
    ]
    assert triggers.validate_trigger(FlowKind.HELPER, None) == []
    assert triggers.validate_trigger(FlowKind.DELEGATED, event_trigger()) == [
        "trigger: a flow of kind 'delegated' has no trigger (others start it)."
    ]


def test_a_good_event_trigger_passes():
    trigger = event_trigger(
        events=["directory.user.added_to_group", "directory.user.*", "okta.user.session.start"],
        filters=[
            {"path": "data.group_name", "op": "equals", "value": "Engineering"},
            {"path": "data.fields", "op": "contains", "value": "department"},
            {"path": "actor.email", "op": "exists"},
            {"path": "target.type", "op": "in", "value": ["user"]},
        ],
    )
    assert triggers.validate_trigger(FlowKind.EVENT, trigger) == []


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        (event_trigger(events=[]), "trigger.events: list one or more event types"),
        (event_trigger(events="directory.user.*"), "trigger.events: list one or more"),
        (event_trigger(events=["directory.user.creatd"]), "trigger.events[0]: no event type"),
        (event_trigger(events=["directory.usr.*"]), "trigger.events[0]: no event type"),
        (event_trigger(events=["directory user"]), "trigger.events[0]: 'directory user' is not"),
        (event_trigger(filters={"path": "data.x"}), "trigger.filters: must be a list"),
        (event_trigger(filters=[{"path": "x.y", "op": "equals", "value": 1}]), "filters[0].path"),
        (event_trigger(filters=[{"path": "data.x", "op": "like", "value": 1}]), "filters[0].op"),
        (event_trigger(filters=[{"path": "data.x", "op": "equals"}]), "filters[0].value"),
        (event_trigger(filters=[{"path": "data.x", "op": "in", "value": "a"}]), "takes a list"),
        (event_trigger(color="red"), "trigger.color: unknown key."),
    ],
)
def test_a_bad_event_trigger_is_refused_naming_its_field(trigger, message):
    errors = triggers.validate_trigger(FlowKind.EVENT, trigger)
    assert any(message in error for error in errors), errors


def test_a_good_schedule_trigger_passes():
    assert triggers.validate_trigger(FlowKind.SCHEDULED, schedule_trigger()) == []
    interval = {
        "type": "schedule",
        "cron": None,
        "interval_minutes": 15,
        "timezone": "UTC",
        "starts_at": "2026-01-01T08:00:00Z",
        "ends_at": "2026-02-01T08:00:00Z",
        "missed": "skip",
    }
    assert triggers.validate_trigger(FlowKind.SCHEDULED, interval) == []


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        (schedule_trigger(cron="61 * * * *"), "trigger.cron: '61 * * * *' is not a cron"),
        (schedule_trigger(cron="* * * * * *"), "trigger.cron:"),
        (schedule_trigger(cron=None), "trigger.cron: give either"),
        (schedule_trigger(interval_minutes=5), "trigger.cron: give either"),
        (schedule_trigger(cron=None, interval_minutes=0), "trigger.interval_minutes:"),
        (schedule_trigger(cron=None, interval_minutes=True), "trigger.interval_minutes:"),
        (schedule_trigger(timezone="Mars/Olympus"), "trigger.timezone: 'Mars/Olympus'"),
        (schedule_trigger(starts_at="tomorrow"), "trigger.starts_at: an ISO date"),
        (
            schedule_trigger(starts_at="2026-02-01T00:00", ends_at="2026-01-01T00:00"),
            "trigger.ends_at: must come after starts_at.",
        ),
        (schedule_trigger(missed="all"), "trigger.missed:"),
    ],
)
def test_a_bad_schedule_trigger_is_refused_naming_its_field(trigger, message):
    errors = triggers.validate_trigger(FlowKind.SCHEDULED, trigger)
    assert any(message in error for error in errors), errors


def test_the_definition_check_includes_the_trigger_and_the_inputs_it_gives():
    definition = {
        "trigger": event_trigger(events=["directory.user.nope"]),
        "inputs": [{"name": "email", "type": "text"}, {"name": "data", "type": "text"}],
        "cards": [],
    }
    with pytest.raises(ValidationError) as refused:
        validate_definition(definition, kind=FlowKind.EVENT)
    messages = refused.value.messages
    assert any(m.startswith("trigger.events[0]: no event type") for m in messages)
    assert any(
        m.startswith("Input email: a flow of kind 'event' is given only event (object)")
        for m in messages
    )
    assert "Input data: is of type object in a flow of kind 'event'." in messages


def test_a_scheduled_flow_may_declare_only_the_planned_time():
    definition = {
        "trigger": schedule_trigger(),
        "inputs": [{"name": "scheduled_for", "type": "datetime"}],
        "cards": [],
    }
    validate_definition(definition, kind=FlowKind.SCHEDULED)
    definition["inputs"].append({"name": "who", "type": "text"})
    with pytest.raises(
        ValidationError, match="Input who: a flow of kind 'scheduled' is given only"
    ):
        validate_definition(definition, kind=FlowKind.SCHEDULED)


# --- event matching and filters -------------------------------------------------------------


def test_event_types_match_exactly_or_by_wildcard():
    patterns = ("directory.user.*", "flows.run.failed")
    assert triggers.event_type_matches(patterns, "directory.user.added_to_group")
    assert triggers.event_type_matches(patterns, "directory.user.session.started")
    assert triggers.event_type_matches(patterns, "flows.run.failed")
    assert not triggers.event_type_matches(patterns, "directory.group.created")
    assert not triggers.event_type_matches(patterns, "flows.run.queued")
    assert not triggers.event_type_matches(("directory.user",), "directory.user.created")


CONTEXT = {
    "event": {"type": "directory.user.profile_updated"},
    "actor": {"email": "", "id": None},
    "target": {"type": "user", "id": "7"},
    "data": {"group_name": "Engineering", "fields": ["department", "title"], "new": {"n": 3}},
}


@pytest.mark.parametrize(
    ("spec", "passes"),
    [
        ({"path": "data.group_name", "op": "equals", "value": "Engineering"}, True),
        ({"path": "data.group_name", "op": "equals", "value": "Sales"}, False),
        ({"path": "data.group_name", "op": "not_equals", "value": "Sales"}, True),
        ({"path": "data.fields", "op": "contains", "value": "department"}, True),
        ({"path": "data.fields", "op": "contains", "value": "manager"}, False),
        ({"path": "data.group_name", "op": "contains", "value": "gineer"}, True),
        ({"path": "data.group_name", "op": "in", "value": ["Sales", "Engineering"]}, True),
        ({"path": "data.group_name", "op": "not_in", "value": ["Engineering"]}, False),
        ({"path": "data.group_name", "op": "starts_with", "value": "Eng"}, True),
        ({"path": "data.fields.0", "op": "equals", "value": "department"}, True),
        ({"path": "data.new.n", "op": "equals", "value": 3}, True),
        ({"path": "data.missing", "op": "equals", "value": None}, False),
        ({"path": "data.missing", "op": "not_equals", "value": "x"}, True),
        ({"path": "data.missing", "op": "exists"}, False),
        ({"path": "data.missing", "op": "exists", "value": False}, True),
        ({"path": "actor.id", "op": "exists"}, False),
        ({"path": "target.id", "op": "exists"}, True),
    ],
)
def test_filters_read_a_path_of_the_event(spec, passes):
    assert triggers.filter_passes(spec, CONTEXT) is passes


def test_every_filter_must_pass():
    group = {"path": "data.group_name", "op": "equals", "value": "Engineering"}
    other = {"path": "target.type", "op": "equals", "value": "group"}
    assert triggers.filters_pass([group], CONTEXT)
    assert not triggers.filters_pass([group, other], CONTEXT)
    assert triggers.filters_pass([], CONTEXT)


def test_event_inputs_describe_a_system_event_without_an_actor():
    event = SimpleNamespace(
        uuid="u-1",
        event_type="directory.user.created",
        published=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        outcome="success",
        message="",
        correlation_id="c-1",
        actor=None,
        actor_display="system",
        target_type="user",
        target_id="9",
        target_display="alice",
        data={"new": {"username": "alice"}},
    )
    inputs = triggers.event_inputs(event)
    assert inputs["actor"] == {"id": None, "username": "", "email": "", "display": "system"}
    assert inputs["target"] == {"type": "user", "id": "9", "display": "alice"}
    assert inputs["event"]["type"] == "directory.user.created"
    assert inputs["event"]["published"] == "2026-01-02T03:04:00+00:00"
    assert inputs["data"] == {"new": {"username": "alice"}}


# --- next run times -------------------------------------------------------------------------


def test_cron_is_read_in_the_flows_time_zone_across_daylight_saving():
    # Paris moves to summer time on 2026-03-29: 06:00 local is 05:00 UTC before, 04:00 after.
    after = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)
    times = triggers.next_fire_times(schedule_trigger(), after=after, count=4)
    assert [t.astimezone(PARIS).hour for t in times] == [6, 6, 6, 6]
    assert [t.astimezone(UTC).isoformat() for t in times] == [
        "2026-03-28T05:00:00+00:00",
        "2026-03-29T04:00:00+00:00",
        "2026-03-30T04:00:00+00:00",
        "2026-03-31T04:00:00+00:00",
    ]


def test_cron_in_a_time_zone_differs_from_utc():
    after = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    paris = triggers.next_fire_times(schedule_trigger(cron="0 6 1 * *"), after=after, count=2)
    utc = triggers.next_fire_times(
        schedule_trigger(cron="0 6 1 * *", timezone="UTC"), after=after, count=2
    )
    assert [t.astimezone(UTC).isoformat() for t in paris] == [
        "2026-02-01T05:00:00+00:00",
        "2026-03-01T05:00:00+00:00",
    ]
    assert [t.astimezone(UTC).isoformat() for t in utc] == [
        "2026-02-01T06:00:00+00:00",
        "2026-03-01T06:00:00+00:00",
    ]


def test_a_time_that_does_not_exist_on_the_dst_day_runs_once_at_the_next_hour():
    after = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    times = triggers.next_fire_times(schedule_trigger(cron="30 2 * * *"), after=after, count=2)
    assert [t.astimezone(PARIS).isoformat() for t in times] == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


def test_start_and_end_bound_the_run_times():
    trigger = schedule_trigger(starts_at="2026-05-03T06:00:00", ends_at="2026-05-05T07:00:00")
    times = triggers.next_fire_times(trigger, after=datetime(2026, 1, 1, tzinfo=UTC), count=5)
    assert [t.astimezone(PARIS).date().isoformat() for t in times] == [
        "2026-05-03",
        "2026-05-04",
        "2026-05-05",
    ]


def test_an_interval_counts_real_minutes_from_its_start():
    trigger = {
        "type": "schedule",
        "interval_minutes": 90,
        "timezone": "Europe/Paris",
        "starts_at": "2026-03-29T00:00:00+01:00",
    }
    after = datetime(2026, 3, 29, 0, 10, tzinfo=PARIS)  # 23:10 UTC the day before
    times = triggers.next_fire_times(trigger, after=after, count=3)
    assert [t.astimezone(UTC).isoformat() for t in times] == [
        "2026-03-29T00:30:00+00:00",
        "2026-03-29T02:00:00+00:00",
        "2026-03-29T03:30:00+00:00",
    ]
    assert times[1].astimezone(PARIS).isoformat() == "2026-03-29T04:00:00+02:00"


def test_an_interval_without_a_start_runs_one_period_after_now():
    trigger = {"type": "schedule", "interval_minutes": 10}
    after = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    times = triggers.next_fire_times(trigger, after=after, count=2)
    assert [t.astimezone(UTC).isoformat() for t in times] == [
        "2026-01-01T12:10:00+00:00",
        "2026-01-01T12:20:00+00:00",
    ]

"""Scheduled flows: one django-q2 schedule per enabled scheduled flow, in its time zone."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_q.models import Schedule
from django_q.scheduler import scheduler

from apps.flows import scheduling, services, tasks, transfer
from apps.flows.models import Flow, FlowKind, FlowRun, RunStatus, Trigger

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


def definition(**trigger):
    return {
        "trigger": {"type": "schedule", "cron": "0 6 * * *", "timezone": "Europe/Paris", **trigger},
        "inputs": [{"name": "scheduled_for", "type": "datetime"}],
        "cards": [
            {"id": "at", "card": "control.assign", "inputs": {"when": "{{ inputs.scheduled_for }}"}}
        ],
    }


def scheduled_flow(name="Monthly", enabled=True, **trigger):
    return services.flow_create(
        actor=None,
        name=name,
        definition=definition(**trigger),
        kind=FlowKind.SCHEDULED,
        enabled=enabled,
    )


def schedule_of(flow) -> Schedule | None:
    return Schedule.objects.filter(name=f"flows.flow:{flow.pk}").first()


def test_saving_a_scheduled_flow_creates_its_schedule_at_the_next_cron_time():
    flow = scheduled_flow()

    schedule = schedule_of(flow)
    assert schedule.func == "apps.flows.tasks.start_scheduled_flow"
    assert schedule.args == repr(flow.pk) and schedule.intended_date_kwarg == "scheduled_for"
    assert schedule.schedule_type == Schedule.CRON and schedule.cron == "0 6 * * *"
    assert schedule.repeats == -1
    local = schedule.next_run.astimezone(PARIS)
    assert (local.hour, local.minute) == (6, 0)
    assert timezone.now() < schedule.next_run <= timezone.now() + timedelta(days=1)


def test_enable_disable_and_delete_keep_the_schedule_in_step():
    flow = scheduled_flow(enabled=False)
    assert schedule_of(flow) is None

    services.flow_update(flow=flow, actor=None, enabled=True)
    assert schedule_of(flow) is not None

    services.flow_update(flow=flow, actor=None, enabled=False)
    assert schedule_of(flow) is None

    services.flow_update(flow=flow, actor=None, enabled=True)
    Flow.objects.filter(pk=flow.pk).delete()
    assert not Schedule.objects.filter(name__startswith="flows.flow:").exists()


def test_changing_the_trigger_changes_the_schedule():
    flow = scheduled_flow()
    services.flow_save_definition(
        flow=flow, actor=None, definition=definition(cron=None, interval_minutes=30)
    )

    schedule = schedule_of(flow)
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 30
    assert schedule.cron is None
    assert abs(schedule.next_run - (timezone.now() + timedelta(minutes=30))) < timedelta(seconds=30)
    assert Schedule.objects.filter(name=f"flows.flow:{flow.pk}").count() == 1


def test_an_unchanged_interval_keeps_its_rhythm_when_the_flow_is_saved_again():
    flow = scheduled_flow(cron=None, interval_minutes=60)
    planned = timezone.now() + timedelta(minutes=12)
    Schedule.objects.filter(pk=schedule_of(flow).pk).update(next_run=planned)

    services.flow_update(flow=flow, actor=None, enabled=False)
    services.flow_update(flow=flow, actor=None, enabled=True)
    assert schedule_of(flow).next_run != planned  # removed and made again: starts afresh

    Schedule.objects.filter(pk=schedule_of(flow).pk).update(next_run=planned)
    definition_again = {**flow.current_version.definition, "cards": []}
    services.flow_save_definition(
        flow=Flow.objects.get(pk=flow.pk), actor=None, definition=definition_again
    )
    assert schedule_of(flow).next_run == planned


def test_leaving_the_scheduled_kind_removes_the_schedule():
    flow = scheduled_flow()
    helper = {"inputs": [], "cards": []}

    transfer.flow_apply(flow=flow, actor=None, changes={"kind": FlowKind.HELPER}, definition=helper)

    assert schedule_of(flow) is None
    flow.refresh_from_db()
    assert flow.kind == FlowKind.HELPER and flow.definition == helper


def test_a_schedule_ending_stops_its_row():
    past_end = (timezone.now() - timedelta(days=1)).isoformat()
    start = (timezone.now() - timedelta(days=10)).isoformat()
    flow = scheduled_flow(starts_at=start, ends_at=past_end)
    assert schedule_of(flow).repeats == 0


def test_a_schedule_starting_later_waits_for_its_start():
    start = datetime(2031, 5, 3, 6, 0, tzinfo=PARIS)
    flow = scheduled_flow(starts_at=start.isoformat())
    assert schedule_of(flow).next_run == start


def test_the_task_starts_one_run_per_planned_time(django_capture_on_commit_callbacks):
    flow = scheduled_flow()
    planned = timezone.now().replace(microsecond=0)

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.start_scheduled_flow(flow.pk, planned.isoformat()).startswith("run #")
        again = tasks.start_scheduled_flow(flow.pk, planned.isoformat())
    assert again.startswith("already started")

    run = FlowRun.objects.get(flow=flow)
    assert run.trigger == Trigger.SCHEDULE and run.status == RunStatus.SUCCEEDED, run.error
    assert parse_datetime(run.inputs["scheduled_for"]) == planned
    assert run.idempotency_key == f"schedule:{planned.astimezone(UTC).isoformat()}"


def test_the_task_starts_nothing_for_a_disabled_flow_or_outside_the_bounds():
    flow = scheduled_flow(ends_at="2026-01-01T00:00:00Z", enabled=False)
    assert tasks.start_scheduled_flow(flow.pk, None) == "not an enabled scheduled flow"
    services.flow_update(flow=flow, actor=None, enabled=True)
    assert tasks.start_scheduled_flow(flow.pk, None) == "outside the schedule's start and end"
    assert not FlowRun.objects.exists()


def run_the_scheduler_after_downtime(flow, days_down: int):
    """The workers were down: the schedule's next run is far in the past when they return."""
    missed = timezone.now() - timedelta(days=days_down)
    Schedule.objects.filter(pk=schedule_of(flow).pk).update(next_run=missed)
    scheduler()  # django-q2's own scheduler pass (tasks run inline in the tests)
    return missed


@pytest.mark.parametrize("missed, runs", [("once", 1), ("skip", 0)])
def test_missed_runs_after_downtime_run_once_or_not_at_all_never_a_burst(missed, runs):
    flow = scheduled_flow(missed=missed)

    run_the_scheduler_after_downtime(flow, days_down=30)  # 30 daily runs were missed
    scheduler()  # the next pass finds nothing due

    assert FlowRun.objects.filter(flow=flow).count() == runs
    schedule = schedule_of(flow)
    assert schedule.next_run > timezone.now() and schedule.repeats == -1
    local = schedule.next_run.astimezone(PARIS)
    assert (local.hour, local.minute) == (6, 0)  # back on the flow's own time zone


def test_a_missed_interval_runs_once_and_keeps_counting_from_its_rhythm():
    flow = scheduled_flow(cron=None, interval_minutes=60)
    missed = run_the_scheduler_after_downtime(flow, days_down=1)

    assert FlowRun.objects.filter(flow=flow).count() == 1
    next_run = schedule_of(flow).next_run
    assert timezone.now() < next_run <= timezone.now() + timedelta(minutes=60)
    assert (next_run - missed) % timedelta(minutes=60) == timedelta(0)


def test_the_upcoming_run_times_are_in_the_flows_time_zone():
    flow = scheduled_flow(cron="0 6 1 * *")
    upcoming = scheduling.upcoming(flow, after=datetime(2026, 1, 10, tzinfo=UTC))
    assert [moment.isoformat() for moment in upcoming] == [
        "2026-02-01T06:00:00+01:00",
        "2026-03-01T06:00:00+01:00",
        "2026-04-01T06:00:00+02:00",
        "2026-05-01T06:00:00+02:00",
        "2026-06-01T06:00:00+02:00",
    ]

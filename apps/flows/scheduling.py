"""Scheduled flows as django-q2 schedules: one `Schedule` row per enabled scheduled flow.

The row is named `flows.flow:<id>` and kept in step with the flow by the services (saved,
enabled, disabled, kind or trigger changed) and by a signal when a flow is deleted. It runs
`apps.flows.tasks.start_scheduled_flow` with the time the run was planned for.

django-q2 reads cron expressions in the server's TIME_ZONE only, so the flow's own time zone is
applied here: whenever a flow's schedule row is saved (by the sync, or by django-q2's scheduler
after it fired), its `next_run` is set from the trigger with croniter in the flow's time zone,
never in the past (so a worker back after downtime fires once, never a burst) and never past
`ends_at` (then the row stops: repeats 0).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models.signals import post_delete, pre_save
from django.dispatch import receiver
from django.utils import timezone
from django_q.models import Schedule

from apps.flows import triggers
from apps.flows.models import Flow, FlowKind

NAME_PREFIX = "flows.flow:"
TASK = "apps.flows.tasks.start_scheduled_flow"


def schedule_name(flow_id: int) -> str:
    """The predictable name of a flow's schedule row."""
    return f"{NAME_PREFIX}{flow_id}"


def scheduled_trigger(flow: Flow) -> dict | None:
    """The schedule trigger of an enabled scheduled flow with a saved definition, else None."""
    if flow.kind != FlowKind.SCHEDULED or not flow.enabled or not flow.current_version_id:
        return None
    trigger = triggers.trigger_of(flow.current_version.definition)
    return trigger if trigger and trigger.get("type") == "schedule" else None


def sync_schedule(flow: Flow) -> Schedule | None:
    """Create, update or remove the flow's schedule row (in the caller's transaction)."""
    name = schedule_name(flow.pk)
    trigger = scheduled_trigger(flow)
    if trigger is None:
        Schedule.objects.filter(name=name).delete()
        return None
    existing = Schedule.objects.filter(name=name).first()
    schedule = existing or Schedule(name=name)
    same_interval = (
        existing is not None
        and trigger.get("interval_minutes")
        and existing.minutes == trigger["interval_minutes"]
        and existing.schedule_type == Schedule.MINUTES
    )
    schedule.func = TASK
    schedule.args = repr(flow.pk)
    schedule.kwargs = None
    schedule.intended_date_kwarg = "scheduled_for"
    if trigger.get("cron"):
        schedule.schedule_type, schedule.cron = Schedule.CRON, trigger["cron"]
        schedule.minutes = None
    else:
        schedule.schedule_type, schedule.cron = Schedule.MINUTES, None
        schedule.minutes = trigger["interval_minutes"]
    # An unchanged interval keeps its rhythm across saves; anything else starts afresh.
    schedule.next_run = existing.next_run if same_interval else None
    schedule.repeats = -1
    schedule.save()  # next_run: see _next_run_from_the_trigger
    return schedule


def upcoming(flow: Flow, *, count: int = 5, after: datetime | None = None) -> list[datetime]:
    """The flow's next run times, in its time zone (empty when it is not scheduled)."""
    trigger = scheduled_trigger(flow)
    if trigger is None:
        return []
    next_run = (
        Schedule.objects.filter(name=schedule_name(flow.pk))
        .values_list("next_run", flat=True)
        .first()
    )
    return _next_times(trigger, next_run=next_run, now=after or timezone.now(), count=count)


def _next_times(trigger, *, next_run: datetime | None, now: datetime, count: int):
    """Fire times after `now`. An interval keeps the rhythm of the row's next_run (django-q2's
    scheduler has already moved it on by one period after firing); cron is read afresh."""
    if not trigger.get("interval_minutes"):
        return triggers.next_fire_times(trigger, after=now, count=count)
    after = now
    if next_run is not None and next_run > now:
        after = next_run - timedelta(microseconds=1)
    return triggers.next_fire_times(trigger, after=after, count=count, anchor=next_run)


@receiver(pre_save, sender=Schedule, dispatch_uid="flows.schedule_next_run")
def _next_run_from_the_trigger(sender, instance: Schedule, **kwargs) -> None:
    if instance.func != TASK or not (instance.name or "").startswith(NAME_PREFIX):
        return
    flow_id = instance.name.removeprefix(NAME_PREFIX)
    flow = (
        Flow.objects.select_related("current_version").filter(pk=flow_id).first()
        if flow_id.isdigit()
        else None
    )
    trigger = scheduled_trigger(flow) if flow is not None else None
    if trigger is None:
        instance.repeats = 0
        return
    upcoming_times = _next_times(trigger, next_run=instance.next_run, now=timezone.now(), count=1)
    if upcoming_times:
        instance.next_run, instance.repeats = upcoming_times[0], -1
    else:  # past ends_at: nothing more to run
        instance.repeats = 0


@receiver(post_delete, sender=Flow, dispatch_uid="flows.flow_deleted_unschedule")
def _flow_deleted(sender, instance: Flow, **kwargs) -> None:
    from apps.flows import subscriptions

    Schedule.objects.filter(name=schedule_name(instance.pk)).delete()
    subscriptions.changed()

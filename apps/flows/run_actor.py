"""Which run is executing, so that the system log ties what it changes to it.

Cards call other apps' services (the directory's) with the run's starter as actor; the event
those services write does not know about runs. While a run executes, every event written in
this context gets the run's id in its data (`flow_run`), next to the correlation id it already
shares with the run, without the lower apps knowing of flows.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from django.db.models.signals import pre_save
from django.dispatch import receiver

from apps.audit.models import SystemLogEvent

_running: ContextVar[int | None] = ContextVar("flow_run_id", default=None)


@contextmanager
def acting_for(run):
    """Events written in this block name `run` in their data."""
    token = _running.set(run.pk)
    try:
        yield
    finally:
        _running.reset(token)


@receiver(pre_save, sender=SystemLogEvent, dispatch_uid="flows.event_names_its_run")
def _name_the_run(sender, instance: SystemLogEvent, **kwargs) -> None:
    run_id = _running.get()
    if run_id is not None and instance._state.adding and isinstance(instance.data, dict):
        instance.data.setdefault("flow_run", run_id)

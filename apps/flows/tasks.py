"""Queue work of the flow engine."""

from django.utils.dateparse import parse_datetime

from apps.flows import services
from apps.flows.models import FlowRun


def execute_run(run_id: int) -> str:
    """Execute one queued run (safe to run twice: a run already taken is left alone)."""
    run = FlowRun.objects.filter(pk=run_id).first()
    if run is None:
        return "missing"
    return services.execute(run).status


def take_up_lost_runs() -> str:
    """Every minute: queue again, or fail, the running runs whose worker was lost."""
    counts = services.take_up_lost_runs()
    return f"{counts['queued_again']} queued again, {counts['failed']} failed"


def start_scheduled_flow(flow_id: int, scheduled_for: str | None = None) -> str:
    """What a scheduled flow's django-q2 schedule runs (`scheduled_for`: the planned time)."""
    planned = parse_datetime(scheduled_for) if scheduled_for else None
    return services.start_scheduled(flow_id=flow_id, scheduled_for=planned)

"""Event flows through a real queue worker: the event is fanned out after commit by the worker,
whose own copy of the subscriptions sees the flow saved in this process."""

import pytest
from django_q.tasks import async_task

from apps.audit.models import SystemLogEvent
from apps.directory import services as directory
from apps.flows import services
from apps.flows.models import FlowKind, FlowRun, RunStatus
from tests.factories import GroupFactory, UserFactory
from tests.queue import wait_for

pytestmark = pytest.mark.queue

DEFINITION = {
    "trigger": {
        "type": "event",
        "events": ["directory.user.*"],
        "filters": [{"path": "data.group_name", "op": "equals", "value": "Engineering"}],
    },
    "inputs": [{"name": "actor", "type": "object"}, {"name": "data", "type": "object"}],
    "cards": [
        {"id": "who", "card": "control.assign", "inputs": {"by": "{{ inputs.actor.username }}"}}
    ],
    "output": "{{ who.by }}",
}


def test_a_worker_starts_the_event_flow_once_even_when_the_delivery_is_queued_again(
    queue_cluster,
):
    boss, ann = UserFactory(username="boss"), UserFactory(username="ann")
    flow = services.flow_create(
        actor=None, name="On Engineering", definition=DEFINITION, kind=FlowKind.EVENT
    )

    directory.group_add_member(group=GroupFactory(name="Sales"), user=ann, actor=boss)
    directory.group_add_member(group=GroupFactory(name="Engineering"), user=ann, actor=boss)

    def finished():
        return FlowRun.objects.filter(flow=flow, status=RunStatus.SUCCEEDED).exists()

    wait_for(finished, what="the event flow's run to succeed in the worker")
    event = SystemLogEvent.objects.filter(event_type="directory.user.added_to_group").latest("id")
    async_task("apps.audit.tasks.deliver_event", event.pk)  # the fan-out, delivered again
    async_task("apps.audit.tasks.deliver_event", event.pk)
    # One worker takes tasks in order: once the next event's run exists, the repeats are done.
    bob = UserFactory(username="bob")
    directory.group_add_member(group=event_group(), user=bob, actor=ann)
    wait_for(
        lambda: FlowRun.objects.filter(flow=flow, status=RunStatus.SUCCEEDED).count() == 2,
        what="the next event's run",
    )

    assert sorted(run.output for run in FlowRun.objects.filter(flow=flow)) == ["ann", "boss"]


def event_group():
    from apps.directory.models import Group

    return Group.objects.get(name="Engineering")

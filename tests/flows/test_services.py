"""The flow services that start runs: checking a run's inputs, helper runs, re-runs."""

import pytest
from django.core.exceptions import ValidationError

from apps.audit.models import SystemLogEvent
from apps.flows import services
from apps.flows.errors import CardError
from apps.flows.models import FlowRun, RunStatus, Trigger
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TYPED = {
    "inputs": [
        {"name": "count", "type": "number"},
        {"name": "when", "type": "datetime"},
        {"name": "flag", "type": "boolean", "required": False},
        {"name": "tags", "type": "list", "required": False},
    ],
    "cards": [{"id": "a", "card": "control.assign", "inputs": {"n": "{{ inputs.count }}"}}],
    "output": "{{ a.n }}",
}


def make_flow(name="F", definition=TYPED, **fields):
    return services.flow_create(actor=None, name=name, definition=definition, **fields)


# --- check_run_inputs -----------------------------------------------------------------------


def test_check_run_inputs_types_each_value_as_declared():
    version = make_flow().current_version

    checked = services.check_run_inputs(
        version, {"count": "3", "when": "2026-01-02T03:04:00Z", "flag": "true", "tags": ["a"]}
    )

    assert checked["count"] == 3 and checked["flag"] is True and checked["tags"] == ["a"]
    assert checked["when"].year == 2026 and checked["when"].tzinfo is not None


def test_check_run_inputs_gives_none_for_a_missing_optional_input():
    version = make_flow().current_version
    checked = services.check_run_inputs(version, {"count": 1, "when": "2026-01-02T03:04:00Z"})
    assert checked["flag"] is None and checked["tags"] is None


def test_check_run_inputs_names_every_bad_input_at_once():
    version = make_flow().current_version

    with pytest.raises(ValidationError) as refused:
        services.check_run_inputs(version, {"count": "many", "flag": "perhaps", "extra": 1})

    errors = refused.value.message_dict
    assert set(errors) == {"count", "when", "flag", "extra"}
    assert errors["when"] == ["This input is required."]
    assert errors["extra"] == ["The flow has no such input."]
    assert errors["count"][0].startswith("count: ")


def test_an_empty_text_counts_as_missing():
    version = make_flow().current_version
    with pytest.raises(ValidationError) as refused:
        services.check_run_inputs(version, {"count": "", "when": "2026-01-02T03:04:00Z"})
    assert refused.value.message_dict == {"count": ["This input is required."]}


# --- run_child ------------------------------------------------------------------------------


def parent_run(actor=None):
    parent = make_flow(name="parent", definition={"cards": []})
    return services.run_now(flow=parent, inputs={}, actor=actor)


def test_run_child_waited_for_runs_now_as_a_child_of_the_parent():
    starter = UserFactory()
    parent = parent_run(actor=starter)
    make_flow(name="helper")

    child = services.run_child(
        parent=parent,
        flow_name="helper",
        inputs={"count": 4, "when": "2026-01-02T03:04:00Z"},
        wait=True,
    )

    assert child.status == RunStatus.SUCCEEDED and child.output == 4
    assert (child.parent, child.root_id, child.depth) == (parent, parent.pk, 1)
    assert (child.trigger, child.trigger_ref) == (Trigger.CHILD, f"flow_run:{parent.pk}")
    assert child.started_by == starter  # the tree acts for whoever started its root


def test_run_child_not_waited_for_is_queued_after_commit(django_capture_on_commit_callbacks):
    parent = parent_run()
    make_flow(name="helper")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        child = services.run_child(
            parent=parent,
            flow_name="helper",
            inputs={"count": 1, "when": "2026-01-02T03:04:00Z"},
            wait=False,
        )

    assert FlowRun.objects.get(pk=child.pk).status == RunStatus.QUEUED
    assert len(callbacks) == 1
    callbacks[0]()  # the inline queue executes it
    assert FlowRun.objects.get(pk=child.pk).status == RunStatus.SUCCEEDED


def test_run_child_refuses_an_unknown_flow_or_bad_inputs_as_a_card_error():
    parent = parent_run()
    make_flow(name="helper")

    with pytest.raises(CardError, match="no flow named 'nowhere'"):
        services.run_child(parent=parent, flow_name="nowhere", inputs={}, wait=True)
    with pytest.raises(CardError) as bad:
        services.run_child(parent=parent, flow_name="helper", inputs={"count": "x"}, wait=True)

    assert str(bad.value).startswith("helper flow 'helper': ")
    assert "This input is required." in str(bad.value)
    assert FlowRun.objects.filter(parent=parent).count() == 0


def test_run_child_refuses_a_disabled_helper():
    parent = parent_run()
    make_flow(name="helper", enabled=False)
    with pytest.raises(CardError, match="is disabled"):
        services.run_child(parent=parent, flow_name="helper", inputs={}, wait=True)


# --- run_again ------------------------------------------------------------------------------


def test_run_again_queues_the_same_inputs_on_the_current_version():
    flow = make_flow()
    first = services.run_now(flow=flow, inputs={"count": 2, "when": "2026-01-02T03:04:00Z"})
    services.flow_save_definition(
        flow=flow, actor=None, definition={**TYPED, "output": "{{ a.n * 10 }}"}
    )
    admin = UserFactory(is_staff=True, is_superuser=True)

    again = services.run_again(run=first, actor=admin)

    assert again.pk != first.pk and again.status == RunStatus.QUEUED
    stored = FlowRun.objects.in_bulk([first.pk, again.pk])
    assert stored[again.pk].inputs == stored[first.pk].inputs and again.version.number == 2
    assert (again.trigger, again.trigger_ref, again.started_by) == (
        Trigger.RERUN,
        f"flow_run:{first.pk}",
        admin,
    )
    event = SystemLogEvent.objects.get(event_type="flows.run.queued")
    assert event.actor == admin and event.data["run_id"] == again.pk


def test_run_again_of_a_disabled_flow_is_refused_and_writes_nothing():
    flow = make_flow()
    first = services.run_now(flow=flow, inputs={"count": 2, "when": "2026-01-02T03:04:00Z"})
    services.flow_update(flow=flow, actor=None, enabled=False)

    with pytest.raises(ValidationError, match="disabled"):
        services.run_again(run=first, actor=UserFactory())

    assert FlowRun.objects.count() == 1
    assert not SystemLogEvent.objects.filter(event_type="flows.run.queued").exists()

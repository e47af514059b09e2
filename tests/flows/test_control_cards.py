"""Control cards not covered elsewhere: continue if, wait, async helper calls, map over a
helper flow, else-if chains, and their bad inputs."""

import pytest

from apps.flows import services
from apps.flows.models import FlowRun, RunStatus, Trigger

pytestmark = pytest.mark.django_db


def flow(name, cards, inputs=(), output=None):
    definition = {"inputs": list(inputs), "cards": list(cards)}
    if output is not None:
        definition["output"] = output
    return services.flow_create(actor=None, name=name, definition=definition)


def test_continue_if_false_ends_the_run_successfully_without_the_rest():
    f = flow(
        "gate",
        [
            {
                "id": "gate",
                "card": "control.continue_if",
                "inputs": {"condition": "{{ inputs.go }}"},
            },
            {"id": "after", "card": "control.assign", "inputs": {"ran": True}},
        ],
        inputs=[{"name": "go", "type": "boolean"}],
        output="{{ after.ran }}",
    )

    stopped = services.run_now(flow=f, inputs={"go": False})
    assert stopped.status == RunStatus.SUCCEEDED and stopped.output is None
    assert list(stopped.card_runs.values_list("card_id", flat=True)) == ["gate"]
    went_on = services.run_now(flow=f, inputs={"go": "true"})
    assert went_on.output is True


def test_wait_refuses_long_pauses():
    f = flow("sleepy", [{"id": "nap", "card": "control.wait", "inputs": {"seconds": 31}}])
    result = services.run_now(flow=f, inputs={})
    assert result.status == RunStatus.FAILED
    assert result.error_card == "nap" and "between 0 and 30" in result.error


def test_else_if_chain_takes_the_first_true_branch():
    f = flow(
        "grade",
        [
            {
                "id": "pick",
                "card": "control.if",
                "branches": [
                    {
                        "condition": "{{ inputs.score >= 90 }}",
                        "cards": [{"id": "a", "card": "control.assign", "inputs": {"grade": "A"}}],
                    },
                    {
                        "condition": "{{ inputs.score >= 50 }}",
                        "cards": [{"id": "b", "card": "control.assign", "inputs": {"grade": "B"}}],
                    },
                ],
                "else": [{"id": "c", "card": "control.assign", "inputs": {"grade": "C"}}],
            },
        ],
        inputs=[{"name": "score", "type": "number"}],
        output="{{ pick.branch }}",
    )
    assert services.run_now(flow=f, inputs={"score": 95}).output == 1
    assert services.run_now(flow=f, inputs={"score": 60}).output == 2
    assert services.run_now(flow=f, inputs={"score": 10}).output == "else"


def test_for_each_can_map_items_through_a_helper_flow():
    flow(
        "square",
        [
            {
                "id": "r",
                "card": "control.return",
                "inputs": {"value": "{{ inputs.item * inputs.item }}"},
            }
        ],
        inputs=[{"name": "item", "type": "number"}, {"name": "index", "type": "number"}],
    )
    main = flow(
        "map",
        [
            {
                "id": "each",
                "card": "control.for_each",
                "inputs": {"items": [1, 2, 3], "flow": "square"},
            }
        ],
        output="{{ each.results }}",
    )
    result = services.run_now(flow=main, inputs={})
    assert result.status == RunStatus.SUCCEEDED, result.error
    assert result.output == [1, 4, 9]
    assert FlowRun.objects.filter(parent=result, trigger=Trigger.CHILD).count() == 3


def test_call_flow_async_queues_a_child_and_goes_on(django_capture_on_commit_callbacks):
    flow("later", [{"id": "x", "card": "control.assign", "inputs": {"done": True}}])
    main = flow(
        "fire",
        [
            {"id": "go", "card": "control.call_flow_async", "inputs": {"flow": "later"}},
        ],
        output="{{ go.run_id }}",
    )

    with django_capture_on_commit_callbacks(execute=True):
        result = services.run_now(flow=main, inputs={})

    assert result.status == RunStatus.SUCCEEDED
    child = FlowRun.objects.get(pk=result.output)
    assert child.parent_id == result.pk and child.depth == 1
    assert child.status == RunStatus.SUCCEEDED  # the test queue runs it inline after commit


def test_calling_a_missing_helper_flow_fails_the_card():
    main = flow("lost", [{"id": "call", "card": "control.call_flow", "inputs": {"flow": "nope"}}])
    result = services.run_now(flow=main, inputs={})
    assert result.status == RunStatus.FAILED
    assert result.error_card == "call" and "no flow named 'nope'" in result.error

"""Limits with clear failures, error policies, the run state machine, a real queue worker."""

import pytest
from django.core.exceptions import ValidationError

from apps.core.statemachine import IllegalTransition
from apps.flows import services
from apps.flows.models import RUN_LIFECYCLE, Flow, FlowRun, RunStatus, Trigger
from tests.queue import wait_for

pytestmark = pytest.mark.django_db


def flow(name="F", cards=(), inputs=(), output=None, **fields):
    definition = {"inputs": list(inputs), "cards": list(cards)}
    if output is not None:
        definition["output"] = output
    return services.flow_create(actor=None, name=name, definition=definition, **fields)


def loop_of(count):
    return [
        {
            "id": "loop",
            "card": "control.for_each",
            "inputs": {"items": f"{{{{ range({count}) | list }}}}"},
            "do": [{"id": "step", "card": "control.assign", "inputs": {"n": "{{ item }}"}}],
        },
    ]


def test_a_run_past_the_card_limit_fails_saying_so(settings):
    settings.FLOWS_LIMITS = {"max_cards": 50}
    result = services.run_now(flow=flow(cards=loop_of(100)), inputs={})
    assert result.status == RunStatus.FAILED
    assert "more than 50 cards (limit)" in result.error
    assert result.cards_executed == 51


def test_a_run_past_its_time_limit_fails_saying_so(settings):
    settings.FLOWS_LIMITS = {"max_seconds": 0.2}
    cards = [{"id": f"w{n}", "card": "control.wait", "inputs": {"seconds": 0.15}} for n in range(3)]
    result = services.run_now(flow=flow(cards=cards), inputs={})
    assert result.status == RunStatus.FAILED
    assert "longer than" in result.error and "(limit)" in result.error
    assert result.error_card == "w2"


def test_helper_flows_nested_too_deep_fail_saying_so(settings):
    settings.FLOWS_LIMITS = {"max_depth": 2}
    flow(
        name="recurse",
        inputs=[{"name": "n", "type": "number"}],
        cards=[
            {
                "id": "again",
                "card": "control.call_flow",
                "inputs": {"flow": "recurse", "inputs": {"n": "{{ inputs.n + 1 }}"}},
            },
        ],
    )
    result = services.run_now(flow=get_flow("recurse"), inputs={"n": 0})
    assert result.status == RunStatus.FAILED
    assert "nested more than 2 deep (limit)" in result.error
    assert FlowRun.objects.filter(depth=2).exists() and not FlowRun.objects.filter(depth=3).exists()


def get_flow(name):
    return Flow.objects.get(name=name)


def test_outputs_over_the_payload_limit_fail_the_card(settings):
    settings.FLOWS_LIMITS = {"max_payload_bytes": 1000}
    result = services.run_now(
        flow=flow(cards=[{"id": "big", "card": "control.assign", "inputs": {"text": "x" * 2000}}]),
        inputs={},
    )
    assert result.status == RunStatus.FAILED
    assert result.error_card == "big" and "over the 1000 limit" in result.error


def test_continue_policy_records_the_error_and_goes_on():
    result = services.run_now(
        flow=flow(
            cards=[
                {
                    "id": "bad",
                    "card": "control.fail",
                    "inputs": {"message": "nope"},
                    "on_error": {"policy": "continue"},
                },
                {"id": "after", "card": "control.assign", "inputs": {"seen": "{{ bad.error }}"}},
            ],
            output="{{ after.seen }}",
        ),
        inputs={},
    )
    assert result.status == RunStatus.SUCCEEDED
    assert result.output == "nope"
    assert list(result.card_runs.values_list("card_id", "succeeded")) == [
        ("bad", False),
        ("after", True),
    ]


def test_typed_inputs_are_checked_when_a_run_starts():
    f = flow(inputs=[{"name": "count", "type": "number"}, {"name": "when", "type": "datetime"}])
    with pytest.raises(ValidationError) as refused:
        services.run_enqueue(
            flow=f, inputs={"count": "many", "when": "2026-01-01T10:00:00Z"}, trigger=Trigger.MANUAL
        )
    assert set(refused.value.message_dict) == {"count"}
    assert not FlowRun.objects.exists()
    run = services.run_enqueue(
        flow=f, inputs={"count": "3", "when": "2026-01-01T10:00:00Z"}, trigger=Trigger.MANUAL
    )
    assert run.inputs["count"] == 3


# Written out by hand so that a change to the run lifecycle has to change this test too.
RUN_MOVES = [
    ("start", "queued", "running"),
    ("succeed", "running", "succeeded"),
    ("fail", "queued", "failed"),
    ("fail", "running", "failed"),
    ("cancel", "queued", "canceled"),
    ("cancel", "running", "canceled"),
    ("requeue", "running", "queued"),  # its worker was lost in idempotent cards
]
_ALLOWED = {(verb, source) for verb, source, _ in RUN_MOVES}
REFUSED_RUN_MOVES = [
    (verb, status)
    for verb in ("start", "succeed", "fail", "cancel", "requeue")
    for status in ("queued", "running", "succeeded", "failed", "canceled")
    if (verb, status) not in _ALLOWED
]


def test_run_lifecycle_table_holds_exactly_the_documented_moves():
    table = {
        (verb, source, target)
        for verb, (sources, target) in RUN_LIFECYCLE.moves.items()
        for source in sources
    }
    assert table == set(RUN_MOVES)
    assert set(RunStatus.values) == {"queued", "running", "succeeded", "failed", "canceled"}
    assert len(REFUSED_RUN_MOVES) == 5 * 5 - 7


@pytest.mark.parametrize(("verb", "source", "target"), RUN_MOVES)
def test_run_lifecycle_allowed_move(verb, source, target):
    assert RUN_LIFECYCLE.target(verb, source) == target


@pytest.mark.parametrize(("verb", "source"), REFUSED_RUN_MOVES)
def test_run_lifecycle_refused_move(verb, source):
    with pytest.raises(IllegalTransition):
        RUN_LIFECYCLE.target(verb, source)


def test_executing_a_run_twice_runs_it_once():
    f = flow(cards=[{"id": "a", "card": "control.assign", "inputs": {"x": 1}}])
    run = services.run_enqueue(flow=f, inputs={}, trigger=Trigger.MANUAL)
    services.execute(run)
    again = services.execute(run)
    assert again.status == RunStatus.SUCCEEDED
    assert again.card_runs.count() == 1


def test_a_canceled_run_is_not_executed():
    f = flow(cards=[{"id": "a", "card": "control.assign", "inputs": {"x": 1}}])
    run = services.run_enqueue(flow=f, inputs={}, trigger=Trigger.MANUAL)
    services.run_cancel(run=run, actor=None)
    assert services.execute(run).status == RunStatus.CANCELED
    with pytest.raises(IllegalTransition):
        services.run_cancel(run=run, actor=None)


def test_a_new_version_leaves_a_queued_run_on_its_own_version():
    f = flow(cards=[{"id": "a", "card": "control.assign", "inputs": {"x": 1}}], output="{{ a.x }}")
    run = services.run_enqueue(flow=f, inputs={}, trigger=Trigger.MANUAL)
    services.flow_save_definition(
        flow=f,
        actor=None,
        definition={
            "inputs": [],
            "cards": [{"id": "a", "card": "control.assign", "inputs": {"x": 2}}],
            "output": "{{ a.x }}",
        },
    )
    assert services.execute(run).output == 1
    assert services.run_now(flow=get_flow("F"), inputs={}).output == 2


@pytest.mark.queue
@pytest.mark.django_db(transaction=True)  # the worker process sees only committed rows
@pytest.mark.parametrize("broker", ["queue_cluster", "redis_queue_cluster"])
def test_a_real_worker_executes_a_queued_run(broker, request):
    request.getfixturevalue(broker)
    f = flow(
        cards=[{"id": "a", "card": "control.assign", "inputs": {"x": 41}}], output="{{ a.x + 1 }}"
    )
    run = services.run_enqueue(flow=f, inputs={}, trigger=Trigger.MANUAL)

    wait_for(
        lambda: FlowRun.objects.get(pk=run.pk).status == RunStatus.SUCCEEDED,
        what="the worker to execute the run",
    )
    assert FlowRun.objects.get(pk=run.pk).output == 42


def test_secret_looking_inputs_are_not_kept_in_the_history():
    f = flow(
        cards=[
            {
                "id": "a",
                "card": "control.assign",
                "inputs": {
                    "headers": {"Authorization": "Bearer s3cret", "Accept": "application/json"},
                    "api_key": "k",
                    "note": "fine",
                },
            }
        ],
        output="{{ a.headers.Authorization }}",
    )
    result = services.run_now(flow=f, inputs={})
    assert result.output == "Bearer s3cret"  # the card itself saw the real value
    recorded = result.card_runs.get().inputs
    assert recorded == {
        "headers": {"Authorization": "***", "Accept": "application/json"},
        "api_key": "***",
        "note": "fine",
    }


def test_retries_stop_at_the_run_time_limit(settings):
    settings.FLOWS_LIMITS = {"max_seconds": 0.5}
    from apps.flows.errors import TransientCardError
    from apps.flows.registry import REGISTRY, CardType

    calls = []

    def flaky(context):
        calls.append(1)
        raise TransientCardError("service unavailable")

    REGISTRY["test.flaky"] = CardType(key="test.flaky", title="Flaky", category="Test", func=flaky)
    try:
        f = flow(
            cards=[
                {
                    "id": "x",
                    "card": "test.flaky",
                    "on_error": {"policy": "retry", "retries": 10, "backoff_seconds": 0.2},
                }
            ]
        )
        result = services.run_now(flow=f, inputs={})
    finally:
        del REGISTRY["test.flaky"]
    assert result.status == RunStatus.FAILED and result.error == "service unavailable"
    assert 1 < len(calls) < 10

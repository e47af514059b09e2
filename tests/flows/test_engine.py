"""The engine: references keep types, blocks, errors, history, limits, child flows."""

import pytest
from django.core.exceptions import ValidationError

from apps.audit.models import SystemLogEvent
from apps.flows import services
from apps.flows.models import CardRun, FlowRun, RunStatus

pytestmark = pytest.mark.django_db


def flow(name="F", cards=(), inputs=(), output=None, **fields):
    definition = {"inputs": list(inputs), "cards": list(cards)}
    if output is not None:
        definition["output"] = output
    return services.flow_create(actor=None, name=name, definition=definition, **fields)


def run(f, **inputs):
    return services.run_now(flow=f, inputs=inputs)


def test_a_reference_to_a_single_expression_keeps_its_type():
    f = flow(
        inputs=[{"name": "n", "type": "number"}],
        cards=[
            {
                "id": "a",
                "card": "control.assign",
                "inputs": {
                    "double": "{{ inputs.n * 2 }}",
                    "text": "n is {{ inputs.n }}",
                    "items": ["{{ inputs.n }}", 2],
                },
            }
        ],
        output="{{ a }}",
    )
    result = run(f, n="21")
    assert result.status == RunStatus.SUCCEEDED, result.error
    assert result.output == {"double": 42, "text": "n is 21", "items": [21, 2]}


def test_branches_loops_and_try_catch():
    f = flow(
        inputs=[{"name": "xs", "type": "list"}],
        cards=[
            {
                "id": "loop",
                "card": "control.for_each",
                "inputs": {"items": "{{ inputs.xs }}"},
                "do": [
                    {
                        "id": "pick",
                        "card": "control.if",
                        "branches": [
                            {
                                "condition": "{{ item > 1 }}",
                                "cards": [
                                    {
                                        "id": "big",
                                        "card": "control.assign",
                                        "inputs": {"v": "{{ item * 10 }}"},
                                    }
                                ],
                            }
                        ],
                        "else": [{"id": "small", "card": "control.assign", "inputs": {"v": 0}}],
                    },
                ],
                "collect": "{{ big.v if item > 1 else small.v }}",
            },
            {
                "id": "guard",
                "card": "control.try",
                "try": [{"id": "boom", "card": "control.fail", "inputs": {"message": "no luck"}}],
                "catch": [
                    {
                        "id": "caught",
                        "card": "control.assign",
                        "inputs": {"why": "{{ error.message }}"},
                    }
                ],
            },
        ],
        output={"results": "{{ loop.results }}", "why": "{{ caught.why }}"},
    )
    result = run(f, xs=[1, 2, 3])
    assert result.status == RunStatus.SUCCEEDED, result.error
    assert result.output == {"results": [0, 20, 30], "why": "no luck"}
    history = list(result.card_runs.values_list("card_id", "succeeded"))
    assert ("boom", False) in history
    assert history.index(("guard", True)) < history.index(("boom", False))  # block first


def test_a_failing_card_fails_the_run_naming_the_card_and_logs_an_event():
    f = flow(
        cards=[
            {"id": "ok", "card": "control.assign", "inputs": {"a": 1}},
            {"id": "bad", "card": "control.fail", "inputs": {"message": "broken on purpose"}},
            {"id": "never", "card": "control.assign", "inputs": {"b": 2}},
        ]
    )
    result = run(f)
    assert result.status == RunStatus.FAILED
    assert result.error_card == "bad" and result.error == "broken on purpose"
    assert list(result.card_runs.values_list("card_id", flat=True)) == ["ok", "bad"]
    event = SystemLogEvent.objects.get(event_type="flows.run.failed")
    assert event.data["card"] == "bad"


def test_history_off_keeps_only_the_run():
    f = flow(cards=[{"id": "a", "card": "control.assign", "inputs": {"x": 1}}], save_history=False)
    result = run(f)
    assert result.status == RunStatus.SUCCEEDED
    assert not CardRun.objects.filter(run=result).exists()
    assert result.cards_executed == 1


def test_helper_flow_called_and_waited_for():
    flow(
        name="double",
        inputs=[{"name": "x", "type": "number"}],
        cards=[{"id": "r", "card": "control.return", "inputs": {"value": "{{ inputs.x * 2 }}"}}],
    )
    main = flow(
        name="main",
        cards=[
            {
                "id": "call",
                "card": "control.call_flow",
                "inputs": {"flow": "double", "inputs": {"x": 4}},
            },
        ],
        output="{{ call.output }}",
    )
    result = run(main)
    assert result.status == RunStatus.SUCCEEDED, result.error
    assert result.output == 8
    child = FlowRun.objects.get(parent=result)
    assert child.depth == 1 and child.status == RunStatus.SUCCEEDED


def test_a_definition_with_a_later_reference_is_refused():
    with pytest.raises(ValidationError) as refused:
        flow(
            cards=[
                {"id": "a", "card": "control.assign", "inputs": {"x": "{{ b.y }}"}},
                {"id": "b", "card": "control.assign", "inputs": {"y": 1}},
                {"id": "c", "card": "nope.card"},
            ]
        )
    text = " ".join(refused.value.messages)
    assert "refers to 'b'" in text and "unknown card 'nope.card'" in text

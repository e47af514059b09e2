"""One expression cannot exhaust the worker's memory or run past the run's time limit.

Every refusal fails the run naming the card and the limit. None of these tests allocates more
than a few megabytes: the checks happen before the big value would be built.
"""

import time

import pytest

from apps.flows import services
from apps.flows.models import RunStatus

pytestmark = pytest.mark.django_db


def run_with(value, name="F", **limits):
    definition = {"cards": [{"id": "greedy", "card": "control.assign", "inputs": {"v": value}}]}
    flow = services.flow_create(actor=None, name=name, definition=definition)
    started = time.monotonic()
    run = services.run_now(flow=flow, inputs={})
    return run, time.monotonic() - started


def refused(value, **limits):
    run, elapsed = run_with(value, **limits)
    assert run.status == RunStatus.FAILED, run.output
    assert run.error_card == "greedy"
    assert "internal error" not in run.error
    assert elapsed < 5
    return run.error


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("{{ 'a' * 3 * 10**8 }}", "the repeated value would be 300000000 long"),
        ("{{ [0] * 10**7 }}", "the repeated value would be 10000000 long"),
        ("{{ 10**8 * 'ab' }}", "the repeated value would be 200000000 long"),
        ("{{ 9**(9**8) }}", "the power is over 10000 bits (limit)"),
        ("{{ 10**3000 * 10**3000 }}", "the product is over 10000 bits (limit)"),
        ("{{ range(10**9) }}", "has 1000000000 numbers, over the 100000 limit"),
        ("{{ 'a' | center(10**9) }}", "the center filter would be"),
        ("{{ 'a'.ljust(10**9) }}", "ljust() would be 1000000000 long"),
        ("{{ '%0999999999d' % 1 }}", "a format with a width or precision of a million"),
        ("{{ '{:>999999999}'.format(1) }}", "a format with a width or precision of a million"),
        ("{{ ('a' * 100000).replace('a', 'a' * 1000) }}", "replace() would be"),
        ("{{ ('a' * 100000) | replace('a', 'a' * 1000) }}", "replace() would be"),
        ("{{ '%*d' % (10**9, 1) }}", "the formatted text would be 1000000000 long"),
        ("{{ '{:{w}}'.format(1, w=10**9) }}", "or one taken from an argument, is refused"),
        ("{{ '%.99999999f' | format(1) }}", "a format with a width or precision of a million"),
    ],
)
def test_an_expression_that_would_blow_up_is_refused_before_it_runs(expression, says):
    error = refused(expression)
    assert says in error, error
    assert error.startswith(("in '{{", 'in "{{'))  # names the expression too


def test_text_rendered_past_its_length_limit_stops_there():
    error = refused("{% for i in range(100000) %}{{ 'xxxxxxxxxxxxxxxxxxxx' }}{% endfor %}")
    assert "the text is over 1000000 characters (limit)" in error


def test_a_single_expression_result_is_bounded_too():
    error = refused("{{ 'ab' * 400000 ~ 'ab' * 400000 }}")
    assert "the value would be 1600000 long, over the 1000000 limit" in error


def test_a_card_looping_past_the_run_time_limit_is_stopped_inside_the_card(settings):
    settings.FLOWS_LIMITS = {"max_seconds": 0.5}
    error = refused(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    )
    assert "the run took longer than 0.5 s (limit)" in error


def test_a_loop_that_reaches_no_check_is_stopped_at_the_run_time_limit(settings):
    settings.FLOWS_LIMITS = {"max_seconds": 0.3}
    definition = {
        "inputs": [{"name": "xs", "type": "list"}],
        "cards": [
            {
                "id": "greedy",
                "card": "control.assign",
                # 10**8 rounds over a list (no range, no operator): many seconds if not stopped
                "inputs": {
                    "v": "{% for a in inputs.xs %}{% for b in inputs.xs %}{% endfor %}{% endfor %}"
                },
            }
        ],
    }
    flow = services.flow_create(actor=None, name="loops", definition=definition)
    started = time.monotonic()
    run = services.run_now(flow=flow, inputs={"xs": list(range(10_000))})
    assert time.monotonic() - started < 3
    assert run.status == RunStatus.FAILED and run.error_card == "greedy"
    assert "the run took longer than 0.3 s (limit)" in run.error


def test_a_wordwrap_that_would_multiply_the_text_is_refused():
    error = refused("{{ ('a' * 100000) | wordwrap(1, true, 'x' * 100) }}")
    assert "the wordwrap filter would be" in error


def test_card_inputs_over_the_payload_limit_fail_the_card_before_it_runs(settings):
    settings.FLOWS_LIMITS = {"max_payload_bytes": 1000}
    error = refused("{{ range(1000) | list }}")
    assert "the inputs are" in error and "over the 1000 limit" in error


def test_formats_with_long_numbers_in_their_text_still_work():
    run, _ = run_with("{{ 'order 12345678: %s' % 'ok' ~ ' / {} 1234567'.format('x') }}")
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.card_runs.get().outputs == {"v": "order 12345678: ok / x 1234567"}


def test_ordinary_expressions_still_work():
    run, _ = run_with("{{ 'ab' * 3 ~ (2 ** 10) ~ ('x' | center(5)) ~ range(3) | list | length }}")
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.card_runs.get().outputs == {"v": "ababab1024  x  3"}

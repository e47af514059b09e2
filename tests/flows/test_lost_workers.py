"""A run whose worker died is taken up again or failed, never left running, never done twice.

Runs hold a lease their worker renews; before a card that is not idempotent the engine writes
that it is entering it. A run found with its lease lapsed (by its redelivered task or by the
sweep) starts again if it was only in idempotent cards, else ends failed saying where.
"""

import os
import signal
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.models import SystemLogEvent
from apps.flows import services
from apps.flows.errors import CardError
from apps.flows.models import CardRun, FlowRun, FlowTable, FlowTableRow, RunStatus, Trigger
from apps.flows.registry import REGISTRY, CardType
from tests.queue import _start_cluster, _stop_cluster, wait_for

SIDE_EFFECT_FLOW = {
    "inputs": [{"name": "n", "type": "number"}],
    "cards": [
        {"id": "think", "card": "control.wait", "inputs": {"seconds": 0.1}},
        {
            "id": "append",
            "card": "table.create_row",
            "inputs": {"table": "effects", "values": {"n": "{{ inputs.n }}"}},
        },
        {"id": "settle", "card": "control.wait", "inputs": {"seconds": 0.4}},
    ],
    "output": "{{ append.row.n }}",
}


def effects_flow():
    FlowTable.objects.create(name="effects")
    return services.flow_create(actor=None, name="effects", definition=SIDE_EFFECT_FLOW)


def lose_worker(run, **fields):
    """What a killed worker leaves behind: the run running, its lease lapsed."""
    lost = {
        "status": RunStatus.RUNNING,
        "started_at": timezone.now() - timedelta(minutes=5),
        "lease_expires_at": timezone.now() - timedelta(seconds=1),
        "claims": 1,
    }
    FlowRun.objects.filter(pk=run.pk).update(**{**lost, **fields})
    return FlowRun.objects.get(pk=run.pk)


def failed_events(run):
    return SystemLogEvent.objects.filter(event_type="flows.run.failed", target_id=str(run.pk))


# --- A real cluster killed mid-run ----------------------------------------------------------


@pytest.mark.queue
@pytest.mark.django_db(transaction=True)  # the worker processes see only committed rows
def test_a_cluster_killed_mid_run_loses_no_run_and_repeats_no_side_effect(monkeypatch):
    from django_q.conf import Conf

    quick = {"Q_WORKERS": "2", "Q_TIMEOUT": "3", "Q_RETRY": "4", "FLOWS_LEASE_SECONDS": "2"}
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setenv("FLOWS_LEASE_SECONDS", "2")
    flow = effects_flow()
    total = 24
    cluster = _start_cluster(quick)
    try:
        runs = [
            services.run_enqueue(flow=flow, inputs={"n": n}, trigger=Trigger.MANUAL)
            for n in range(total)
        ]
        wait_for(
            lambda: (
                FlowRun.objects.filter(status=RunStatus.SUCCEEDED).count() >= 4
                and FlowRun.objects.filter(status=RunStatus.RUNNING).exists()
            ),
            what="the cluster to be in the middle of the runs",
        )
    finally:
        os.killpg(cluster.pid, signal.SIGKILL)  # the whole cluster, without a chance to clean up
        cluster.wait()
    interrupted = set(FlowRun.objects.filter(status=RunStatus.RUNNING).values_list("pk", flat=True))
    assert interrupted, "the kill landed between runs: nothing was interrupted"

    with pytest.MonkeyPatch.context() as settings_patch:
        from django.conf import settings

        settings_patch.setattr(settings, "FLOWS_LIMITS", {"lease_seconds": 2})
        fresh = _start_cluster(quick)
        try:
            deadline = time.monotonic() + 25
            while FlowRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).exists():
                assert time.monotonic() < deadline, "runs still queued or running after 25 s"
                services.take_up_lost_runs()  # what the recurring sweep does every minute
                time.sleep(0.5)
        finally:
            _stop_cluster(fresh)

    statuses = dict(FlowRun.objects.values_list("pk", "status"))
    assert len(statuses) == total  # nothing started twice as a new run
    assert set(statuses.values()) <= {RunStatus.SUCCEEDED, RunStatus.FAILED}
    done_by = {}
    for n in FlowTableRow.objects.values_list("data__n", flat=True):
        assert n not in done_by, f"the side effect of run n={n} happened twice"
        done_by[n] = True
    by_n = {run.inputs["n"]: run for run in FlowRun.objects.filter(pk__in=[r.pk for r in runs])}
    succeeded = [run for run in by_n.values() if run.status == RunStatus.SUCCEEDED]
    failed = [run for run in by_n.values() if run.status == RunStatus.FAILED]
    assert all(run.inputs["n"] in done_by and run.output == run.inputs["n"] for run in succeeded)
    assert len(succeeded) + len(failed) == total
    assert len(done_by) == len(succeeded) + sum(run.inputs["n"] in done_by for run in failed)
    for run in failed:  # only interrupted runs fail, each saying why, each with its event
        assert run.pk in interrupted
        assert run.error.startswith("worker lost during card"), run.error
        assert failed_events(run).get().data["reason"] == "worker_lost"
    taken_up_again = [run for run in succeeded if run.pk in interrupted]
    assert all(run.claims == 2 for run in taken_up_again)  # executed twice, from the start
    assert len(taken_up_again) + len(failed) == len(interrupted)


# --- Taking up a lost run -------------------------------------------------------------------


@pytest.mark.django_db
def test_a_run_lost_in_idempotent_cards_is_run_again_by_its_redelivered_task():
    flow = effects_flow()
    run = lose_worker(services.run_enqueue(flow=flow, inputs={"n": 1}, trigger=Trigger.MANUAL))
    FlowRun.objects.filter(pk=run.pk).update(current_card="think")

    again = services.execute(run)

    assert again.status == RunStatus.SUCCEEDED and again.output == 1
    assert again.claims == 2
    assert FlowTableRow.objects.count() == 1
    assert not failed_events(run).exists()


@pytest.mark.django_db
def test_a_run_lost_in_a_card_that_is_not_idempotent_is_failed_never_done_twice():
    flow = effects_flow()
    run = services.run_enqueue(flow=flow, inputs={"n": 1}, trigger=Trigger.MANUAL)
    run = lose_worker(run, current_card="append", side_effect_card="append")

    result = services.execute(run)

    assert result.status == RunStatus.FAILED
    assert result.error == (
        "worker lost during card 'append' (not idempotent, so the run is not run again)"
    )
    assert result.error_card == "append"
    assert FlowTableRow.objects.count() == 0  # the card was not run again
    event = failed_events(run).get()
    assert event.data["reason"] == "worker_lost" and event.data["card"] == "append"


@pytest.mark.django_db
def test_a_run_whose_lease_still_holds_is_left_to_its_worker():
    flow = effects_flow()
    run = services.run_enqueue(flow=flow, inputs={"n": 1}, trigger=Trigger.MANUAL)
    run = lose_worker(run)
    FlowRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() + timedelta(minutes=1))

    assert services.execute(run).status == RunStatus.RUNNING
    assert services.take_up_lost_runs() == {"queued_again": 0, "failed": 0}
    assert FlowTableRow.objects.count() == 0


@pytest.mark.django_db
def test_the_sweep_queues_again_or_fails_every_lost_run(django_capture_on_commit_callbacks):
    flow = effects_flow()
    clean = lose_worker(services.run_enqueue(flow=flow, inputs={"n": 1}, trigger=Trigger.MANUAL))
    dirty = lose_worker(
        services.run_enqueue(flow=flow, inputs={"n": 2}, trigger=Trigger.MANUAL),
        current_card="settle",
        side_effect_card="append",
    )
    # From before leases: running for longer than any run may, with no lease at all.
    legacy = lose_worker(
        services.run_enqueue(flow=flow, inputs={"n": 3}, trigger=Trigger.MANUAL),
        lease_expires_at=None,
        started_at=timezone.now() - timedelta(hours=1),
    )

    with django_capture_on_commit_callbacks(execute=True):  # then the inline queue runs them
        counts = services.take_up_lost_runs()

    assert counts == {"queued_again": 2, "failed": 1}
    clean.refresh_from_db()
    dirty.refresh_from_db()
    legacy.refresh_from_db()
    assert clean.status == RunStatus.SUCCEEDED and legacy.status == RunStatus.SUCCEEDED
    assert dirty.status == RunStatus.FAILED
    assert dirty.error == (
        "worker lost during card 'settle', after 'append' (not idempotent, so the run is not "
        "run again)"
    )
    assert sorted(FlowTableRow.objects.values_list("data__n", flat=True)) == [1, 3]


def test_the_sweep_is_a_recurring_schedule():
    from apps.core.schedules import RECURRING

    assert any(r.func == "apps.flows.tasks.take_up_lost_runs" and r.minutes == 1 for r in RECURRING)


@pytest.mark.django_db
def test_a_run_lost_too_many_times_is_failed(settings):
    settings.FLOWS_LIMITS = {"max_claims": 3}
    flow = effects_flow()
    run = lose_worker(services.run_enqueue(flow=flow, inputs={"n": 1}, trigger=Trigger.MANUAL))
    FlowRun.objects.filter(pk=run.pk).update(claims=3, current_card="think")

    result = services.execute(run)

    assert result.status == RunStatus.FAILED
    assert result.error == "worker lost 3 times (last during card 'think'): not taken up again"
    assert FlowTableRow.objects.count() == 0


# --- The worker side of the lease -----------------------------------------------------------


def lease_writes(queries):
    return [
        q["sql"]
        for q in queries
        if q["sql"].startswith("UPDATE") and "flows_flowrun" in q["sql"] and "lease" in q["sql"]
    ]


@pytest.mark.django_db
def test_the_lease_is_renewed_every_few_seconds_not_once_per_card():
    cards = [{"id": f"c{n}", "card": "control.assign", "inputs": {"n": n}} for n in range(300)]
    flow = services.flow_create(actor=None, name="long", definition={"cards": cards})
    with CaptureQueriesContext(connection) as queries:
        run = services.run_now(flow=flow, inputs={})
    assert run.status == RunStatus.SUCCEEDED
    assert len(lease_writes(queries.captured_queries)) == 2  # taken, then finished


@pytest.mark.django_db
def test_the_engine_says_which_card_it_enters_before_a_side_effect():
    flow = effects_flow()
    seen = {}

    def spy(context):
        seen.update(FlowRun.objects.filter(pk=context.run.pk).values("side_effect_card").get())
        return {}

    REGISTRY["test.spy"] = CardType(key="test.spy", title="Spy", category="Test", func=spy)
    try:
        definition = {"cards": [{"id": "look", "card": "test.spy"}]}
        spied = services.flow_create(actor=None, name="spied", definition=definition)
        assert services.run_now(flow=spied, inputs={}).status == RunStatus.SUCCEEDED
    finally:
        del REGISTRY["test.spy"]
    assert seen == {"side_effect_card": "look"}  # not idempotent unless declared so
    run = FlowRun.objects.get(pk=services.run_now(flow=flow, inputs={"n": 5}).pk)
    assert run.side_effect_card == "append" and run.lease_expires_at is None


@pytest.mark.django_db
def test_a_worker_whose_run_was_taken_up_elsewhere_stops_before_the_side_effect():
    effects_flow()

    def taken_elsewhere(context):
        FlowRun.objects.filter(pk=context.run.pk).update(claims=9)  # another worker took it
        return {}

    REGISTRY["test.taken"] = CardType(
        key="test.taken", title="Taken", category="Test", func=taken_elsewhere, idempotent=True
    )
    try:
        definition = {
            "cards": [
                {"id": "meanwhile", "card": "test.taken"},
                *SIDE_EFFECT_FLOW["cards"][1:2],
            ],
        }
        definition["inputs"] = SIDE_EFFECT_FLOW["inputs"]
        taken = services.flow_create(actor=None, name="taken", definition=definition)
        run = services.run_now(flow=taken, inputs={"n": 1})
    finally:
        del REGISTRY["test.taken"]
    assert run.status == RunStatus.RUNNING and run.claims == 9  # left to whoever holds it
    assert FlowTableRow.objects.count() == 0
    assert run.card_runs.count() == 0


@pytest.mark.django_db
def test_a_run_canceled_while_running_stays_canceled_and_stops_before_a_side_effect():
    effects_flow()

    def cancel_me(context):
        services.run_cancel(run=context.run, actor=None)
        return {}

    REGISTRY["test.cancel"] = CardType(
        key="test.cancel", title="Cancel", category="Test", func=cancel_me, idempotent=True
    )
    try:
        definition = {
            "inputs": SIDE_EFFECT_FLOW["inputs"],
            "cards": [{"id": "cancel", "card": "test.cancel"}, *SIDE_EFFECT_FLOW["cards"][1:2]],
        }
        canceled = services.flow_create(actor=None, name="canceled", definition=definition)
        run = services.run_now(flow=canceled, inputs={"n": 1})
    finally:
        del REGISTRY["test.cancel"]
    assert run.status == RunStatus.CANCELED
    assert FlowTableRow.objects.count() == 0


@pytest.mark.django_db
def test_a_run_whose_result_cannot_be_saved_ends_failed_not_running(monkeypatch):
    flow = effects_flow()

    def broken(*args, **kwargs):
        raise CardError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(CardRun.objects, "bulk_create", broken)
        run = services.run_now(flow=flow, inputs={"n": 1})
    assert run.status == RunStatus.FAILED
    assert FlowRun.objects.get(pk=run.pk).status == RunStatus.FAILED
    assert "could not be saved" in run.error and "disk full" in run.error
    assert failed_events(run).exists()


def test_registry_cards_declare_whether_they_are_idempotent():
    from apps.flows import registry

    pure = [key for key, card in REGISTRY.items() if card.category in {"Text", "List"}]
    assert pure and all(registry.get(key).is_idempotent({}) for key in pure)
    for key in ("directory.read_user", "table.search_rows", "control.assign", "control.if"):
        assert registry.get(key).is_idempotent({}), key
    for key in (
        "email.send",
        "table.create_row",
        "directory.add_to_group",
        "directory.update_profile",
        "control.call_flow",
        "control.call_flow_async",
    ):
        assert not registry.get(key).is_idempotent({}), key
    http = registry.get("http.request")
    assert http.is_idempotent({"method": "GET"}) and not http.is_idempotent({"method": "POST"})


@pytest.mark.django_db
def test_a_run_stopped_by_the_queue_timeout_ends_failed_saying_so():
    from django_q.exceptions import TimeoutException

    def too_slow(context):
        raise TimeoutException("Task exceeded maximum timeout value (300 seconds)")

    REGISTRY["test.slow"] = CardType(
        key="test.slow", title="Slow", category="Test", func=too_slow, idempotent=True
    )
    try:
        definition = {"cards": [{"id": "slow", "card": "test.slow"}]}
        flow = services.flow_create(actor=None, name="slow", definition=definition)
        run = services.run_enqueue(flow=flow, inputs={}, trigger=Trigger.MANUAL)
        with pytest.raises(TimeoutException):  # the queue still hears of it
            services.execute(run)
    finally:
        del REGISTRY["test.slow"]
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.error_card == "slow"
    assert run.error.startswith("the queue's task time limit stopped the run during card 'slow'")
    assert failed_events(run).exists()


@pytest.mark.django_db
def test_a_parent_waiting_for_a_helper_keeps_its_lease(settings):
    settings.FLOWS_LIMITS = {"lease_seconds": 0.4}  # renewed every 0.1 s
    seen = {}

    def look_at_parent(context):
        parent = FlowRun.objects.get(pk=context.run.parent_id)
        seen["left"] = (parent.lease_expires_at - timezone.now()).total_seconds()
        return {}

    REGISTRY["test.look"] = CardType(
        key="test.look", title="Look", category="Test", func=look_at_parent, idempotent=True
    )
    try:
        services.flow_create(
            actor=None,
            name="slow helper",
            definition={
                "cards": [
                    {"id": "pause", "card": "control.wait", "inputs": {"seconds": 0.3}},
                    {"id": "look", "card": "test.look"},
                ]
            },
        )
        caller = services.flow_create(
            actor=None,
            name="caller",
            definition={
                "cards": [
                    {"id": "call", "card": "control.call_flow", "inputs": {"flow": "slow helper"}}
                ]
            },
        )
        run = services.run_now(flow=caller, inputs={})
    finally:
        del REGISTRY["test.look"]
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert seen["left"] > 0.2  # renewed by the helper's renewal, not left from the start

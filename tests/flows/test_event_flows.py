"""Event flows: a committed system log event starts each subscribed flow, once."""

import threading

import pytest
from django.db import connection

from apps.audit import services as audit_services
from apps.audit.models import SystemLogEvent
from apps.audit.tasks import deliver_event
from apps.directory import services as directory
from apps.flows import services, subscriptions
from apps.flows.models import Flow, FlowKind, FlowRun, RunStatus, SubscriptionsVersion, Trigger
from tests.factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db

INPUTS = [
    {"name": "event", "type": "object"},
    {"name": "actor", "type": "object"},
    {"name": "target", "type": "object"},
    {"name": "data", "type": "object"},
]


def event_flow(name="On group", events=("directory.user.added_to_group",), filters=(), **fields):
    definition = {
        "trigger": {"type": "event", "events": list(events), "filters": list(filters)},
        "inputs": INPUTS,
        "cards": [
            {
                "id": "seen",
                "card": "control.assign",
                "inputs": {"group": "{{ inputs.data.group_name }}"},
            }
        ],
        "output": "{{ seen.group }}",
    }
    return services.flow_create(
        actor=None, name=name, definition=definition, kind=FlowKind.EVENT, **fields
    )


@pytest.fixture
def people():
    return UserFactory(username="boss"), UserFactory(username="ann")


def add_to(group_name, user, actor, capture):
    group = GroupFactory(name=group_name)
    with capture(execute=True):
        directory.group_add_member(group=group, user=user, actor=actor)
    return SystemLogEvent.objects.filter(event_type="directory.user.added_to_group").latest("id")


def test_an_event_starts_its_flow_with_the_event_as_typed_inputs(
    people, django_capture_on_commit_callbacks
):
    boss, ann = people
    flow = event_flow()

    event = add_to("Engineering", ann, boss, django_capture_on_commit_callbacks)

    run = FlowRun.objects.get(flow=flow)
    assert run.trigger == Trigger.EVENT and run.status == RunStatus.SUCCEEDED, run.error
    assert run.idempotency_key == f"event:{event.uuid}"
    assert run.output == "Engineering"
    assert run.inputs["actor"]["username"] == "boss"
    assert run.inputs["target"] == {
        "type": "directory.user",
        "id": str(ann.pk),
        "display": str(ann),
    }
    assert run.inputs["event"]["type"] == "directory.user.added_to_group"
    assert run.inputs["data"]["group_name"] == "Engineering"


def test_an_event_flow_gets_only_the_inputs_it_declares(people, django_capture_on_commit_callbacks):
    boss, ann = people
    definition = {
        "trigger": {"type": "event", "events": ["directory.user.added_to_group"]},
        "inputs": [{"name": "data", "type": "object"}],
        "cards": [],
    }
    flow = services.flow_create(actor=None, name="Data only", definition=definition, kind="event")

    add_to("Engineering", ann, boss, django_capture_on_commit_callbacks)

    assert set(FlowRun.objects.get(flow=flow).inputs) == {"data"}


def test_delivering_an_event_again_starts_nothing_more(people, django_capture_on_commit_callbacks):
    boss, ann = people
    flow = event_flow()
    event = add_to("Engineering", ann, boss, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        deliver_event(event.pk)  # the queue retried the fan-out task
        assert services.start_event_flows(event) == 0  # and once more, by hand

    assert FlowRun.objects.filter(flow=flow).count() == 1


def test_a_redelivery_queues_again_a_run_its_first_delivery_did_not_queue(
    people, django_capture_on_commit_callbacks, monkeypatch
):
    """The worker died between creating the run and queueing it: the retry queues it."""
    boss, ann = people
    flow = event_flow()
    group = GroupFactory(name="Engineering")
    with django_capture_on_commit_callbacks(execute=False):  # the run's queueing is lost
        directory.group_add_member(group=group, user=ann, actor=boss)
    event = SystemLogEvent.objects.get(event_type="directory.user.added_to_group")
    with django_capture_on_commit_callbacks(execute=False):
        services.start_event_flows(event)
    assert FlowRun.objects.get(flow=flow).status == RunStatus.QUEUED

    with django_capture_on_commit_callbacks(execute=True):
        assert services.start_event_flows(event) == 0

    assert FlowRun.objects.get(flow=flow).status == RunStatus.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_event_start_the_flow_once(people):
    boss, ann = people
    flow = event_flow()
    group = GroupFactory(name="Engineering")
    directory.group_add_member(group=group, user=ann, actor=boss)  # sync queue: started once
    event = SystemLogEvent.objects.get(event_type="directory.user.added_to_group")
    FlowRun.objects.filter(flow=flow).delete()  # as if no delivery had happened yet

    barrier = threading.Barrier(3)
    results, errors = [], []

    def deliver():
        try:
            barrier.wait(timeout=10)
            results.append(services.start_event_flows(event))
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(results) == [0, 0, 1]
    assert FlowRun.objects.filter(flow=flow).count() == 1


def test_wildcards_and_filters_choose_the_events(people, django_capture_on_commit_callbacks):
    boss, ann = people
    engineering = event_flow(
        "Engineering only",
        events=["directory.user.*"],
        filters=[{"path": "data.group_name", "op": "equals", "value": "Engineering"}],
    )
    any_group = event_flow("Any group", events=["directory.user.added_*"])
    departments = event_flow(
        "Departments",
        events=["directory.user.profile_updated"],
        filters=[{"path": "data.fields", "op": "contains", "value": "department"}],
    )

    add_to("Sales", ann, boss, django_capture_on_commit_callbacks)
    add_to("Engineering", ann, boss, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        directory.user_update_profile(user=ann, actor=boss, changes={"title": "Engineer"})
        directory.user_update_profile(user=ann, actor=boss, changes={"department": "R&D"})

    assert [run.output for run in FlowRun.objects.filter(flow=engineering)] == ["Engineering"]
    assert sorted(run.output for run in FlowRun.objects.filter(flow=any_group)) == [
        "Engineering",
        "Sales",
    ]
    assert FlowRun.objects.filter(flow=departments).count() == 1


def test_a_disabled_flow_is_not_started(people, django_capture_on_commit_callbacks):
    boss, ann = people
    flow = event_flow(enabled=False)
    add_to("Engineering", ann, boss, django_capture_on_commit_callbacks)
    assert not FlowRun.objects.filter(flow=flow).exists()

    services.flow_update(flow=flow, actor=None, enabled=True)
    add_to("Sales", ann, boss, django_capture_on_commit_callbacks)
    services.flow_update(flow=flow, actor=None, enabled=False)
    add_to("Finance", ann, boss, django_capture_on_commit_callbacks)

    assert [run.output for run in FlowRun.objects.filter(flow=flow)] == ["Sales"]


def test_an_event_nobody_subscribes_to_queues_no_task(
    people, django_capture_on_commit_callbacks, monkeypatch
):
    boss, ann = people
    queued = []
    monkeypatch.setattr(audit_services, "async_task", lambda *args, **kwargs: queued.append(args))
    event_flow()  # listens to added_to_group only

    with django_capture_on_commit_callbacks(execute=True):
        directory.user_update_profile(user=ann, actor=boss, changes={"title": "Engineer"})
        directory.group_create(actor=boss, name="Nobody listens")
    assert queued == []

    add_to("Engineering", ann, boss, django_capture_on_commit_callbacks)
    assert [args[0] for args in queued] == ["apps.audit.tasks.deliver_event"]


def test_the_subscriptions_are_read_again_when_a_flow_changes():
    assert not subscriptions.wants("directory.group.created")

    flow = event_flow(events=["directory.group.*"])
    assert subscriptions.wants("directory.group.created")

    services.flow_update(flow=flow, actor=None, enabled=False)
    assert not subscriptions.wants("directory.group.created")

    services.flow_update(flow=flow, actor=None, enabled=True)
    definition = {**flow.current_version.definition}
    definition["trigger"] = {"type": "event", "events": ["directory.application.*"]}
    services.flow_save_definition(flow=flow, actor=None, definition=definition)
    assert not subscriptions.wants("directory.group.created")
    assert subscriptions.wants("directory.application.created")

    Flow.objects.filter(pk=flow.pk).delete()
    assert not subscriptions.wants("directory.application.created")


def test_a_change_saved_by_another_process_is_seen_within_the_recheck_interval(
    settings, monkeypatch
):
    settings.FLOWS_SUBSCRIPTIONS_RECHECK_SECONDS = 1.0
    clock = [1000.0]
    monkeypatch.setattr(subscriptions.time, "monotonic", lambda: clock[0])
    flow = event_flow(events=["directory.group.*"])
    assert subscriptions.wants("directory.group.created")  # this process's copy is loaded

    # Another process disables the flow: it writes the flow and a new version token.
    Flow.objects.filter(pk=flow.pk).update(enabled=False)
    SubscriptionsVersion.objects.filter(pk=subscriptions.VERSION_ROW).update(token="other")

    clock[0] += 0.5
    assert subscriptions.wants("directory.group.created")  # within the interval: the copy
    clock[0] += 0.6
    assert not subscriptions.wants("directory.group.created")


def test_checking_an_event_costs_no_query_within_the_interval_and_one_after(
    settings, monkeypatch, django_assert_num_queries
):
    settings.FLOWS_SUBSCRIPTIONS_RECHECK_SECONDS = 1.0
    clock = [1000.0]
    monkeypatch.setattr(subscriptions.time, "monotonic", lambda: clock[0])
    event_flow(events=["directory.group.*"])
    subscriptions.wants("directory.group.created")

    with django_assert_num_queries(0):
        assert not subscriptions.wants("directory.application.created")
    clock[0] += 2
    with django_assert_num_queries(1):  # the token, unchanged: the flows are not read again
        assert not subscriptions.wants("directory.application.created")


def test_an_event_written_by_a_flows_own_run_does_not_start_it_again(
    people, django_capture_on_commit_callbacks
):
    boss, ann = people
    definition = {
        "trigger": {"type": "event", "events": ["directory.user.profile_updated"]},
        "inputs": [{"name": "target", "type": "object"}, {"name": "data", "type": "object"}],
        "cards": [
            {
                "id": "retitle",
                "card": "directory.update_profile",
                "inputs": {
                    "user_id": "{{ inputs.target.id }}",
                    "changes": {"title": "{{ inputs.data.new.title }}!"},
                },
            }
        ],
    }
    flow = services.flow_create(actor=None, name="Retitle", definition=definition, kind="event")

    with django_capture_on_commit_callbacks(execute=True):
        directory.user_update_profile(user=ann, actor=boss, changes={"title": "Chief"})

    run = FlowRun.objects.get(flow=flow)
    assert run.status == RunStatus.SUCCEEDED, run.error
    ann.refresh_from_db()
    assert ann.title == "Chief!"


def retitling_flow(name, suffix):
    definition = {
        "trigger": {"type": "event", "events": ["directory.user.profile_updated"]},
        "inputs": [{"name": "target", "type": "object"}, {"name": "data", "type": "object"}],
        "cards": [
            {
                "id": "retitle",
                "card": "directory.update_profile",
                "inputs": {
                    "user_id": "{{ inputs.target.id }}",
                    "changes": {"title": "{{ inputs.data.new.title }}" + suffix},
                },
            }
        ],
    }
    return services.flow_create(actor=None, name=name, definition=definition, kind="event")


def test_flows_answering_each_others_events_stop_at_the_nesting_limit(
    people, django_capture_on_commit_callbacks, settings
):
    settings.FLOWS_LIMITS = {**settings.FLOWS_LIMITS, "max_depth": 3}
    boss, ann = people
    ping, pong = retitling_flow("Ping", "i"), retitling_flow("Pong", "o")

    with django_capture_on_commit_callbacks(execute=True):
        directory.user_update_profile(user=ann, actor=boss, changes={"title": "T"})

    runs = FlowRun.objects.filter(flow__in=[ping, pong])
    # The person's change starts both at depth 0; each run's change starts the other flow one
    # level deeper, under the same root, until depth 3.
    assert sorted(runs.values_list("depth", flat=True)) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert all(run.status == RunStatus.SUCCEEDED for run in runs), [r.error for r in runs]
    deepest = runs.filter(depth=3).first()
    assert deepest.root_id in set(runs.filter(depth=0).values_list("pk", flat=True))
    assert deepest.parent.depth == 2 and deepest.parent.flow_id != deepest.flow_id

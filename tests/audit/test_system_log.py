"""The system log: append-only in Python and in the database; emit() and its subscribers."""

from __future__ import annotations

import logging

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError

from apps.audit import catalogue
from apps.audit import services as audit_services
from apps.audit import subscribers as subscriber_registry
from apps.audit.context import correlation, correlation_id_var
from apps.audit.errors import AppendOnlyError, UnknownEventType
from apps.audit.models import SystemLogEvent
from apps.audit.services import emit
from apps.audit.subscribers import register_subscriber, unregister_subscriber
from apps.audit.tasks import deliver_event
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

EVENT_TYPE = "audit.system_log.exported"


@pytest.fixture
def event(db):
    return emit(EVENT_TYPE, data={"rows": 3}, message="Exported 3 rows.")


# --- Append-only ----------------------------------------------------------------------------


def test_saving_an_existing_event_is_refused(event):
    event.message = "Rewritten."

    with pytest.raises(AppendOnlyError):
        event.save()

    event.refresh_from_db()
    assert event.message == "Exported 3 rows."


def test_deleting_an_event_is_refused(event):
    with pytest.raises(AppendOnlyError):
        event.delete()

    assert SystemLogEvent.objects.filter(pk=event.pk).exists()


def test_bulk_writes_through_the_queryset_are_refused(event):
    events = SystemLogEvent.objects.filter(pk=event.pk)

    with pytest.raises(AppendOnlyError):
        events.update(event_type="x")
    with pytest.raises(AppendOnlyError):
        events.delete()
    with pytest.raises(AppendOnlyError):
        SystemLogEvent.objects.bulk_update([event], ["message"])

    event.refresh_from_db()
    assert event.event_type == EVENT_TYPE


def test_database_refuses_a_raw_update(event):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_systemlogevent SET event_type='x'")

    event.refresh_from_db()
    assert event.event_type == EVENT_TYPE


def test_database_refuses_a_raw_delete(event):
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite keeps DELETE open: Django's test flush deletes rows one statement at a time"
        )

    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_systemlogevent")

    assert SystemLogEvent.objects.filter(pk=event.pk).exists()


def test_database_refuses_a_truncate(event):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE statement (its DELETE is covered above)")

    refused = pytest.raises(DatabaseError, match="append-only")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        # The test's transaction holds deferred foreign-key checks, which PostgreSQL would
        # name instead of reaching the trigger.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE audit_systemlogevent")

    assert SystemLogEvent.objects.filter(pk=event.pk).exists()


def test_database_refuses_a_truncate_that_cascades_from_another_table(event):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE statement")
    event_with_actor = emit(EVENT_TYPE, actor=UserFactory())

    refused = pytest.raises(DatabaseError, match="append-only")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE directory_user CASCADE")

    assert SystemLogEvent.objects.filter(pk=event_with_actor.pk).exists()


def test_a_person_with_history_cannot_be_erased(db):
    person = UserFactory()
    emit(EVENT_TYPE, actor=person)

    with pytest.raises(ProtectedError):
        person.delete()


# --- emit() ---------------------------------------------------------------------------------


def test_emit_refuses_an_event_type_not_in_the_catalogue(db):
    with pytest.raises(UnknownEventType, match=r"directory\.user\.teleported"):
        emit("directory.user.teleported", data={"old": None, "new": None})

    assert not SystemLogEvent.objects.exists()


def test_emit_records_actor_target_and_data(db):
    admin = UserFactory(email="root@example.com")
    person = UserFactory()

    event = emit(EVENT_TYPE, actor=admin, target=person, data={"rows": 1}, outcome="denied")

    event.refresh_from_db()
    assert (event.actor, event.actor_display) == (admin, "root@example.com")
    assert (event.target_type, event.target_id) == ("directory.user", str(person.pk))
    assert event.target_display == str(person)
    assert (event.data, event.outcome) == ({"rows": 1}, "denied")


def test_emit_accepts_a_target_that_is_not_a_row(db):
    event = emit(EVENT_TYPE, target=("report", 42, "Monthly export"))

    assert (event.target_type, event.target_id, event.target_display) == (
        "report",
        "42",
        "Monthly export",
    )
    assert event.actor_display == "system"


def test_emit_writes_the_correlation_id_in_force(db):
    with correlation("request-0123456789", client_ip="10.0.0.7"):
        first = emit(EVENT_TYPE)
        second = emit(EVENT_TYPE)

    for event in (first, second):
        event.refresh_from_db()
        assert event.correlation_id == "request-0123456789"
        assert event.client_ip == "10.0.0.7"


def test_emit_outside_a_request_still_writes_a_correlation_id(db):
    event = emit(EVENT_TYPE)

    assert len(event.correlation_id) == 32


def test_every_directory_event_type_is_in_the_catalogue():
    names = {event_type.name for event_type in catalogue.all_event_types()}
    assert {
        "directory.user.created",
        "directory.user.profile_updated",
        "directory.user.activated",
        "directory.user.suspended",
        "directory.user.unsuspended",
        "directory.user.deactivated",
        "directory.user.reactivated",
        "directory.user.password_changed",
        "directory.user.admin_rights_changed",
        "directory.user.session.started",
        "directory.user.session.failed",
        "directory.user.session.ended",
        "directory.profile_attribute.created",
        "directory.profile_attribute.updated",
        "directory.profile_attribute.deleted",
        "directory.group.created",
        "directory.group.updated",
        "directory.group.deleted",
        "directory.user.added_to_group",
        "directory.user.group_membership_updated",
        "directory.user.removed_from_group",
        "directory.application.created",
        "directory.application.updated",
        "directory.application.deleted",
        "directory.user.assigned_to_application",
        "directory.user.application_assignment_updated",
        "directory.user.unassigned_from_application",
    } <= names


def test_registering_a_known_name_with_another_meaning_is_refused():
    known = catalogue.get(EVENT_TYPE)

    assert catalogue.register(known.name, known.description, known.payload) == known
    with pytest.raises(ValueError, match="registered twice"):
        catalogue.register(known.name, "Something else entirely.")
    assert catalogue.get(EVENT_TYPE) == known


# --- Subscribers ----------------------------------------------------------------------------

received: list[tuple[int, str]] = []


def record_event(event: SystemLogEvent) -> None:
    """A subscriber that remembers each event and the correlation id it was delivered under."""
    received.append((event.pk, correlation_id_var.get()))


def failing_subscriber(event: SystemLogEvent) -> None:
    raise RuntimeError("this subscriber is broken")


RECORD = f"{__name__}.record_event"
FAILING = f"{__name__}.failing_subscriber"


@pytest.fixture
def no_other_subscribers(monkeypatch):
    """Keep subscribers that apps register out of these tests."""
    monkeypatch.setattr(subscriber_registry, "_subscribers", [])


@pytest.fixture
def subscribers(no_other_subscribers):
    """A broken subscriber registered before a working one; both removed afterwards."""
    register_subscriber(FAILING)
    register_subscriber(RECORD)
    received.clear()
    yield
    unregister_subscriber(FAILING)
    unregister_subscriber(RECORD)
    received.clear()


def test_subscribers_hear_of_an_event_after_commit(subscribers, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, correlation("req-abcdefgh"):
        event = emit(EVENT_TYPE)
        assert received == []  # not before the transaction commits

    assert len(callbacks) == 1
    assert received == [(event.pk, "req-abcdefgh")]


def test_a_failing_subscriber_does_not_stop_the_others(
    subscribers, django_capture_on_commit_callbacks, caplog
):
    with (
        caplog.at_level(logging.ERROR, logger="apps.audit.tasks"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        event = emit(EVENT_TYPE)

    assert [pk for pk, _ in received] == [event.pk]
    assert FAILING in caplog.text
    assert deliver_event(event.pk) == 1  # one delivered, the broken one skipped


def test_no_delivery_is_queued_when_nobody_subscribes(
    no_other_subscribers, db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        emit(EVENT_TYPE)

    assert callbacks == []


def test_a_subscriber_hears_only_the_event_types_it_wants(
    no_other_subscribers, db, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(subscriber_registry, "_wants", {})
    queued = []
    monkeypatch.setattr(audit_services, "async_task", lambda *args, **kwargs: queued.append(args))
    register_subscriber(RECORD, wants=lambda event_type: event_type != EVENT_TYPE)

    with django_capture_on_commit_callbacks(execute=True):
        emit(EVENT_TYPE)
    assert queued == []  # not wanted: no queue task at all

    register_subscriber(RECORD, wants=lambda event_type: event_type == EVENT_TYPE)
    with django_capture_on_commit_callbacks(execute=True):
        event = emit(EVENT_TYPE)
    assert queued == [("apps.audit.tasks.deliver_event", event.pk)]
    unregister_subscriber(RECORD)

"""The system log as admins see it: a read-only list, filters, CSV export, and the API."""

import csv
import io
import json

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from apps.audit.models import SystemLogEvent
from apps.audit.services import emit
from apps.directory import services
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged_in(client, admin_user):
    client.force_login(admin_user)
    return client


def _people(count, actor):
    start = SystemLogEvent.objects.count()
    return [
        services.user_create(actor=actor, username=f"person{n}", email=f"p{n}@example.com")
        for n in range(start, start + count)
    ]


def test_system_log_admin_offers_no_add_change_or_delete(admin_client_logged_in, admin_user):
    event = emit("directory.user.created", actor=admin_user, data={"old": None, "new": {}})
    assert admin_client_logged_in.get(reverse("admin:audit_systemlogevent_add")).status_code == 403
    delete_url = reverse("admin:audit_systemlogevent_delete", args=[event.pk])
    assert admin_client_logged_in.post(delete_url, {"post": "yes"}).status_code == 403
    change_url = reverse("admin:audit_systemlogevent_change", args=[event.pk])
    page = admin_client_logged_in.get(change_url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert SystemLogEvent.objects.filter(pk=event.pk).exists()


def test_system_log_list_filters_by_type_actor_and_target(admin_client_logged_in, admin_user):
    alice, bob = _people(2, admin_user)
    services.user_suspend(user=alice, actor=admin_user)
    url = reverse("admin:audit_systemlogevent_changelist")

    by_type = admin_client_logged_in.get(url, {"event_type": "directory.user.suspended"})
    assert list(by_type.context["cl"].result_list) == list(
        SystemLogEvent.objects.filter(event_type="directory.user.suspended")
    )
    by_prefix = admin_client_logged_in.get(url, {"event_type": "directory.user.*"})
    assert {e.event_type for e in by_prefix.context["cl"].result_list} == {
        "directory.user.created",
        "directory.user.suspended",
        "directory.user.session.started",  # the admin's own sign-in
    }
    by_target = admin_client_logged_in.get(url, {"target": f"directory.user:{bob.pk}"})
    assert [e.event_type for e in by_target.context["cl"].result_list] == ["directory.user.created"]
    by_actor = admin_client_logged_in.get(url, {"actor": admin_user.email.upper()})
    assert by_actor.context["cl"].result_list.count() == 4
    by_nobody = admin_client_logged_in.get(url, {"actor": "nobody@example.com"})
    assert by_nobody.context["cl"].result_list.count() == 0


def test_system_log_list_query_count_does_not_grow_with_events(
    admin_client_logged_in, admin_user, django_assert_max_num_queries
):
    url = reverse("admin:audit_systemlogevent_changelist")
    _people(3, admin_user)
    admin_client_logged_in.get(url)
    with django_assert_max_num_queries(12) as few:
        admin_client_logged_in.get(url)
    _people(40, admin_user)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert admin_client_logged_in.get(url).status_code == 200


def test_csv_export_holds_exactly_the_filtered_events(admin_client_logged_in, admin_user):
    alice, _ = _people(2, admin_user)
    services.user_suspend(user=alice, actor=admin_user)
    services.user_update_profile(user=alice, actor=admin_user, changes={"title": "=HYPERLINK()"})
    url = reverse("admin:audit_systemlogevent_export")

    response = admin_client_logged_in.get(url, {"event_type": "directory.user.created"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 2
    assert {row["event_type"] for row in rows} == {"directory.user.created"}
    assert SystemLogEvent.objects.filter(event_type="audit.system_log.exported").count() == 1


def test_csv_export_neutralises_spreadsheet_formulas(admin_client_logged_in, admin_user):
    emit(
        "directory.group.created",
        actor=admin_user,
        target=("directory.group", "1", "=cmd|' /C calc'!A0"),
        data={"old": None, "new": {}},
    )
    response = admin_client_logged_in.get(
        reverse("admin:audit_systemlogevent_export"), {"event_type": "directory.group.created"}
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0]["target_display"].startswith("'=")


def test_csv_export_is_refused_to_people_without_admin_access(client):
    employee = UserFactory()
    client.force_login(employee)
    response = client.get(reverse("admin:audit_systemlogevent_export"))
    assert response.status_code == 302  # sent to the admin login page
    assert not SystemLogEvent.objects.filter(event_type="audit.system_log.exported").exists()


def test_api_lists_system_log_newest_first_for_admins_only(admin_user):
    alice, _ = _people(2, admin_user)
    services.user_suspend(user=alice, actor=admin_user)
    api = APIClient()
    api.force_authenticate(UserFactory())
    assert api.get("/api/v1/system-log/").status_code == 403

    api.force_authenticate(admin_user)
    response = api.get("/api/v1/system-log/", {"event_type": "directory.user.*"})
    assert response.status_code == 200
    types = [row["event_type"] for row in response.json()["results"]]
    assert types == ["directory.user.suspended", "directory.user.created", "directory.user.created"]
    assert response.json()["results"][0]["data"] == {
        "old": {"status": "active"},
        "new": {"status": "suspended"},
    }


def test_api_rejects_a_malformed_date_filter_with_400(admin_user):
    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.get("/api/v1/system-log/", {"since": "yesterday"})
    assert response.status_code == 400
    assert "since" in response.json()


# --- The actor filter matches people by the start of their names ----------------------------


@pytest.fixture
def actors(admin_user):
    dave = UserFactory(
        username="dave", email="d.okafor@example.com", first_name="Dave", last_name="Okafor"
    )
    davina = UserFactory(
        username="dmoreau", email="davina@example.com", first_name="Davina", last_name="Moreau"
    )
    other = UserFactory(
        username="olga", email="olga@example.com", first_name="Olga", last_name="Ostrova"
    )
    for person in (dave, davina, other):
        emit("directory.group.created", actor=person, data={"old": None, "new": {}})
    emit("directory.group.created", data={"old": None, "new": {}})  # the system
    return dave, davina, other


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("dave", {"d.okafor@example.com"}),  # a username
        ("DAV", {"d.okafor@example.com", "davina@example.com"}),  # the start, any case
        ("moreau", {"davina@example.com"}),  # a last name
        ("d.oka", {"d.okafor@example.com"}),  # the start of an e-mail
        ("okaf", {"d.okafor@example.com"}),  # last name
        ("davina@example.com", {"davina@example.com"}),  # the whole e-mail still works
        ("dave okafor", {"d.okafor@example.com"}),  # a full name
        ("Davina Mor", {"davina@example.com"}),  # a first name and the start of a last name
        ("system", {"system"}),
        ("zed", set()),
    ],
)
def test_the_actor_filter_matches_names_usernames_and_e_mail_starts(
    admin_client_logged_in, admin_user, actors, term, expected
):
    url = reverse("admin:audit_systemlogevent_changelist")
    page = admin_client_logged_in.get(url, {"actor": term, "event_type": "directory.group.created"})
    assert page.status_code == 200
    assert {event.actor_display for event in page.context["cl"].result_list} == expected

    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.get(
        "/api/v1/system-log/", {"actor": term, "event_type": "directory.group.created"}
    )
    assert response.status_code == 200
    assert {row["actor_display"] for row in response.json()["results"]} == expected


def test_the_actor_filter_resolves_people_first_then_filters_events_by_id(
    admin_client_logged_in, actors
):
    url = reverse("admin:audit_systemlogevent_changelist")
    with CaptureQueriesContext(connection) as queries:
        admin_client_logged_in.get(url, {"actor": "dav"})
    event_queries = [q["sql"] for q in queries if '"audit_systemlogevent"' in q["sql"]]
    assert event_queries
    for sql in event_queries:
        # No text match over the events table: a list of actor ids, read through its index.
        assert "actor_display" not in sql.split("WHERE", 1)[-1], sql
        assert "LIKE" not in sql.upper(), sql


def test_csv_export_writes_the_data_column_as_json(admin_client_logged_in, admin_user):
    alice, _ = _people(2, admin_user)
    services.user_suspend(user=alice, actor=admin_user)
    response = admin_client_logged_in.get(
        reverse("admin:audit_systemlogevent_export"), {"event_type": "directory.user.suspended"}
    )
    (row,) = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    assert json.loads(row["data"]) == {"old": {"status": "active"}, "new": {"status": "suspended"}}


def test_api_reads_need_the_view_permission_before_anything_else(admin_user):
    """Staff without `audit.view_systemlogevent` are refused (403), whatever they ask."""
    services.user_suspend(user=UserFactory(), actor=admin_user)
    staff = UserFactory(is_staff=True)
    api = APIClient()
    api.force_authenticate(staff)
    assert api.get("/api/v1/system-log/").status_code == 403
    assert api.get("/api/v1/system-log/", {"since": "yesterday"}).status_code == 403
    event = SystemLogEvent.objects.latest("id")
    assert api.get(f"/api/v1/system-log/{event.uuid}/").status_code == 403

    staff.user_permissions.add(Permission.objects.get(codename="view_systemlogevent"))
    staff = type(staff).objects.get(pk=staff.pk)  # a fresh permission cache
    api.force_authenticate(staff)
    response = api.get("/api/v1/system-log/")
    assert response.status_code == 200
    assert response.json()["results"][0]["event_type"] == "directory.user.suspended"

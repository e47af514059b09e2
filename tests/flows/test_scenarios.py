"""The seed scenarios end to end, run by the in-process engine (the queue inline) against real
local HTTP servers and a real SMTP server; `test_scenarios_queue.py` runs them all again
through a real worker. What is checked is what the outside systems received."""

from __future__ import annotations

import csv
import io

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from apps.audit import services as audit
from apps.directory import services as directory
from apps.directory.models import GrantSource, GroupMembership, User, UserStatus
from apps.flows import tables, tasks
from apps.flows.models import CardRun, Flow, FlowRun, RunStatus
from tests.factories import GroupFactory, UserFactory
from tests.flows.scenario_support import SLACK_PATH, ago, okta_sign_in, scenario_servers
from tests.mail import body_parts

pytestmark = pytest.mark.django_db


@pytest.fixture
def server():
    with scenario_servers() as server:
        yield server


@pytest.fixture
def boss():
    return UserFactory(username="boss", email="boss@example.com", first_name="Bea")


@pytest.fixture
def ann(boss):
    return UserFactory(username="ann", email="ann@example.com", first_name="Ann", manager=boss)


def runs_of(name):
    return FlowRun.objects.filter(flow__name=name).order_by("id")


def last_run(name) -> FlowRun:
    run = runs_of(name).last()
    assert run is not None, f"no run of {name}"
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run


@pytest.fixture
def start_scheduled(django_capture_on_commit_callbacks):
    """What the flow's schedule does when its time comes: start a run (queued, run inline)."""

    def start(name):
        flow = Flow.objects.get(name=name)
        with django_capture_on_commit_callbacks(execute=True):
            started = tasks.start_scheduled_flow(flow.pk, timezone.now().isoformat())
        assert started.startswith("run #"), started
        return last_run(name)

    return start


def test_1_joining_a_group_sets_is_member_of_group(server, ann, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        directory.group_add_member(group=GroupFactory(name="Engineering"), user=ann, actor=None)

    assert User.objects.get(pk=ann.pk).profile["isMemberOfGroup"] is True
    assert last_run("Mark group members").output == ["isMemberOfGroup"]


def test_2_a_new_person_s_temporary_password_goes_to_the_manager_s_vault(
    server, boss, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        newcomer = directory.user_create(
            actor=None, username="newcomer", email="newcomer@example.com", manager=boss
        )

    (seen,) = server.requests_to("/v1/vaults/boss/items")
    assert seen.method == "POST"
    assert seen.headers["authorization"] == "Bearer vault-connect-token"
    assert seen.headers["content-type"] == "application/json"
    item = seen.json()
    assert item["vault"] == {"id": "boss"} and item["category"] == "LOGIN"
    assert item["title"] == "Temporary password: newcomer"
    fields = {field["id"]: field for field in item["fields"]}
    assert fields["username"]["value"] == "newcomer"
    password = fields["password"]["value"]
    assert fields["password"]["type"] == "CONCEALED" and len(password) == 20
    assert User.objects.get(pk=newcomer.pk).check_password(password)  # the one they sign in with
    run = runs_of("Onboarding: temporary password to the manager's vault").get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert not CardRun.objects.filter(run=run).exists()  # no history: no password kept


def test_2_someone_without_a_manager_is_left_alone(server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        directory.user_create(actor=None, username="solo", email="solo@example.com")
    assert server.seen == []


def test_3_suspending_someone_revokes_their_sessions_in_both_services(
    server, ann, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        directory.user_suspend(user=ann, actor=None)

    (office,) = server.requests_to("/v1.0/users/ann@example.com/revokeSignInSessions")
    assert office.method == "POST" and office.headers["authorization"] == "Bearer graph-token"
    assert office.json() == {
        "userPrincipalName": "ann@example.com",
        "reason": "Offboarding: ann was suspended in Gatehouse",
    }
    (google,) = server.requests_to("/admin/directory/v1/users/ann@example.com/signOut")
    assert google.headers["authorization"] == "Bearer google-token"
    assert google.json() == {
        "userKey": "ann@example.com",
        "customer": "my_customer",
        "reason": "Offboarding: ann was suspended in Gatehouse",
    }
    assert last_run("Offboarding: revoke sessions").output == {
        "office365": 200,
        "google_workspace": 204,
    }


@pytest.fixture
def deliver_okta(django_capture_on_commit_callbacks):
    """Okta's event hook: a batch POSTed to the ingest endpoint of an Okta source."""
    _, secret = audit.ingest_source_create(actor=None, name="Okta", slug="okta")

    def deliver(*events):
        with django_capture_on_commit_callbacks(execute=True):
            response = APIClient().post(
                "/api/v1/ingest/okta/",
                {"eventType": "com.okta.event_hook", "data": {"events": list(events)}},
                format="json",
                HTTP_AUTHORIZATION=secret,
            )
        assert response.status_code == 200, response.content
        assert response.json()["recorded"] == len(events)

    return deliver


SIGN_IN_FLOW = "Sign-in from a disallowed country: alert and suspend"


def test_4_a_sign_in_from_a_disallowed_country_is_posted_to_chat_and_suspends_the_person(
    server, boss, ann, deliver_okta
):
    deliver_okta(
        okta_sign_in("boss@example.com", "France", "203.0.113.7"),
        okta_sign_in("boss@example.com", "Brazil", "198.51.100.3", outcome="FAILURE"),
        okta_sign_in("ann@example.com", "Brazil", "198.51.100.4"),
    )

    (message,) = server.requests_to(SLACK_PATH)
    assert message.method == "POST" and message.headers["content-type"] == "application/json"
    text = (
        "ann signed in from Brazil (IP 198.51.100.4) at 2026-12-01T10:00:00.000Z. "
        "Suspending them in Gatehouse."
    )
    assert message.json() == {
        "text": f"Sign-in from a disallowed country: {text}",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "Sign-in from a disallowed country"},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        ],
    }
    assert User.objects.get(pk=ann.pk).status == UserStatus.SUSPENDED
    assert (
        User.objects.get(pk=boss.pk).status == UserStatus.ACTIVE
    )  # allowed; and a failure is no sign-in
    assert last_run(SIGN_IN_FLOW).output == "ann"
    assert runs_of(SIGN_IN_FLOW).count() == 1  # the filter started no run for the others


def test_4_a_superuser_is_still_reported_though_a_flow_cannot_suspend_them(server, deliver_okta):
    UserFactory(username="root", email="root@example.com", is_superuser=True, is_staff=True)

    deliver_okta(okta_sign_in("root@example.com", "Brazil", "198.51.100.5"))

    (message,) = server.requests_to(SLACK_PATH)
    assert message.json()["text"].startswith("Sign-in from a disallowed country: root signed in")
    assert User.objects.get(username="root").status == UserStatus.ACTIVE
    run = runs_of(SIGN_IN_FLOW).get()
    assert run.status == RunStatus.FAILED and "Only a superuser may change a superuser" in run.error


def test_5_the_monthly_report_mails_inactive_accounts_as_csv(
    server, smtp_server, boss, start_scheduled
):
    User.objects.filter(pk=boss.pk).update(last_login=ago(days=1))
    stale = UserFactory(username="stale", email="stale@example.com", department="Sales")
    User.objects.filter(pk=stale.pk).update(last_login=ago(days=120), date_joined=ago(days=400))
    never = UserFactory(username="never", email="never@example.com")
    User.objects.filter(pk=never.pk).update(date_joined=ago(days=100))
    gone = UserFactory(username="gone", status="suspended")
    User.objects.filter(pk=gone.pk).update(date_joined=ago(days=300))
    UserFactory(username="newcomer")  # never signed in, created today

    run = start_scheduled("Compliance: accounts with no sign-in for 90 days")

    assert run.output == 2
    (message,) = smtp_server.to("compliance@gatehouse.example")
    assert message["Subject"] == "Accounts with no sign-in for 90 days: 2"
    assert "2 active accounts have not signed in since" in body_parts(message)["text/plain"]
    (attached,) = [part for part in message.walk() if part.get_filename()]
    assert attached.get_filename().startswith("inactive-accounts-20")
    assert attached.get_content_type() == "text/csv"
    rows = list(csv.DictReader(io.StringIO(attached.get_payload(decode=True).decode())))
    assert [row["username"] for row in rows] == ["never", "stale"]
    assert rows[1]["email"] == "stale@example.com" and rows[1]["department"] == "Sales"
    assert parse_datetime(rows[1]["last_login"]) < ago(days=119)
    assert rows[0]["last_login"] == ""


def test_6_a_privileged_membership_without_justification_opens_a_ticket(
    server, boss, ann, django_capture_on_commit_callbacks
):
    admins = GroupFactory(name="Domain Admins")
    with django_capture_on_commit_callbacks(execute=True):
        directory.group_add_member(group=GroupFactory(name="Sales"), user=ann, actor=boss)
        directory.group_add_member(
            group=GroupFactory(name="Production Admins"),
            user=boss,
            actor=None,
            source=GrantSource.REQUEST,  # an approved request: justified
        )
    assert server.requests_to("/api/now/table/incident") == []

    with django_capture_on_commit_callbacks(execute=True):
        directory.group_add_member(group=admins, user=ann, actor=boss)

    (ticket,) = server.requests_to("/api/now/table/incident")
    assert ticket.method == "POST" and ticket.headers["x-api-key"] == "snow-api-key"
    assert ticket.headers["accept"] == "application/json"
    incident = ticket.json()
    assert incident["short_description"] == (
        "Privileged access without justification: ann added to Domain Admins"
    )
    assert "by boss (source: manual)" in incident["description"]
    assert incident["caller_id"] == "boss" and incident["u_affected_user"] == "ann@example.com"
    assert incident["category"] == "security"
    assert last_run("Elevated rights without justification: open a ticket").output == "INC0010001"


def test_7_temporary_memberships_are_recorded_then_removed_once_expired(
    server, boss, ann, django_capture_on_commit_callbacks, start_scheduled
):
    vpn = GroupFactory(name="VPN Users")
    with django_capture_on_commit_callbacks(execute=True):
        directory.group_add_member(group=vpn, user=ann, actor=None)
        directory.group_add_member(group=vpn, user=boss, actor=None)
        directory.group_add_member(group=GroupFactory(name="Sales"), user=ann, actor=None)

    table = tables.table_by_name("Temporary memberships")
    rows = {row.data["username"]: row for row in table.rows.all()}
    assert set(rows) == {"ann", "boss"} and rows["ann"].data["group"] == "VPN Users"
    ends = parse_datetime(rows["ann"].data["ends_at"])
    assert abs(ends - (timezone.now() + timezone.timedelta(days=30))).total_seconds() < 60
    tables.row_update(table=table, row_id=rows["ann"].pk, values={"ends_at": ago(minutes=1)})

    run = start_scheduled("Temporary memberships: remove expired")

    assert run.output == 1
    assert not GroupMembership.objects.filter(group=vpn, user=ann).exists()
    assert GroupMembership.objects.filter(group=vpn, user=boss).exists()
    assert list(table.rows.values_list("data__username", flat=True)) == ["boss"]


def test_8_people_without_a_factor_are_reminded_then_reset(
    server, smtp_server, boss, start_scheduled
):
    late = UserFactory(username="late", email="late@example.com", first_name="Lou")
    enrolled = UserFactory(username="enrolled", profile={"mfaEnrolled": True})
    User.objects.filter(pk__in=[late.pk, enrolled.pk, boss.pk]).update(date_joined=ago(hours=30))
    User.objects.filter(pk=boss.pk).update(profile={"mfaEnrolled": True})
    UserFactory(username="fresh")  # created now: still has time

    first = start_scheduled("MFA: remind, then reset, people not enrolled")

    assert first.output == {"reminded": 1, "reset": 0}
    (reminder,) = smtp_server.messages
    assert reminder["To"] == "late@example.com"
    assert reminder["Subject"] == "Set up multi-factor authentication"
    assert "Hello Lou," in body_parts(reminder)["text/plain"]
    late.refresh_from_db()
    assert parse_datetime(late.profile["mfaReminderSentAt"]) > ago(minutes=1)
    assert late.has_usable_password()

    smtp_server.clear()
    assert start_scheduled("MFA: remind, then reset, people not enrolled").output == {
        "reminded": 0,
        "reset": 0,
    }  # reminded an instant ago: not yet
    directory.user_update_profile(
        user=late, actor=None, changes={"mfaReminderSentAt": ago(hours=25)}
    )

    third = start_scheduled("MFA: remind, then reset, people not enrolled")

    assert third.output == {"reminded": 0, "reset": 1}
    (notice,) = smtp_server.messages
    assert notice["To"] == "late@example.com" and notice["Cc"] == "security@gatehouse.example"
    assert notice["Subject"] == "Your password was reset: no second factor"
    late.refresh_from_db()
    assert not late.has_usable_password() and late.profile["mfaResetAt"]
    assert User.objects.get(username="enrolled").has_usable_password()

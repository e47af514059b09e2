"""Every seed scenario once more, through a real django-q2 worker (one cluster for them all):
events fan out and flows run in the worker process, which calls the local HTTP servers and
sends its e-mail to the test's SMTP server."""

from __future__ import annotations

import csv
import io

import pytest
from django.utils import timezone
from django_q.tasks import async_task
from rest_framework.test import APIClient

from apps.audit import services as audit
from apps.directory import services as directory
from apps.directory.models import GroupMembership, User, UserStatus
from apps.flows import tables
from apps.flows.models import Flow, FlowRun, RunStatus
from tests.factories import GroupFactory, UserFactory
from tests.flows.local_http import json_answer
from tests.flows.scenario_support import SLACK_PATH, ago, okta_sign_in, scenario_servers
from tests.queue import _start_cluster, _stop_cluster, wait_for

pytestmark = [pytest.mark.queue]


@pytest.fixture
def worker(transactional_db, monkeypatch, smtp_server, settings):
    """A real cluster whose worker mails to `smtp_server`."""
    from django_q.conf import Conf

    process = _start_cluster({"TEST_EMAIL_URL": f"smtp://127.0.0.1:{settings.EMAIL_PORT}"})
    monkeypatch.setattr(Conf, "SYNC", False)
    try:
        yield process
    finally:
        _stop_cluster(process)


def finished(name, count=1):
    runs = FlowRun.objects.filter(flow__name=name)
    done = runs.filter(status__in=[RunStatus.SUCCEEDED, RunStatus.FAILED])
    return done.count() >= count


def succeeded(name):
    run = FlowRun.objects.filter(flow__name=name).latest("id")
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run


def test_every_scenario_runs_in_a_real_worker(worker, smtp_server):
    with scenario_servers() as server:
        boss = UserFactory(username="boss", email="boss@example.com")
        ann = UserFactory(username="ann", email="ann@example.com", manager=boss)
        late = UserFactory(username="late", email="late@example.com")
        dormant = UserFactory(username="dormant", email="dormant@example.com")
        User.objects.filter(pk=dormant.pk).update(
            last_login=ago(days=91), date_joined=ago(days=500), profile={"mfaEnrolled": True}
        )
        User.objects.filter(pk=late.pk).update(date_joined=ago(hours=30))
        User.objects.filter(pk=boss.pk).update(
            last_login=ago(days=1), profile={"mfaEnrolled": True}
        )
        User.objects.filter(pk=ann.pk).update(
            last_login=ago(days=200), profile={"mfaEnrolled": True}
        )

        # 1 and 7: a group join marks the person and records a temporary membership;
        # 6: a privileged group joined by hand opens a ticket.
        vpn = GroupFactory(name="VPN Users")
        directory.group_add_member(group=vpn, user=ann, actor=boss)
        directory.group_add_member(group=GroupFactory(name="Domain Admins"), user=ann, actor=boss)
        # 2: a newcomer's temporary password goes to the manager's vault.
        directory.user_create(
            actor=None, username="newcomer", email="newcomer@example.com", manager=boss
        )
        # 3: suspending someone revokes their sessions in both services.
        directory.user_suspend(user=User.objects.get(pk=ann.pk), actor=None)

        wait_for(lambda: finished("Mark group members", 2), what="scenario 1")
        wait_for(lambda: finished("Temporary memberships: record"), what="scenario 7, record")
        wait_for(
            lambda: finished("Elevated rights without justification: open a ticket"),
            what="scenario 6",
        )
        wait_for(
            lambda: finished("Onboarding: temporary password to the manager's vault"),
            what="scenario 2",
        )
        wait_for(lambda: finished("Offboarding: revoke sessions"), what="scenario 3")
        # 4: traveller signs in to Okta from a country not on the allowed list, boss from an
        # allowed one; suspending traveller starts scenario 3 for them too.
        traveller = UserFactory(username="traveller", email="traveller@example.com")
        User.objects.filter(pk=traveller.pk).update(
            last_login=ago(days=1), profile={"mfaEnrolled": True}
        )
        server.routes.update(
            {
                "/v1.0/users/traveller@example.com/revokeSignInSessions": lambda seen: json_answer(
                    {"value": True}
                ),
                "/admin/directory/v1/users/traveller@example.com/signOut": lambda seen: json_answer(
                    {}, 204
                ),
            }
        )
        _, okta_secret = audit.ingest_source_create(actor=None, name="Okta", slug="okta")
        delivered = APIClient().post(
            "/api/v1/ingest/okta/",
            {
                "data": {
                    "events": [
                        okta_sign_in("boss@example.com", "France", "203.0.113.7"),
                        okta_sign_in("traveller@example.com", "Brazil", "198.51.100.4"),
                    ]
                }
            },
            format="json",
            HTTP_AUTHORIZATION=okta_secret,
        )
        assert delivered.status_code == 200, delivered.content
        wait_for(
            lambda: finished("Sign-in from a disallowed country: alert and suspend"),
            what="scenario 4",
        )
        succeeded("Sign-in from a disallowed country: alert and suspend")
        (alert,) = server.requests_to(SLACK_PATH)
        assert "traveller signed in from Brazil (IP 198.51.100.4)" in alert.json()["text"]
        assert User.objects.get(pk=traveller.pk).status == UserStatus.SUSPENDED
        assert User.objects.get(pk=boss.pk).status == UserStatus.ACTIVE
        wait_for(lambda: finished("Offboarding: revoke sessions", 2), what="scenario 3, again")

        assert User.objects.get(pk=ann.pk).profile["isMemberOfGroup"] is True
        succeeded("Mark group members")
        ticket = server.requests_to("/api/now/table/incident")[0].json()
        assert ticket["short_description"].endswith("ann added to Domain Admins")
        (vault,) = server.requests_to("/v1/vaults/boss/items")
        assert vault.headers["authorization"] == "Bearer vault-connect-token"
        password = {field["id"]: field["value"] for field in vault.json()["fields"]}["password"]
        assert User.objects.get(username="newcomer").check_password(password)
        assert server.requests_to("/v1.0/users/ann@example.com/revokeSignInSessions")[0].json()[
            "userPrincipalName"
        ] == ("ann@example.com")
        assert server.requests_to("/admin/directory/v1/users/ann@example.com/signOut")
        succeeded("Offboarding: revoke sessions")

        # The scheduled ones, started as their schedules start them: through the queue.
        table = tables.table_by_name("Temporary memberships")
        row = table.rows.get()
        tables.row_update(table=table, row_id=row.pk, values={"ends_at": ago(minutes=1)})
        for name in (
            "Compliance: accounts with no sign-in for 90 days",
            "Temporary memberships: remove expired",
            "MFA: remind, then reset, people not enrolled",
        ):
            flow_id = Flow.objects.get(name=name).pk
            async_task("apps.flows.tasks.start_scheduled_flow", flow_id, timezone.now().isoformat())
        for name in (
            "Compliance: accounts with no sign-in for 90 days",
            "Temporary memberships: remove expired",
            "MFA: remind, then reset, people not enrolled",
        ):
            wait_for(lambda name=name: finished(name), what=name)
            succeeded(name)

    # 5: dormant's last sign-in is 91 days old (ann's is older, but she is suspended now).
    (report,) = smtp_server.to("compliance@gatehouse.example")
    (attached,) = [part for part in report.walk() if part.get_filename()]
    rows = list(csv.reader(io.StringIO(attached.get_payload(decode=True).decode())))
    assert rows[0][:2] == ["username", "email"]
    assert [row[0] for row in rows[1:]] == ["dormant"]
    assert report["Subject"] == "Accounts with no sign-in for 90 days: 1"
    # 7: the expired membership is gone with its row.
    assert not GroupMembership.objects.filter(group=vpn, user=ann).exists()
    assert not table.rows.exists()
    # 8: late, created 30 hours ago with no factor, is reminded.
    (reminder,) = smtp_server.to("late@example.com")
    assert reminder["Subject"] == "Set up multi-factor authentication"
    assert User.objects.get(pk=late.pk).profile["mfaReminderSentAt"]

"""Request events posted to chat webhooks (a real local server standing in for Slack and
Teams), as well as the e-mails: per request type, per owning team, and workspace-wide."""

from __future__ import annotations

import pytest

from apps.access_requests import chat_notifications, services
from apps.access_requests.models import (
    ApproverKind,
    RequestType,
    RequestTypeStatus,
    Step,
    StepKind,
)
from apps.teams.models import Team, TeamMembership
from tests.factories import UserFactory, make_connection
from tests.flows.local_http import local_server, text_answer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_private_networks(settings):
    settings.FLOWS_HTTP_ALLOW_PRIVATE_NETWORKS = False


@pytest.fixture
def chat():
    with local_server() as server:
        for path in ("/type", "/team", "/all", "/other", "/off"):
            server.routes[path] = lambda seen: text_answer("ok")
        yield server


def _connection(server, name, path, kind="slack_webhook", **fields):
    return make_connection(
        name, kind=kind, secret=server.url(path), allowed_private_hosts=["127.0.0.1"], **fields
    )


def _titles(server, path):
    """What one webhook received, as (title, text) pairs, whatever the service."""
    received = []
    for seen in server.requests_to(path):
        body = seen.json()
        if "blocks" in body:  # Slack
            blocks = body["blocks"]
            received.append((blocks[0]["text"]["text"], blocks[-1]["text"]["text"]))
        else:  # Teams
            card_body = body["attachments"][0]["content"]["body"]
            received.append((card_body[0]["text"], card_body[-1]["text"]))
    return received


@pytest.fixture
def journey(chat, django_capture_on_commit_callbacks, mailoutbox):
    boss = UserFactory(username="boss", first_name="Bob", last_name="Boss")
    alice = UserFactory(username="alice", first_name="Alice", last_name="Able", manager=boss)
    carol = UserFactory(username="carol", first_name="Carol", last_name="Card")
    team = Team.objects.create(name="Badge Access")
    other_team = Team.objects.create(name="Other")
    TeamMembership.objects.create(team=team, user=carol)
    type_connection = _connection(chat, "badge-slack", "/type")
    _connection(chat, "team-teams", "/team", kind="teams_webhook", notify_teams=[team])
    _connection(chat, "all-slack", "/all", notify_every_request=True)
    _connection(chat, "other-slack", "/other", notify_teams=[other_team])
    _connection(chat, "off-slack", "/off", notify_every_request=True, enabled=False)
    badge = RequestType.objects.create(
        name="Badge <!channel> & more",
        owning_team=team,
        status=RequestTypeStatus.ACTIVE,
        chat_connection=type_connection,
    )
    Step.objects.create(
        request_type=badge, position=1, kind=StepKind.APPROVAL, approver_kind=ApproverKind.MANAGER
    )
    Step.objects.create(request_type=badge, position=2, kind=StepKind.TASK, title="Print it")
    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_submit(request_type=badge, requester=alice, answers={})
    with django_capture_on_commit_callbacks(execute=True):
        services.approval_decide(approval=request.approvals.get(), actor=boss, approve=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.task_complete(task=request.tasks.get(), actor=carol)
    return request, mailoutbox


def test_each_connection_that_applies_hears_the_request_events(chat, journey):
    request, mailoutbox = journey
    number = request.pk
    url = f"http://127.0.0.1:8000/requests/{number}/"
    typed = "Badge <!channel> & more"
    escaped = "Badge &lt;!channel&gt; &amp; more"
    assert request.subject == f"{typed} for Alice Able"
    about = f'request #{number} "{escaped} for Alice Able" ({escaped})'
    expected_slack = [
        ("Request assigned", f"R{about[1:]} is assigned to Carol Card. {url}"),
        ("Approval needed", f"Bob Boss: please decide on {about} from Alice Able. {url}"),
        ("Request approved", f"R{about[1:]} from Alice Able is approved, in progress. {url}"),
        ("Task assigned", f'Task "Print it" for {about} is assigned to Carol Card. {url}'),
        ("Request closed", f"R{about[1:]} from Alice Able is closed. {url}"),
    ]
    assert [title for title, _ in _titles(chat, "/type")] == [title for title, _ in expected_slack]
    assert _titles(chat, "/type") == expected_slack
    assert _titles(chat, "/all") == expected_slack
    # Teams gets the subject as it was typed: its TextBlock does not ping anyone.
    assert _titles(chat, "/team") == [
        (title, text.replace(escaped, typed)) for title, text in expected_slack
    ]
    assert chat.requests_to("/other") == [] and chat.requests_to("/off") == []
    assert mailoutbox, "the e-mails still go out"


def test_a_webhook_that_refuses_does_not_hold_back_the_e_mails(
    chat, django_capture_on_commit_callbacks, mailoutbox, caplog
):
    chat.routes["/all"] = lambda seen: text_answer("no_service", 404)
    _connection(chat, "all-slack", "/all", notify_every_request=True)
    boss = UserFactory(username="boss")
    alice = UserFactory(username="alice", manager=boss)
    team = Team.objects.create(name="T")
    kind = RequestType.objects.create(name="K", owning_team=team, status=RequestTypeStatus.ACTIVE)
    Step.objects.create(
        request_type=kind, position=1, kind=StepKind.APPROVAL, approver_kind=ApproverKind.MANAGER
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.request_submit(request_type=kind, requester=alice, answers={})
    assert len(chat.requests_to("/all")) == 1
    assert [m.to for m in mailoutbox] == [[boss.email]]
    assert "not posted: HTTP 404 from 127.0.0.1: no_service" in caplog.text
    assert "/all" not in caplog.text  # the webhook URL is a secret


def test_kinds_without_a_chat_message_post_nothing(chat):
    _connection(chat, "all-slack", "/all", notify_every_request=True)
    assert chat_notifications.post("commented", {"entry_id": 1}) == 0
    assert chat.seen == []


def test_a_request_type_offers_only_chat_connections(chat):
    slack = _connection(chat, "slack", "/type")
    make_connection("crm", kind="bearer", secret="t")
    from apps.access_requests.admin import RequestTypeAdminForm

    assert list(RequestTypeAdminForm().fields["chat_connection"].queryset) == [slack]


def test_without_chat_connections_a_notification_costs_one_query(django_assert_num_queries, chat):
    make_connection("crm", kind="bearer", secret="t")
    with django_assert_num_queries(1):
        assert chat_notifications.post("status_changed", {"request_id": 1}) == 0

"""Who may do what, endpoint by endpoint: one table written by hand, checked against the app.

Every API route (config/urls.py and each app's api_urls.py) and every portal page and POST
(apps/portal/urls.py) is a row; every role is a column. The expected answers are literals:
change the code and this table disagrees, change the table and say why in the commit.

API cells are HTTP status codes. Portal POSTs answer with a redirect either way, so their cells
say what happened: "done" (redirect with a success message), "no" (redirect with an error
message, nothing changed), "login" (redirect to the sign-in page), or a status code.

Left out on purpose: `auth/token/` (sign-in, not permissions: anyone with a password gets their
own token), `schema/` and `docs/` (describe the API, hold no data), `POST /login/` (sign-in).

The people and objects are built once for the module; each cell runs in a savepoint that is
rolled back, so no cell sees what another did.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import constants as message_levels
from django.contrib.messages import get_messages
from django.db import transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.access_requests import services as request_services
from apps.access_requests.models import (
    AccessRequest,
    Approval,
    ApproverDelegation,
    ApproverKind,
    RequestType,
    RequestTypeStatus,
    Step,
    StepKind,
    Task,
)
from apps.access_requests.notifications import approval_link_token
from apps.audit import services as audit_services
from apps.audit.models import SystemLogEvent
from apps.directory import services as directory_services
from apps.directory.models import AppAssignment, Application, Group, GroupMembership, User
from apps.flows import services as flow_services
from apps.flows.models import Flow, FlowRun, Trigger
from apps.teams.models import AssignmentStrategy, Team, TeamMembership
from tests.factories import UserFactory

ROLES = (
    "anon",  # not signed in
    "requester",  # alice: files the requests below
    "manager",  # bob: alice's manager, the approver of her pending request
    "employee",  # erin: unrelated to any of it
    "member",  # a member of the team that owns the request type (not the task's assignee)
    "staff",  # is_staff, no permission at all
    "viewer",  # is_staff with every view_* permission
    "editor",  # is_staff with every view_* and change_* permission, and run_delegated_flow
    "root",  # superuser
)

# fmt: off
API = [
    # method, path, body                                            anon req  mgr  emp  mem  staff view edit root
    # --- directory: people
    ("GET",    "/api/v1/users/", None,                              (401, 403, 403, 403, 403, 403, 200, 200, 200)),
    ("POST",   "/api/v1/users/", {"username": "x"},                 (401, 403, 403, 403, 403, 403, 403, 403, 405)),
    ("GET",    "/api/v1/users/{employee}/", None,                   (401, 403, 403, 403, 403, 403, 200, 200, 200)),
    ("PATCH",  "/api/v1/users/{employee}/", {"title": "Boss"},      (401, 403, 403, 403, 403, 403, 403, 200, 200)),
    ("PATCH",  "/api/v1/users/{employee}/", {"manager": "{staff}"}, (401, 403, 403, 403, 403, 403, 403, 200, 200)),
    ("PUT",    "/api/v1/users/{employee}/", {"title": "Boss"},      (401, 403, 403, 403, 403, 403, 403, 405, 405)),
    ("DELETE", "/api/v1/users/{employee}/", None,                   (401, 403, 403, 403, 403, 403, 403, 403, 405)),
    ("PATCH",  "/api/v1/users/{other_root}/", {"last_name": "X"},   (401, 403, 403, 403, 403, 403, 403, 403, 200)),
    ("POST",   "/api/v1/users/{employee}/lifecycle/suspend/", {},   (401, 403, 403, 403, 403, 403, 403, 200, 200)),
    ("POST",   "/api/v1/users/{other_root}/lifecycle/suspend/", {}, (401, 403, 403, 403, 403, 403, 403, 403, 200)),
    # --- directory: groups and applications
    ("GET",    "/api/v1/groups/", None,                             (401, 403, 403, 403, 403, 403, 200, 200, 200)),
    ("GET",    "/api/v1/groups/{group}/", None,                     (401, 403, 403, 403, 403, 403, 200, 200, 200)),
    ("POST",   "/api/v1/groups/{group}/holders/", {"user": "{staff}"},
                                                                    (401, 403, 403, 403, 403, 403, 403, 403, 204)),
    ("DELETE", "/api/v1/groups/{group}/holders/{employee}/", None,  (401, 403, 403, 403, 403, 403, 403, 403, 204)),
    ("GET",    "/api/v1/applications/", None,                       (401, 403, 403, 403, 403, 403, 200, 200, 200)),
    ("GET",    "/api/v1/applications/{application}/", None,         (401, 403, 403, 403, 403, 403, 200, 200, 200)),
    ("POST",   "/api/v1/applications/{application}/holders/", {"user": "{staff}"},
                                                                    (401, 403, 403, 403, 403, 403, 403, 403, 204)),
    ("DELETE", "/api/v1/applications/{application}/holders/{employee}/", None,
                                                                    (401, 403, 403, 403, 403, 403, 403, 403, 204)),
    # --- methods the directory does not offer: refused (403) before "not allowed" (405)
    ("POST",   "/api/v1/groups/", {"name": "x"},                    (401, 403, 403, 403, 403, 403, 403, 403, 405)),
    ("DELETE", "/api/v1/groups/{group}/", None,                     (401, 403, 403, 403, 403, 403, 403, 403, 405)),
    ("PATCH",  "/api/v1/applications/{application}/", {"name": "x"},
                                                                    (401, 403, 403, 403, 403, 403, 403, 405, 405)),
    # --- the system log
    ("GET",    "/api/v1/system-log/", None,                         (401, 403, 403, 403, 403, 403, 200, 200, 200)),
    ("GET",    "/api/v1/system-log/{event}/", None,                 (401, 403, 403, 403, 403, 403, 200, 200, 200)),
    ("POST",   "/api/v1/system-log/", {"event_type": "x"},          (401, 403, 403, 403, 403, 403, 403, 403, 405)),
    ("DELETE", "/api/v1/system-log/{event}/", None,                 (401, 403, 403, 403, 403, 403, 403, 403, 405)),
    # --- the catalog and requests
    ("GET",    "/api/v1/request-types/", None,                      (401, 200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET",    "/api/v1/request-types/{simple_type}/", None,        (401, 200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET",    "/api/v1/requests/", None,                           (401, 200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET",    "/api/v1/requests/?scope=visible", None,             (401, 200, 200, 200, 200, 200, 200, 200, 200)),
    ("POST",   "/api/v1/requests/", {"request_type": "{simple_type}", "answers": {}},
                                                                    (401, 201, 201, 201, 201, 201, 201, 201, 201)),
    ("GET",    "/api/v1/requests/{pending}/", None,                 (401, 200, 200, 404, 200, 404, 200, 200, 200)),
    ("POST",   "/api/v1/requests/{pending}/cancel/", {},            (401, 200, 403, 404, 403, 404, 403, 200, 200)),
    ("POST",   "/api/v1/requests/{pending}/comments/", {"text": "Hi"},
                                                                    (401, 201, 201, 404, 201, 404, 403, 201, 201)),
    ("PATCH",  "/api/v1/requests/{pending}/", {"subject": "x"},     (401, 405, 405, 405, 405, 405, 405, 405, 405)),
    # --- approvals: only the approver's own
    ("GET",    "/api/v1/approvals/", None,                          (401, 200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET",    "/api/v1/approvals/{approval}/", None,               (401, 404, 200, 404, 404, 404, 404, 404, 404)),
    ("POST",   "/api/v1/approvals/{approval}/approve/", {},         (401, 404, 200, 404, 404, 404, 404, 404, 404)),
    ("POST",   "/api/v1/approvals/{approval}/deny/", {"comment": "No"}, (401, 404, 200, 404, 404, 404, 404, 404, 404)),
    ("PUT",    "/api/v1/approvals/{approval}/", {},                 (401, 405, 405, 405, 405, 405, 405, 405, 405)),
    # --- tasks: {task} is assigned to the member's colleague, {free_task} to nobody
    ("GET",    "/api/v1/tasks/", None,                              (401, 200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET",    "/api/v1/tasks/{task}/", None,                       (401, 200, 200, 404, 200, 404, 200, 200, 200)),
    ("POST",   "/api/v1/tasks/{task}/complete/", {"note": "ok"},    (401, 403, 403, 404, 403, 404, 403, 200, 200)),
    ("POST",   "/api/v1/tasks/{free_task}/complete/", {"note": "ok"},
                                                                    (401, 403, 403, 404, 200, 404, 403, 200, 200)),
    ("DELETE", "/api/v1/tasks/{task}/", None,                       (401, 405, 405, 405, 405, 405, 405, 405, 405)),
    # --- flows: the ones the caller may run
    ("GET",    "/api/v1/flows/", None,                              (401, 200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET",    "/api/v1/flows/{flow}/", None,                       (401, 404, 404, 404, 404, 404, 404, 200, 200)),
    ("POST",   "/api/v1/flows/{flow}/run/", {"inputs": {"email": "a@example.com"}},
                                                                    (401, 403, 403, 403, 403, 403, 403, 202, 202)),
    ("PATCH",  "/api/v1/flows/{flow}/", {"name": "x"},              (401, 405, 405, 405, 405, 405, 405, 405, 405)),
    ("GET",    "/api/v1/flow-runs/", None,                          (404, 404, 404, 404, 404, 404, 404, 404, 404)),
    ("GET",    "/api/v1/flow-runs/{run}/", None,                    (401, 404, 404, 404, 404, 404, 200, 200, 200)),
    # --- stored connections: model permissions, as in the admin
    ("GET",    "/api/v1/connections/", None,                        (401, 403, 403, 403, 403, 403, 200, 200, 200)),
    ("GET",    "/api/v1/connections/{connection}/", None,           (401, 403, 403, 403, 403, 403, 200, 200, 200)),
    ("POST",   "/api/v1/connections/", {"name": "x", "kind": "bearer", "secret": "s"},
                                                                    (401, 403, 403, 403, 403, 403, 403, 403, 201)),
    ("PATCH",  "/api/v1/connections/{connection}/", {"description": "x"},
                                                                    (401, 403, 403, 403, 403, 403, 403, 200, 200)),
    ("PUT",    "/api/v1/connections/{connection}/", {"description": "x"},
                                                                    (401, 403, 403, 403, 403, 403, 403, 405, 405)),
    ("DELETE", "/api/v1/connections/{connection}/", None,           (401, 403, 403, 403, 403, 403, 403, 403, 204)),
    # --- API-endpoint flows: a person's token needs flows.call_apiendpoint (a client token is
    # the endpoint's own: tests/flows/test_hooks.py)
    ("POST",   "/api/v1/hooks/matrix/", {"name": "x"},              (401, 403, 403, 403, 403, 403, 403, 403, 200)),
    ("POST",   "/api/v1/hooks/nobody/", {"name": "x"},              (401, 404, 404, 404, 404, 404, 404, 404, 404)),
    ("GET",    "/api/v1/hooks/matrix/", None,                       (405, 405, 405, 405, 405, 405, 405, 405, 405)),
    # --- events in from other systems: the source's shared secret, never a person's rights
    # (tests/audit/test_ingest.py)
    ("GET",    "/api/v1/ingest/okta/", None,                        (401, 401, 401, 401, 401, 401, 401, 401, 401)),
    ("POST",   "/api/v1/ingest/okta/", {"data": {"events": []}},    (401, 401, 401, 401, 401, 401, 401, 401, 401)),
    # --- API tokens: each person lists and revokes their own ({api_token} is the requester's)
    ("GET",    "/api/v1/auth/tokens/", None,                        (401, 200, 200, 200, 200, 200, 200, 200, 200)),
    ("POST",   "/api/v1/auth/tokens/", {"name": "x"},               (401, 405, 405, 405, 405, 405, 405, 405, 405)),
    ("DELETE", "/api/v1/auth/tokens/{api_token}/", None,            (401, 204, 404, 404, 404, 404, 404, 404, 404)),
]

PORTAL = [
    # method, path, form                                            anon     req      mgr      emp      mem      staff    view     edit     root
    ("GET",  "/", None,                                             ("login", 302,     302,     302,     302,     302,     302,     302,     302)),
    ("GET",  "/login/", None,                                       (200,     302,     302,     302,     302,     302,     302,     302,     302)),
    ("POST", "/logout/", {},                                        ("login", "login", "login", "login", "login", "login", "login", "login", "login")),
    ("GET",  "/catalog/", None,                                     ("login", 200,     200,     200,     200,     200,     200,     200,     200)),
    ("GET",  "/catalog/{simple_type}/request/", None,               ("login", 200,     200,     200,     200,     200,     200,     200,     200)),
    ("POST", "/catalog/{simple_type}/request/", {},                 ("login", "done",  "done",  "done",  "done",  "done",  "done",  "done",  "done")),
    ("GET",  "/requests/", None,                                    ("login", 200,     200,     200,     200,     200,     200,     200,     200)),
    ("GET",  "/requests/{pending}/", None,                          ("login", 200,     200,     404,     200,     404,     200,     200,     200)),
    ("POST", "/requests/{pending}/cancel/", {},                     ("login", "done",  "no",    404,     "no",    404,     "no",    "done",  "done")),
    ("POST", "/requests/{pending}/comment/", {"text": "Hi"},        ("login", "done",  "done",  404,     "done",  404,     "no",    "done",  "done")),
    ("GET",  "/approvals/", None,                                   ("login", 200,     200,     200,     200,     200,     200,     200,     200)),
    ("POST", "/approvals/{approval}/decide/", {"decision": "approve"},
                                                                    ("login", "no",    "done",  404,     "no",    404,     "no",    "no",    "no")),
    ("GET",  "/approvals/link/{token}/", None,                      ("login", 404,     200,     404,     404,     404,     404,     404,     404)),
    ("POST", "/approvals/link/{token}/", {"decision": "approve"},   ("login", 404,     "done",  404,     404,     404,     404,     404,     404)),
    ("GET",  "/tasks/", None,                                       ("login", 200,     200,     200,     200,     200,     200,     200,     200)),
    ("POST", "/tasks/{task}/complete/", {"note": "ok"},             ("login", "no",    "no",    404,     "no",    404,     "no",    "done",  "done")),
    ("POST", "/tasks/{free_task}/complete/", {"note": "ok"},        ("login", "no",    "no",    404,     "done",  404,     "no",    "done",  "done")),
    ("GET",  "/delegations/", None,                                 ("login", 200,     200,     200,     200,     200,     200,     200,     200)),
    ("POST", "/delegations/", {"delegate": "colleague", "starts_at": "{after}", "ends_at": "{long_after}"},
                                                                    ("login", "done",  "done",  "done",  "done",  "done",  "done",  "done",  "done")),
    ("POST", "/delegations/{delegation}/end/", {},                  ("login", 404,     "done",  404,     404,     404,     404,     404,     404)),
    ("GET",  "/tokens/", None,                                      ("login", 200,     200,     200,     200,     200,     200,     200,     200)),
    ("POST", "/tokens/{api_token}/revoke/", {},                     ("login", "done",  404,     404,     404,     404,     404,     404,     404)),
]
# fmt: on


@dataclass
class World:
    people: dict[str, User | None]
    ids: dict[str, Any]


def _permissions(*prefixes: str) -> list[Permission]:
    return [p for p in Permission.objects.all() if p.codename.startswith(prefixes)]


def _build() -> World:
    manager = UserFactory(username="bob")
    people: dict[str, User | None] = {
        "anon": None,
        "requester": UserFactory(username="alice", manager=manager),
        "manager": manager,
        "employee": UserFactory(username="erin"),
        "member": UserFactory(username="mia"),
        "staff": UserFactory(username="stan", is_staff=True),
        "viewer": UserFactory(username="vera", is_staff=True),
        "editor": UserFactory(username="eddie", is_staff=True),
        "root": UserFactory(username="root", is_staff=True, is_superuser=True),
    }
    people["viewer"].user_permissions.set(_permissions("view_"))
    people["editor"].user_permissions.set(
        [*_permissions("view_", "change_"), Permission.objects.get(codename="run_delegated_flow")]
    )
    other_root = UserFactory(username="root2", is_staff=True, is_superuser=True)
    colleague = UserFactory(username="colleague")

    team = Team.objects.create(
        name="Badge Access", assignment_strategy=AssignmentStrategy.FIXED_MEMBER
    )
    TeamMembership.objects.create(team=team, user=colleague)
    TeamMembership.objects.create(team=team, user=people["member"])
    team.fixed_member = colleague
    team.save()

    badge = RequestType.objects.create(
        name="Badge", owning_team=team, status=RequestTypeStatus.ACTIVE
    )
    Step.objects.create(
        request_type=badge, position=1, kind=StepKind.APPROVAL, approver_kind=ApproverKind.MANAGER
    )
    Step.objects.create(request_type=badge, position=2, kind=StepKind.TASK, title="Print it")
    simple = RequestType.objects.create(
        name="Simple", owning_team=team, status=RequestTypeStatus.ACTIVE
    )

    def submit() -> AccessRequest:
        return request_services.request_submit(
            request_type=badge, requester=people["requester"], answers={}
        )

    pending = submit()
    approval = Approval.objects.get(request=pending)
    with_task, with_free_task = submit(), submit()
    for access_request in (with_task, with_free_task):
        request_services.approval_decide(
            approval=Approval.objects.get(request=access_request), actor=manager, approve=True
        )
    task = Task.objects.get(request=with_task)
    free_task = Task.objects.get(request=with_free_task)
    Task.objects.filter(pk=free_task.pk).update(assignee=None)
    assert task.assignee == colleague

    group = Group.objects.create(name="VPN Users")
    GroupMembership.objects.create(group=group, user=people["employee"])
    application = Application.objects.create(name="CRM")
    AppAssignment.objects.create(application=application, user=people["employee"])
    directory_services.user_update_profile(
        user=people["employee"], actor=None, changes={"title": "Clerk"}
    )

    flow = flow_services.flow_create(
        actor=None,
        name="Badge flow",
        kind="delegated",
        definition={
            "inputs": [{"name": "email", "type": "text"}],
            "cards": [{"id": "a", "card": "control.assign", "inputs": {"e": "{{ inputs.email }}"}}],
        },
    )
    flow_services.flow_create(
        actor=None,
        name="Matrix hook",
        kind="api",
        definition={
            "trigger": {"type": "api", "slug": "matrix", "synchronous": True},
            "inputs": [{"name": "name", "type": "text"}],
            "cards": [
                {"id": "r", "card": "control.return", "inputs": {"value": "{{ inputs.name }}"}}
            ],
        },
    )
    audit_services.ingest_source_create(actor=None, name="Okta", slug="okta")
    run = flow_services.run_enqueue(
        flow=flow, inputs={"email": "a@example.com"}, trigger=Trigger.API, actor=people["root"]
    )
    now = timezone.now()
    delegation = ApproverDelegation.objects.create(
        approver=manager,
        delegate=colleague,
        starts_at=now - dt.timedelta(days=1),
        ends_at=now + dt.timedelta(days=7),
    )
    local = timezone.localtime(now)
    ids = {
        "employee": people["employee"].pk,
        "staff": people["staff"].pk,
        "other_root": other_root.pk,
        "group": group.pk,
        "application": application.pk,
        "event": SystemLogEvent.objects.latest("id").uuid,
        "simple_type": simple.pk,
        "pending": pending.pk,
        "approval": approval.pk,
        "token": approval_link_token(approval.pk),
        "task": task.pk,
        "free_task": free_task.pk,
        "flow": flow.pk,
        "run": run.pk,
        "connection": flow_services.connection_create(
            actor=None, name="crm", kind="bearer", secret="s3cret"
        ).pk,
        "delegation": delegation.pk,
        "api_token": directory_services.api_token_issue(
            user=people["requester"], actor=people["requester"], name="CLI"
        ).token.pk,
        "now": (local + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "later": (local + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        # after the manager's current delegation: overlapping periods are refused
        "after": (local + dt.timedelta(days=8)).strftime("%Y-%m-%dT%H:%M"),
        "long_after": (local + dt.timedelta(days=9)).strftime("%Y-%m-%dT%H:%M"),
    }
    assert Flow.objects.filter(pk=flow.pk).exists() and FlowRun.objects.filter(pk=run.pk).exists()
    return World(people=people, ids=ids)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once, inside a transaction rolled back when the module is done."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield _build()
        transaction.set_rollback(True)


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str):
        filled = value.format(**ids)
        return int(filled) if filled.isdigit() and value.startswith("{") else filled
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    return value


def _api_answer(user: User | None, method: str, path: str, body: Any) -> int:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    call = getattr(client, method.lower())
    response = call(path, body, format="json") if body is not None else call(path)
    return response.status_code


def _portal_answer(user: User | None, method: str, path: str, form: Any) -> int | str:
    client = Client()
    if user is not None:
        client.force_login(user)
    response = client.get(path) if method == "GET" else client.post(path, form)
    if response.status_code != 302:
        return response.status_code
    if response["Location"].startswith("/login/"):
        return "login"
    levels = {message.level for message in get_messages(response.wsgi_request)}
    if message_levels.ERROR in levels:
        return "no"
    if message_levels.SUCCESS in levels:
        return "done"
    return 302


def _row(world: World, answer, method: str, path: str, body: Any) -> dict[str, Any]:
    """What each role gets, each call in a savepoint rolled back at once."""
    path, body = _fill(path, world.ids), _fill(body, world.ids)
    got = {}
    for role in ROLES:
        with transaction.atomic():
            got[role] = answer(world.people[role], method, path, body)
            transaction.set_rollback(True)
    return got


def _label(row) -> str:
    method, path, body, _ = row
    return f"{method} {path} {body or ''}".strip()


@pytest.mark.django_db
@pytest.mark.parametrize("row", API, ids=[_label(row) for row in API])
def test_api(world, row):
    method, path, body, expected = row
    assert _row(world, _api_answer, method, path, body) == dict(zip(ROLES, expected, strict=True))


@pytest.mark.django_db
@pytest.mark.parametrize("row", PORTAL, ids=[_label(row) for row in PORTAL])
def test_portal(world, row):
    method, path, form, expected = row
    assert _row(world, _portal_answer, method, path, form) == dict(
        zip(ROLES, expected, strict=True)
    )

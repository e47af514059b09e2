"""No API answers bad input with a 500: each malformed call gets a precise 400 with a reason.

Every call names objects that exist (made here), so it reaches the input handling it is about
instead of stopping at a 404 for a missing id.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.access_requests import services as requests
from apps.flows import services as flows
from apps.flows.models import FlowKind
from tests.factories import (
    ApprovalStepFactory,
    GroupFactory,
    QuestionStepFactory,
    RequestTypeFactory,
    TaskStepFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(admin_user):
    """The objects the calls name: a request type, an approval and a task waiting, a flow..."""
    manager = UserFactory(username="manager")
    requester = UserFactory(username="requester", manager=manager)
    typed = RequestTypeFactory(name="Typed answers")
    QuestionStepFactory(request_type=typed, key="end_date", question_type="date")
    QuestionStepFactory(request_type=typed, key="building")
    approved_by_manager = RequestTypeFactory(name="Manager approves")
    ApprovalStepFactory(request_type=approved_by_manager)
    with_task = RequestTypeFactory(name="A task")
    TaskStepFactory(request_type=with_task)
    pending = requests.request_submit(
        request_type=approved_by_manager, requester=requester, answers={}
    )
    working = requests.request_submit(request_type=with_task, requester=requester, answers={})
    flow = flows.flow_create(
        actor=admin_user,
        name="Brief the assignee",
        kind=FlowKind.API,
        definition={
            "inputs": [{"name": "requesterEmail", "type": "text", "required": True}],
            "cards": [
                {"id": "say", "card": "text.compose", "inputs": {"template": "Hello"}},
            ],
        },
    )
    return {
        "manager": manager,
        "request_type": typed.pk,
        "approval": pending.approvals.get().pk,
        "task": working.tasks.get().pk,
        "flow": flow.pk,
        "user": requester.pk,
        "group": GroupFactory().pk,
        "connection": flows.connection_create(
            actor=admin_user, name="crm", kind="bearer", secret="s3cret"
        ).pk,
    }


# (method, URL, body, the names the 400 must give a reason for[, who calls: admin unless named]);
# each "{placeholder}" is the id of a real object.
CASES = [
    ("post", "/api/v1/requests/", {"request_type": "abc", "answers": []}, ["request_type"]),
    ("post", "/api/v1/requests/", {"request_type": "{request_type}", "answers": "x"}, ["answers"]),
    ("post", "/api/v1/requests/", ["not", "an", "object"], ["non_field_errors"]),
    ("post", "/api/v1/requests/", {"request_type": 99999, "answers": {}}, ["request_type"]),
    (
        "post",
        "/api/v1/requests/",
        {"request_type": "{request_type}", "answers": {"end_date": {"x": 1}, "building": [1]}},
        ["end_date", "building"],
    ),
    # The approver decides: an admin who is not asked sees no such approval.
    ("post", "/api/v1/approvals/{approval}/approve/", {"comment": ["x"]}, ["comment"], "manager"),
    ("post", "/api/v1/tasks/{task}/complete/", {"note": {"a": 1}}, ["note"]),
    ("post", "/api/v1/flows/{flow}/run/", {"inputs": []}, ["inputs"]),
    (
        "post",
        "/api/v1/flows/{flow}/run/",
        {"inputs": {"requesterEmail": {"x": 1}}},
        ["requesterEmail"],
    ),
    ("post", "/api/v1/flows/{flow}/run/", "garbage", ["non_field_errors"]),
    ("patch", "/api/v1/users/{user}/", [], ["detail"]),
    ("patch", "/api/v1/users/{user}/", {"manager": "abc"}, ["manager"]),
    ("patch", "/api/v1/users/{user}/", {"email": "not-an-email"}, ["email"]),
    (
        "post",
        "/api/v1/groups/{group}/holders/",
        {"user": "{user}", "expires_at": "nope"},
        ["expires_at"],
    ),
    ("post", "/api/v1/groups/{group}/holders/", {"user": "x"}, ["user"]),
    ("post", "/api/v1/connections/", ["x"], ["non_field_errors"]),
    (
        "post",
        "/api/v1/connections/",
        {"name": "x", "kind": "bearer", "secret": {"a": 1}},
        ["secret"],
    ),
    (
        "patch",
        "/api/v1/connections/{connection}/",
        {"allowed_private_hosts": [{"a": 1}]},
        ["allowed_private_hosts"],
    ),
    ("patch", "/api/v1/connections/{connection}/", {"token_url": "nope"}, ["token_url"]),
    ("get", "/api/v1/system-log/?since=2020-13-45T99:00", None, ["since"]),
    ("get", "/api/v1/requests/?status=bogus", None, ["status"]),
    ("get", "/api/v1/approvals/?status=bogus", None, ["status"]),
]


def _with_ids(value, ids):
    """`value` with each "{name}" replaced by the id it names (kept an int when it is one)."""
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
            return ids[value[1:-1]]
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {key: _with_ids(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_ids(item, ids) for item in value]
    return value


def _names_in(errors) -> set[str]:
    """Every key of a (nested) DRF error body."""
    names: set[str] = set()
    if isinstance(errors, dict):
        for key, value in errors.items():
            names.add(key)
            names |= _names_in(value)
    elif isinstance(errors, list):
        for item in errors:
            names |= _names_in(item)
    return names


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]} {c[1]} {c[3]}" for c in CASES])
def test_bad_input_is_a_400_naming_the_problem(admin_user, objects, case):
    method, url, body, named, *caller = case
    client = APIClient()
    client.force_authenticate(objects[caller[0]] if caller else admin_user)
    url, body = _with_ids(url, objects), _with_ids(body, objects)

    response = (
        getattr(client, method)(url, body, format="json") if body is not None else client.get(url)
    )

    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert set(named) <= _names_in(response.json()), response.json()


def test_a_malformed_id_in_the_path_is_a_404(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    assert client.post("/api/v1/approvals/abc/approve/", {}, format="json").status_code == 404

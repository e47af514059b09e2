"""Who may open a request's page, and that GET never changes anything."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from apps.access_requests import notifications
from apps.access_requests.models import ApprovalStatus, RequestStatus, TaskStatus
from tests.factories import UserFactory
from tests.portal.conftest import make_type, task

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(org, pending_request):
    """Everyone with a part in `pending_request`, and some without."""
    assert pending_request.assignee == org.carol
    viewer_staff = UserFactory(username="auditor", is_staff=True)
    viewer_staff.user_permissions.add(
        Permission.objects.get(
            codename="view_accessrequest", content_type__app_label="access_requests"
        )
    )
    return {
        "requester": org.alice,
        "approver": org.boss,
        "assignee": org.carol,
        "team member": org.dave,
        "superuser": UserFactory(username="root", is_staff=True, is_superuser=True),
        "staff with the view permission": viewer_staff,
        "unrelated employee": org.outsider,
        "staff without the view permission": UserFactory(username="clerk", is_staff=True),
    }


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("requester", 200),
        ("approver", 200),
        ("assignee", 200),
        ("team member", 200),
        ("superuser", 200),
        ("staff with the view permission", 200),
        ("unrelated employee", 404),
        ("staff without the view permission", 404),
    ],
)
def test_who_sees_the_request_page(client, people, pending_request, who, status):
    client.force_login(people[who])
    url = reverse("portal:request-detail", args=[pending_request.pk])
    assert client.get(url).status_code == status


def test_a_missing_request_is_not_found(client, org):
    client.force_login(org.alice)
    assert client.get(reverse("portal:request-detail", args=[999])).status_code == 404


def test_outsiders_cannot_act_on_a_request_they_cannot_see(client, org, pending_request):
    client.force_login(org.outsider)
    pk = pending_request.pk
    assert client.post(reverse("portal:request-cancel", args=[pk])).status_code == 404
    assert (
        client.post(reverse("portal:request-comment", args=[pk]), {"text": "hi"}).status_code == 404
    )
    pending_request.refresh_from_db()
    assert pending_request.status == RequestStatus.PENDING
    assert not pending_request.timeline.filter(kind="comment").exists()


# --- No state change on GET -----------------------------------------------------------------


def test_opening_the_approval_link_leaves_the_approval_pending(client, org, pending_request):
    approval = pending_request.approvals.get()
    url = reverse("portal:approval-link", args=[notifications.approval_link_token(approval.pk)])
    client.force_login(org.boss)
    for _ in range(2):
        assert client.get(url, {"decision": "approve"}).status_code == 200
    approval.refresh_from_db()
    pending_request.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert pending_request.status == RequestStatus.PENDING


def test_action_urls_refuse_get(client, org, pending_request):
    work = org.submit(make_type(org.team, task(), name="Task only")).tasks.get()
    approval = pending_request.approvals.get()
    urls = {
        "decide": (org.boss, reverse("portal:approval-decide", args=[approval.pk])),
        "cancel": (org.alice, reverse("portal:request-cancel", args=[pending_request.pk])),
        "comment": (org.alice, reverse("portal:request-comment", args=[pending_request.pk])),
        "complete": (org.carol, reverse("portal:task-complete", args=[work.pk])),
    }
    for person, url in urls.values():
        client.force_login(person)
        assert client.get(url, {"decision": "approve", "text": "x"}).status_code == 405
    approval.refresh_from_db()
    pending_request.refresh_from_db()
    work.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert pending_request.status == RequestStatus.PENDING
    assert work.status == TaskStatus.OPEN
    assert not pending_request.timeline.filter(kind="comment").exists()


def test_posts_need_the_csrf_token(org, pending_request):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(org.alice)
    response = client.post(reverse("portal:request-cancel", args=[pending_request.pk]))
    assert response.status_code == 403
    pending_request.refresh_from_db()
    assert pending_request.status == RequestStatus.PENDING

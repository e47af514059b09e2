"""Every list page, and a request's page, costs the same number of queries for 3 rows or 30."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.access_requests import services
from apps.access_requests.models import Audience, QuestionType
from tests.factories import ConfigListFactory, ConfigListItemFactory, UserFactory
from tests.portal.conftest import make_type, manager_approval, question, task

pytestmark = pytest.mark.django_db


def queries_for(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def assert_constant(client, url: str, grow: Callable[[int], None]) -> None:
    """Same query count with 3 rows as with 30 (more than a page of 25)."""
    grow(3)
    few = queries_for(client, url)
    grow(27)
    many = queries_for(client, url)
    assert len(few) == len(many), "\n".join(many)


@pytest.fixture
def rich_type(org):
    """A type whose answers need lookups to show: a list item and a person."""
    buildings = ConfigListFactory()
    buildings.teams.add(org.team)
    ConfigListItemFactory(config_list=buildings, value="hq", label="HQ Paris")
    return make_type(
        org.team,
        question("building", QuestionType.LIST_CHOICE, config_list=buildings),
        question("buddy", QuestionType.USER),
        manager_approval(),
        task(),
    )


def test_catalog(client, org):
    def grow(n):
        for _ in range(n):
            restricted = make_type(org.team, audience=Audience.RESTRICTED)
            restricted.audience_teams.add(org.team)
            make_type(org.team, resource_group=None)

    client.force_login(org.carol)
    assert_constant(client, reverse("portal:catalog"), grow)


def test_my_requests(client, org, rich_type):
    def grow(n):
        for _ in range(n):
            org.submit(rich_type, building="hq", buddy=org.dave.pk)

    client.force_login(org.alice)
    assert_constant(client, reverse("portal:my-requests"), grow)


def test_my_requests_filtered_by_status(client, org, rich_type):
    def grow(n):
        for _ in range(n):
            org.submit(rich_type, building="hq", buddy=org.dave.pk)  # waits: pending
            canceled = org.submit(rich_type, building="hq", buddy=org.dave.pk)
            services.request_cancel(request=canceled, actor=org.alice)

    client.force_login(org.alice)
    url = reverse("portal:my-requests") + "?status=pending"
    assert_constant(client, url, grow)
    page = client.get(url).context["page"]
    assert page.paginator.count == 30 and len(page.object_list) == 25
    assert {row.status for row in page.object_list} == {"pending"}


def test_pending_approvals(client, org, rich_type):
    def grow(n):
        for _ in range(n):
            requester = UserFactory(manager=org.boss)
            org.submit(rich_type, requester=requester, building="hq", buddy=org.dave.pk)

    client.force_login(org.boss)
    assert_constant(client, reverse("portal:approvals"), grow)


def test_decided_approvals(client, org, rich_type):
    def grow(n):
        for _ in range(n):
            created = org.submit(rich_type, building="hq", buddy=org.dave.pk)
            services.approval_decide(
                approval=created.approvals.get(), actor=org.boss, approve=False, comment="No."
            )

    client.force_login(org.boss)
    assert_constant(client, reverse("portal:approvals") + "?tab=decided", grow)


def test_tasks(client, org):
    task_type = make_type(org.team, task())

    def grow(n):
        for _ in range(n):
            org.submit(task_type)

    client.force_login(org.carol)
    assert_constant(client, reverse("portal:tasks"), grow)


def test_request_page_does_not_grow_with_the_timeline(client, org, rich_type):
    created = org.submit(rich_type, building="hq", buddy=org.dave.pk)

    def grow(n):
        for index in range(n):
            services.request_comment(request=created, actor=org.boss, text=f"note {index}")

    client.force_login(org.boss)
    assert_constant(client, reverse("portal:request-detail", args=[created.pk]), grow)


def test_request_page_for_the_assignee_with_tasks(client, org):
    task_type = make_type(org.team, task("first"), task("second"))
    created = org.submit(task_type)

    def grow(n):
        for index in range(n):
            services.request_comment(request=created, actor=org.carol, text=f"note {index}")

    client.force_login(org.dave)
    assert_constant(client, reverse("portal:request-detail", args=[created.pk]), grow)

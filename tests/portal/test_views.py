"""The portal pages: what they show, what their forms do, and how refusals look."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from apps.access_requests import notifications, services
from apps.access_requests.models import (
    AccessRequest,
    Approval,
    ApprovalStatus,
    ApproverDelegation,
    Audience,
    QuestionType,
    RequestStatus,
    RequestTypeStatus,
    Task,
    TaskStatus,
    TimelineKind,
)
from tests.factories import (
    ConfigListFactory,
    ConfigListItemFactory,
    GroupFactory,
    UserFactory,
)
from tests.portal.conftest import make_type, manager_approval, question, task

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def follow_messages(client, response) -> list[str]:
    """The flash messages shown on the page a POST redirected to."""
    return messages_of(client.get(response.url))


# --- Sign-in and the shell ------------------------------------------------------------------


def test_every_portal_page_needs_sign_in(client, pending_request):
    for url in [
        reverse("portal:catalog"),
        reverse("portal:my-requests"),
        reverse("portal:request-detail", args=[pending_request.pk]),
        reverse("portal:approvals"),
        reverse("portal:tasks"),
        reverse("portal:delegations"),
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url == f"{reverse('portal:login')}?next={url}"


def test_home_redirects_to_the_catalog(client, org):
    client.force_login(org.alice)
    response = client.get("/")
    assert response.status_code == 302 and response.url == reverse("portal:catalog")


def test_sign_in_with_e_mail_goes_back_where_you_were(client, org):
    page = client.get(reverse("portal:login"))
    assert page.status_code == 200 and b"Username or e-mail" in page.content
    response = client.post(
        reverse("portal:login") + "?next=/tasks/",
        {"username": "ALICE@example.com", "password": "pass-word-123", "next": "/tasks/"},
    )
    assert response.status_code == 302 and response.url == "/tasks/"
    assert client.get("/tasks/").status_code == 200


def test_sign_in_without_next_lands_on_the_portal(client, org):
    response = client.post(
        reverse("portal:login"), {"username": "alice", "password": "pass-word-123"}
    )
    assert response.url == reverse("portal:home")


def test_wrong_password_is_refused_on_the_page(client, org):
    response = client.post(reverse("portal:login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"form-errors" in response.content


def test_sign_out_is_a_post(client, org):
    client.force_login(org.alice)
    assert client.get(reverse("portal:logout")).status_code == 405
    response = client.post(reverse("portal:logout"))
    assert response.url == reverse("portal:login")
    assert client.get(reverse("portal:catalog")).status_code == 302


def test_navigation_counts_pending_approvals_and_open_tasks(client, org, pending_request):
    client.force_login(org.boss)
    page = client.get(reverse("portal:catalog")).content.decode()
    assert 'title="Pending approvals">1<' in page
    assert 'title="Open tasks">0<' in page
    assert "Sign out" in page


def test_admin_still_has_its_own_login(client):
    response = client.get("/admin/")
    assert response.url.startswith("/admin/login/")


# --- Catalog --------------------------------------------------------------------------------


def test_catalog_lists_what_is_offered_to_the_viewer(client, org):
    make_type(org.team, name="Badge access", description="Open doors.")
    make_type(org.team, name="Draft thing", status=RequestTypeStatus.DRAFT)
    restricted = make_type(org.team, name="Team only", audience=Audience.RESTRICTED)
    restricted.audience_teams.add(org.team)
    client.force_login(org.alice)
    page = client.get(reverse("portal:catalog")).content.decode()
    assert "Badge access" in page and "Open doors." in page
    assert "Draft thing" not in page and "Team only" not in page

    client.force_login(org.carol)
    assert "Team only" in client.get(reverse("portal:catalog")).content.decode()


def test_catalog_search(client, org):
    make_type(org.team, name="Badge access")
    make_type(org.team, name="VPN access")
    client.force_login(org.alice)
    page = client.get(reverse("portal:catalog"), {"q": "vpn"}).content.decode()
    assert "VPN access" in page and "Badge access" not in page


# --- The request form -----------------------------------------------------------------------


@pytest.fixture
def buildings(org):
    buildings = ConfigListFactory(name="Buildings", key="buildings")
    buildings.teams.add(org.team)
    ConfigListItemFactory(config_list=buildings, value="hq", label="HQ Paris")
    ConfigListItemFactory(config_list=buildings, value="lyon", label="Lyon Office")
    ConfigListItemFactory(config_list=buildings, value="old", label="Old Depot", active=False)
    return buildings


@pytest.fixture
def every_question_type(org, buildings):
    return make_type(
        org.team,
        question("reason", QuestionType.TEXT),
        question("details", QuestionType.LONG_TEXT, required=False),
        question("doors", QuestionType.NUMBER),
        question("start", QuestionType.DATE),
        question("meeting", QuestionType.DATETIME, required=False),
        question("night", QuestionType.BOOLEAN),
        question("building", QuestionType.LIST_CHOICE, config_list=buildings),
        question("size", QuestionType.OPTIONS, options="s|Small\nl|Large"),
        question("buddy", QuestionType.USER, required=False),
        question(
            "night_reason",
            required=True,
            condition_key="night",
            condition_operator="is_true",
        ),
        task(),
    )


def test_request_form_has_a_field_per_question_type(client, org, every_question_type):
    client.force_login(org.alice)
    url = reverse("portal:request-new", args=[every_question_type.pk])
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert '<textarea name="details"' in page
    assert 'type="number" name="doors"' in page
    assert 'type="date" name="start"' in page
    assert 'type="datetime-local" name="meeting"' in page
    assert (
        '<option value="true">Yes</option>' in page and '<option value="false">No</option>' in page
    )
    assert "HQ Paris" in page and "Lyon Office" in page and "Old Depot" not in page
    assert '<option value="l">Large</option>' in page
    assert 'name="buddy"' in page and "username or e-mail" in page
    assert 'data-condition="{&quot;key&quot;: &quot;night&quot;' in page
    assert "portal/portal.js" in page


def test_submitting_the_form_files_a_typed_request(client, org, every_question_type):
    client.force_login(org.alice)
    url = reverse("portal:request-new", args=[every_question_type.pk])
    response = client.post(
        url,
        {
            "reason": "New office",
            "details": "",
            "doors": "3",
            "start": "2031-05-01",
            "meeting": "2031-05-01T09:30",
            "night": "false",
            "building": "lyon",
            "size": "l",
            "buddy": "CAROL@example.com",
            "night_reason": "ignored: its condition does not hold",
        },
    )
    created = AccessRequest.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("portal:request-detail", args=[created.pk])
    assert created.requester == org.alice
    assert created.answers["doors"] == 3
    assert created.answers["start"] == "2031-05-01"
    assert created.answers["meeting"].startswith("2031-05-01T09:30")
    assert created.answers["night"] is False  # a required yes/no accepts "no"
    assert created.answers["building"] == "lyon"
    assert created.answers["size"] == "l"
    assert created.answers["buddy"] == org.carol.pk
    assert "night_reason" not in created.answers
    assert f"request #{created.pk} was submitted" in " ".join(follow_messages(client, response))


def test_errors_go_on_their_fields_and_nothing_is_written(client, org, every_question_type):
    client.force_login(org.alice)
    url = reverse("portal:request-new", args=[every_question_type.pk])
    response = client.post(
        url,
        {
            "reason": "",
            "doors": "2",
            "start": "2031-05-01",
            "night": "true",
            "building": "lyon",
            "size": "s",
            "night_reason": "",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["reason"] == ["This question needs an answer."]
    assert errors["night_reason"] == ["This question needs an answer."]  # its condition holds
    assert "doors" not in errors
    assert not AccessRequest.objects.exists()


def test_a_wrong_value_is_a_field_error(client, org, every_question_type):
    client.force_login(org.alice)
    url = reverse("portal:request-new", args=[every_question_type.pk])
    response = client.post(
        url,
        {
            "reason": "x",
            "doors": "many",
            "start": "soon",
            "night": "false",
            "building": "old",
            "size": "s",
            "buddy": "nobody-here",
        },
    )
    errors = response.context["form"].errors
    assert set(errors) >= {"doors", "start", "building", "buddy"}
    assert "nobody-here" in errors["buddy"][0]
    assert not AccessRequest.objects.exists()


def test_an_end_date_in_the_past_comes_back_from_the_service_onto_its_field(client, org):
    group_type = make_type(
        org.team,
        question("until", QuestionType.DATE),
        {"kind": "action", "action_kind": "grant_resource", "end_date_key": "until"},
        resource_group=GroupFactory(),
    )
    client.force_login(org.alice)
    response = client.post(
        reverse("portal:request-new", args=[group_type.pk]), {"until": "2001-01-01"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["until"] == ["The end date must be in the future."]
    assert not AccessRequest.objects.exists()


def test_a_type_not_offered_is_not_found(client, org):
    restricted = make_type(org.team, question("why"), audience=Audience.RESTRICTED)
    draft = make_type(org.team, question("why"), status=RequestTypeStatus.DRAFT)
    client.force_login(org.alice)
    for request_type in (restricted, draft):
        url = reverse("portal:request-new", args=[request_type.pk])
        assert client.get(url).status_code == 404
        assert client.post(url, {"why": "x"}).status_code == 404
    assert not AccessRequest.objects.exists()


# --- My requests and the detail page --------------------------------------------------------


def test_my_requests_lists_only_mine_and_filters_by_status(client, org, approval_type):
    mine = org.submit(approval_type, reason="one")
    closed = org.submit(make_type(org.team, name="Nothing to do"))
    org.submit(approval_type, requester=org.dave, reason="not mine")
    client.force_login(org.alice)
    page = client.get(reverse("portal:my-requests"))
    rows = list(page.context["page"])
    assert rows == [closed, mine]
    pending = client.get(reverse("portal:my-requests"), {"status": "pending"})
    assert list(pending.context["page"]) == [mine]
    assert "Pending approval" in pending.content.decode()


def test_detail_shows_answers_by_label_and_people_by_name(client, org, buildings):
    request_type = make_type(
        org.team,
        question("building", QuestionType.LIST_CHOICE, config_list=buildings),
        question("buddy", QuestionType.USER),
        question("night", QuestionType.BOOLEAN),
        manager_approval(),
    )
    created = org.submit(request_type, building="hq", buddy=org.dave.pk, night=False)
    client.force_login(org.alice)
    page = client.get(reverse("portal:request-detail", args=[created.pk])).content.decode()
    assert "HQ Paris" in page
    assert "Dave Okafor" in page
    assert "<dd>No</dd>" in page
    assert "Submitted" in page  # the timeline
    assert "Cancel request" in page
    assert "Your decision is needed" not in page


def test_detail_offers_the_viewers_pending_approval(client, org, pending_request):
    client.force_login(org.boss)
    response = client.get(reverse("portal:request-detail", args=[pending_request.pk]))
    page = response.content.decode()
    assert response.context["my_approval"].approver == org.boss
    assert "Your decision is needed" in page
    assert "Cancel request" not in page


def test_requester_cancels_an_open_request(client, org, pending_request):
    client.force_login(org.alice)
    url = reverse("portal:request-cancel", args=[pending_request.pk])
    response = client.post(url, {"reason": "not needed"})
    pending_request.refresh_from_db()
    assert pending_request.status == RequestStatus.CANCELED
    assert "was canceled" in " ".join(follow_messages(client, response))


def test_cancel_by_someone_else_is_refused_with_a_message(client, org, pending_request):
    client.force_login(org.dave)  # sees it (owning team) but did not ask for it
    response = client.post(reverse("portal:request-cancel", args=[pending_request.pk]))
    assert response.status_code == 302
    pending_request.refresh_from_db()
    assert pending_request.status == RequestStatus.PENDING
    assert "Only the requester" in " ".join(follow_messages(client, response))


def test_canceling_twice_says_so(client, org, pending_request):
    client.force_login(org.alice)
    url = reverse("portal:request-cancel", args=[pending_request.pk])
    client.post(url)
    response = client.post(url)
    assert "canceled and can no longer be changed" in " ".join(follow_messages(client, response))


def test_comment_is_added_to_the_timeline(client, org, pending_request):
    client.force_login(org.boss)
    url = reverse("portal:request-comment", args=[pending_request.pk])
    response = client.post(url, {"text": "Which door exactly?"})
    assert response.status_code == 302
    entry = pending_request.timeline.get(kind=TimelineKind.COMMENT)
    assert entry.message == "Which door exactly?" and entry.actor == org.boss
    empty = client.post(url, {"text": "  "})
    assert "Write a comment" in " ".join(follow_messages(client, empty))
    assert pending_request.timeline.filter(kind=TimelineKind.COMMENT).count() == 1


# --- Approvals ------------------------------------------------------------------------------


def test_an_admin_with_the_view_permission_reads_a_request_but_does_not_comment(
    client, org, pending_request
):
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_accessrequest"))
    client.force_login(viewer)
    url = reverse("portal:request-detail", args=[pending_request.pk])
    page = client.get(url)
    assert page.status_code == 200 and page.context["comment_form"] is None
    assert "Add comment" not in page.content.decode()

    response = client.post(
        reverse("portal:request-comment", args=[pending_request.pk]), {"text": "Hi"}
    )

    assert "You cannot comment on this request." in follow_messages(client, response)
    assert not pending_request.timeline.filter(kind=TimelineKind.COMMENT).exists()
    client.force_login(org.alice)
    assert "Add comment" in client.get(url).content.decode()


def test_approvals_page_lists_pending_with_answers(client, org, pending_request):
    client.force_login(org.boss)
    response = client.get(reverse("portal:approvals"))
    page = response.content.decode()
    assert [a.request for a in response.context["page"]] == [pending_request]
    assert "New office" in page and 'value="approve"' in page and 'value="deny"' in page


def test_approving_from_the_inbox_moves_the_request_on(client, org, pending_request):
    approval = pending_request.approvals.get()
    client.force_login(org.boss)
    response = client.post(
        reverse("portal:approval-decide", args=[approval.pk]),
        {"decision": "approve", "comment": "fine", "next": reverse("portal:approvals")},
    )
    assert response.url == reverse("portal:approvals")
    approval.refresh_from_db()
    pending_request.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED and approval.comment == "fine"
    assert pending_request.status == RequestStatus.APPROVED
    assert pending_request.tasks.get().status == TaskStatus.OPEN
    assert f"You approved request #{pending_request.pk}." in follow_messages(client, response)

    decided = client.get(reverse("portal:approvals"), {"tab": "decided"})
    assert [a.pk for a in decided.context["page"]] == [approval.pk]


def test_denying_denies_the_request(client, org, pending_request):
    approval = pending_request.approvals.get()
    client.force_login(org.boss)
    client.post(
        reverse("portal:approval-decide", args=[approval.pk]),
        {"decision": "deny", "comment": "Not needed."},
    )
    pending_request.refresh_from_db()
    assert pending_request.status == RequestStatus.DENIED


def test_deciding_a_settled_approval_is_a_message_not_an_error(client, org, pending_request):
    approval = pending_request.approvals.get()
    client.force_login(org.boss)
    url = reverse("portal:approval-decide", args=[approval.pk])
    client.post(url, {"decision": "approve"})
    response = client.post(url, {"decision": "deny"})
    assert response.status_code == 302
    assert "already settled" in " ".join(follow_messages(client, response))
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED


def test_deciding_someone_elses_approval_is_refused(client, org, pending_request):
    approval = pending_request.approvals.get()
    client.force_login(org.dave)  # can see the request (owning team), is not the approver
    response = client.post(
        reverse("portal:approval-decide", args=[approval.pk]), {"decision": "approve"}
    )
    assert "not yours" in " ".join(follow_messages(client, response))
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


def test_deciding_an_approval_on_an_unseen_request_is_not_found(client, org, pending_request):
    approval = pending_request.approvals.get()
    client.force_login(org.outsider)
    response = client.post(
        reverse("portal:approval-decide", args=[approval.pk]), {"decision": "approve"}
    )
    assert response.status_code == 404


def test_nobody_approves_their_own_request(client, org, pending_request):
    level = pending_request.levels.get()
    own = Approval.objects.create(level=level, request=pending_request, approver=org.alice)
    client.force_login(org.alice)
    response = client.post(
        reverse("portal:approval-decide", args=[own.pk]), {"decision": "approve"}
    )
    assert "cannot approve your own request" in " ".join(follow_messages(client, response))
    own.refresh_from_db()
    assert own.status == ApprovalStatus.PENDING


def test_a_decision_needs_approve_or_deny(client, org, pending_request):
    approval = pending_request.approvals.get()
    client.force_login(org.boss)
    response = client.post(
        reverse("portal:approval-decide", args=[approval.pk]), {"decision": "maybe"}
    )
    assert "Choose approve or deny." in follow_messages(client, response)


def test_next_must_stay_on_the_site(client, org, pending_request):
    approval = pending_request.approvals.get()
    client.force_login(org.boss)
    response = client.post(
        reverse("portal:approval-decide", args=[approval.pk]),
        {"decision": "approve", "next": "https://evil.example/"},
    )
    assert response.url == reverse("portal:approvals")


# --- The approval link from e-mails ---------------------------------------------------------


def link_for(approval) -> str:
    return reverse("portal:approval-link", args=[notifications.approval_link_token(approval.pk)])


def test_link_needs_sign_in_and_comes_back(client, org, pending_request):
    url = link_for(pending_request.approvals.get())
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"{reverse('portal:login')}?next={quote(url, safe='/')}"
    signed_in = client.post(
        response.url, {"username": "boss", "password": "pass-word-123", "next": url}
    )
    assert signed_in.url == url
    assert client.get(url).status_code == 200


def test_link_get_shows_the_request_and_decides_nothing(client, org, pending_request):
    approval = pending_request.approvals.get()
    client.force_login(org.boss)
    response = client.get(link_for(approval))
    page = response.content.decode()
    assert response.status_code == 200
    assert pending_request.subject in page and "New office" in page
    assert 'value="approve"' in page and 'value="deny"' in page
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


def test_link_post_decides(client, org, pending_request):
    approval = pending_request.approvals.get()
    client.force_login(org.boss)
    response = client.post(link_for(approval), {"decision": "approve", "comment": "ok"})
    assert response.url == reverse("portal:request-detail", args=[pending_request.pk])
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED
    again = client.get(link_for(approval))
    assert "Already settled" in again.content.decode()
    assert 'value="approve"' not in again.content.decode()


def test_link_of_someone_elses_approval_is_not_found(client, org, pending_request):
    approval = pending_request.approvals.get()
    for person in (org.alice, org.dave, org.outsider):
        client.force_login(person)
        assert client.get(link_for(approval)).status_code == 404
        assert client.post(link_for(approval), {"decision": "approve"}).status_code == 404
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


def test_a_tampered_link_is_a_bad_request(client, org, pending_request):
    client.force_login(org.boss)
    url = link_for(pending_request.approvals.get())
    response = client.get(url[:-3] + "xyz/")
    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    assert client.get(reverse("portal:approval-link", args=["garbage"])).status_code == 400


def test_an_expired_link_is_a_bad_request(client, org, pending_request, monkeypatch):
    url = link_for(pending_request.approvals.get())
    monkeypatch.setattr(notifications, "APPROVAL_LINK_MAX_AGE", -1)
    client.force_login(org.boss)
    response = client.get(url)
    assert response.status_code == 400
    assert "expired" in response.content.decode()


# --- Tasks ----------------------------------------------------------------------------------


@pytest.fixture
def task_request(org):
    return org.submit(make_type(org.team, task("Program the badge")))


def test_tasks_page_lists_the_assignees_open_tasks(client, org, task_request):
    client.force_login(org.carol)
    response = client.get(reverse("portal:tasks"))
    assert [t.request for t in response.context["page"]] == [task_request]
    assert "Program the badge" in response.content.decode()
    client.force_login(org.alice)
    assert list(client.get(reverse("portal:tasks")).context["page"]) == []


def test_completing_a_task_closes_the_request(client, org, task_request):
    work = task_request.tasks.get()
    client.force_login(org.carol)
    response = client.post(reverse("portal:task-complete", args=[work.pk]), {"note": "done"})
    assert response.url == reverse("portal:tasks")
    work.refresh_from_db()
    task_request.refresh_from_db()
    assert work.status == TaskStatus.COMPLETED and work.note == "done"
    assert task_request.status == RequestStatus.CLOSED
    assert "completed" in " ".join(follow_messages(client, response))


def test_completing_someone_elses_task_is_refused(client, org, task_request):
    work = task_request.tasks.get()
    client.force_login(org.alice)  # the requester sees the request, but the task is not hers
    response = client.post(reverse("portal:task-complete", args=[work.pk]))
    assert "not yours" in " ".join(follow_messages(client, response))
    work.refresh_from_db()
    assert work.status == TaskStatus.OPEN
    client.force_login(org.outsider)
    assert client.post(reverse("portal:task-complete", args=[work.pk])).status_code == 404


def test_a_colleagues_task_is_not_completed_by_posting_directly(client, org, task_request):
    work = task_request.tasks.get()
    assert work.assignee == org.carol
    client.force_login(org.dave)  # in the owning team, but the task is Carol's
    page = client.get(reverse("portal:request-detail", args=[task_request.pk]))
    assert [task.can_complete for task in page.context["tasks"]] == [False]

    response = client.post(reverse("portal:task-complete", args=[work.pk]), {"note": "mine"})

    assert "It is assigned to Carol Nguyen." in " ".join(follow_messages(client, response))
    work.refresh_from_db()
    assert (work.status, work.note, work.completed_by) == (TaskStatus.OPEN, "", None)


def test_an_unassigned_task_is_completed_by_any_member_and_names_who_did(client, org, task_request):
    work = task_request.tasks.get()
    Task.objects.filter(pk=work.pk).update(assignee=None)
    client.force_login(org.dave)
    page = client.get(reverse("portal:request-detail", args=[task_request.pk]))
    assert [task.can_complete for task in page.context["tasks"]] == [True]

    client.post(reverse("portal:task-complete", args=[work.pk]), {"note": "printed"})

    work.refresh_from_db()
    assert work.completed_by == org.dave
    page = client.get(reverse("portal:request-detail", args=[task_request.pk])).content.decode()
    assert "Completed by Dave Okafor · printed" in page
    timeline = task_request.timeline.get(kind=TimelineKind.TASK_COMPLETED)
    assert timeline.actor == org.dave


def test_a_completed_task_names_who_completed_it(client, org, task_request, admin_user):
    work = task_request.tasks.get()
    services.task_complete(task=work, actor=admin_user, note="done for Carol")
    client.force_login(org.carol)
    page = client.get(reverse("portal:request-detail", args=[task_request.pk])).content.decode()
    assert f"Completed by {admin_user} (assigned to Carol Nguyen) · done for Carol" in page


def test_a_task_is_completed_once(client, org, task_request):
    work = task_request.tasks.get()
    client.force_login(org.carol)
    url = reverse("portal:task-complete", args=[work.pk])
    client.post(url)
    response = client.post(url)
    assert "This task is completed." in follow_messages(client, response)


# --- Delegation -----------------------------------------------------------------------------


def _moment(days: int) -> str:
    return (timezone.localtime() + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def test_delegating_my_approvals(client, org):
    client.force_login(org.boss)
    response = client.post(
        reverse("portal:delegations"),
        {
            "delegate": "dave@example.com",
            "starts_at": _moment(0),
            "ends_at": _moment(7),
            "reason": "Holiday",
        },
    )
    assert response.status_code == 302
    delegation = ApproverDelegation.objects.get()
    assert (delegation.approver, delegation.delegate, delegation.reason) == (
        org.boss,
        org.dave,
        "Holiday",
    )
    page = client.get(reverse("portal:delegations")).content.decode()
    assert "Dave Okafor" in page and "Holiday" in page and "Active" in page
    client.force_login(org.dave)
    assert "Delegated to me" in client.get(reverse("portal:delegations")).content.decode()


def test_delegation_form_errors(client, org):
    client.force_login(org.boss)
    url = reverse("portal:delegations")
    unknown = client.post(
        url, {"delegate": "nobody", "starts_at": _moment(0), "ends_at": _moment(1)}
    )
    assert "delegate" in unknown.context["form"].errors
    backwards = client.post(
        url, {"delegate": "dave", "starts_at": _moment(3), "ends_at": _moment(1)}
    )
    assert "The end must come after the start." in backwards.context["form"].non_field_errors()
    to_self = client.post(url, {"delegate": "boss", "starts_at": _moment(0), "ends_at": _moment(1)})
    assert "Choose someone else as delegate." in to_self.context["form"].non_field_errors()
    past = client.post(url, {"delegate": "dave", "starts_at": _moment(-3), "ends_at": _moment(-1)})
    assert past.context["form"].errors["ends_at"] == ["The end must be in the future."]
    suspended = UserFactory(username="gone", status="suspended")
    inactive = client.post(
        url, {"delegate": suspended.username, "starts_at": _moment(0), "ends_at": _moment(1)}
    )
    assert "delegate" in inactive.context["form"].errors
    assert not ApproverDelegation.objects.exists()

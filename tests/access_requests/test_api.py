"""The access-request API: catalog, submit, decide, complete, and who may see what."""

from dataclasses import dataclass

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from apps.access_requests import services
from apps.access_requests.models import (
    AccessRequest,
    Approval,
    ApprovalStatus,
    ApproverKind,
    Audience,
    ConditionOperator,
    QuestionType,
    RequestStatus,
    RequestType,
    RequestTypeStatus,
    Step,
    StepKind,
    Task,
    TaskStatus,
    TimelineEntry,
)
from apps.audit.models import SystemLogEvent
from apps.catalog.models import ConfigList, ConfigListItem
from apps.directory.models import GroupMembership, User
from apps.teams.models import AssignmentStrategy, Team, TeamMembership
from tests.factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db


# --- Building a world -----------------------------------------------------------------------


@dataclass
class World:
    boss: User
    alice: User
    carol: User
    dave: User
    outsider: User
    admin: User
    team: Team
    buildings: ConfigList
    badge: RequestType


def _step(request_type: RequestType, position: int, kind: str, **fields) -> Step:
    return Step.objects.create(request_type=request_type, position=position, kind=kind, **fields)


def _question(request_type: RequestType, position: int, key: str, question_type: str, **fields):
    return _step(
        request_type,
        position,
        StepKind.QUESTION,
        key=key,
        label=key.replace("_", " ").capitalize(),
        question_type=question_type,
        **fields,
    )


def _team(name: str, *members: User) -> Team:
    team = Team.objects.create(name=name)
    for member in members:
        TeamMembership.objects.create(team=team, user=member)
    if members:
        team.assignment_strategy = AssignmentStrategy.FIXED_MEMBER
        team.fixed_member = members[0]
        team.save()
    return team


def _buildings(team: Team, name: str = "Buildings") -> ConfigList:
    buildings = ConfigList.objects.create(name=name, key=name.lower().replace(" ", "-"))
    buildings.teams.add(team)
    ConfigListItem.objects.create(
        config_list=buildings, value="hq", label="Head office", position=1
    )
    ConfigListItem.objects.create(config_list=buildings, value="annex", position=2)
    ConfigListItem.objects.create(config_list=buildings, value="old", position=3, active=False)
    return buildings


def _badge_type(team: Team, buildings: ConfigList, name: str = "Badge access") -> RequestType:
    """Questions of several types, a manager approval, a grant and a task."""
    badge = RequestType.objects.create(
        name=name,
        owning_team=team,
        status=RequestTypeStatus.ACTIVE,
        resource_group=GroupFactory(name=f"{name} holders"),
    )
    _question(badge, 1, "building", QuestionType.LIST_CHOICE, config_list=buildings)
    _question(
        badge,
        2,
        "floor",
        QuestionType.OPTIONS,
        options="1|First floor\n2|Second floor",
        required=False,
    )
    _question(badge, 3, "visitors", QuestionType.NUMBER, required=False)
    _question(badge, 4, "parking", QuestionType.BOOLEAN, required=False)
    _question(
        badge,
        5,
        "plate",
        QuestionType.TEXT,
        condition_key="parking",
        condition_operator=ConditionOperator.IS_TRUE,
    )
    _step(badge, 6, StepKind.APPROVAL, approver_kind=ApproverKind.MANAGER)
    _step(badge, 7, StepKind.ACTION, action_kind="grant_resource")
    _step(badge, 8, StepKind.TASK, title="Print the badge")
    return badge


@pytest.fixture
def world() -> World:
    boss = UserFactory(username="boss", first_name="Bo", last_name="Boss")
    alice = UserFactory(username="alice", manager=boss)
    carol = UserFactory(username="carol")
    dave = UserFactory(username="dave")
    team = _team("Badge Access", carol, dave)
    buildings = _buildings(team)
    return World(
        boss=boss,
        alice=alice,
        carol=carol,
        dave=dave,
        outsider=UserFactory(username="outsider"),
        admin=UserFactory(username="root", is_staff=True, is_superuser=True),
        team=team,
        buildings=buildings,
        badge=_badge_type(team, buildings),
    )


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def token_client(user: User) -> APIClient:
    """A client that signs in like a script would: a token, then the Authorization header."""
    client = APIClient()
    response = client.post(
        "/api/v1/auth/token/", {"username": user.username, "password": "pass-word-123"}
    )
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def submit(world: World, **answers) -> AccessRequest:
    return services.request_submit(
        request_type=world.badge, requester=world.alice, answers={"building": "hq", **answers}
    )


# --- The catalog ----------------------------------------------------------------------------


def test_request_types_list_questions_with_their_choices_and_conditions(world):
    response = client_for(world.alice).get("/api/v1/request-types/")
    assert response.status_code == 200, response.content
    [badge] = response.json()["results"]
    assert badge["name"] == "Badge access"
    assert badge["owning_team"] == {"id": world.team.pk, "name": "Badge Access"}
    assert badge["resource"]["kind"] == "group"
    questions = {q["key"]: q for q in badge["questions"]}
    assert list(questions) == ["building", "floor", "visitors", "parking", "plate"]
    assert questions["building"]["type"] == "list_choice"
    assert questions["building"]["choices"] == [
        {"value": "hq", "label": "Head office"},
        {"value": "annex", "label": "annex"},
    ]
    assert questions["floor"]["choices"] == [
        {"value": "1", "label": "First floor"},
        {"value": "2", "label": "Second floor"},
    ]
    assert questions["floor"]["required"] is False
    assert questions["visitors"]["choices"] is None
    assert questions["visitors"]["condition"] is None
    assert questions["plate"]["condition"] == {
        "key": "parking",
        "operator": "is_true",
        "value": "",
    }


def test_request_types_not_offered_are_neither_listed_nor_found(world):
    restricted = RequestType.objects.create(
        name="Server room",
        owning_team=world.team,
        status=RequestTypeStatus.ACTIVE,
        audience=Audience.RESTRICTED,
    )
    restricted.audience_teams.add(world.team)
    draft = RequestType.objects.create(name="Draft", owning_team=world.team)
    api = client_for(world.alice)
    names = [t["name"] for t in api.get("/api/v1/request-types/").json()["results"]]
    assert names == ["Badge access"]
    for hidden in (restricted, draft):
        assert api.get(f"/api/v1/request-types/{hidden.pk}/").status_code == 404
    names = [
        t["name"] for t in client_for(world.carol).get("/api/v1/request-types/").json()["results"]
    ]
    assert names == ["Badge access", "Server room"]


def test_request_types_list_query_count_is_constant(world, django_assert_max_num_queries):
    api = client_for(world.alice)

    def add_types(count: int) -> None:
        for number in range(count):
            buildings = _buildings(world.team, name=f"Sites {RequestType.objects.count()}")
            _badge_type(world.team, buildings, name=f"Type {RequestType.objects.count()} {number}")

    add_types(2)
    with django_assert_max_num_queries(4) as few:
        response = api.get("/api/v1/request-types/")
    assert len(response.json()["results"]) == 3
    add_types(27)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = api.get("/api/v1/request-types/")
    results = response.json()["results"]
    assert len(results) == 30
    assert all(len(t["questions"]) == 5 and t["questions"][0]["choices"] for t in results)


# --- Submitting -----------------------------------------------------------------------------


def test_submit_approve_complete_closes_the_request(world):
    response = client_for(world.alice).post(
        "/api/v1/requests/",
        {"request_type": world.badge.pk, "answers": {"building": "hq", "visitors": "3"}},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"].endswith(f"/api/v1/requests/{body['id']}/")
    assert body["status"] == "pending"
    assert body["request_type"] == {"id": world.badge.pk, "name": "Badge access"}
    assert body["type_version"] == world.badge.version
    assert body["requester"] == {
        "id": world.alice.pk,
        "name": str(world.alice),
        "email": world.alice.email,
    }
    assert body["assignee"]["id"] == world.carol.pk
    assert body["answers"] == {"building": "hq", "visitors": 3}
    assert body["timeline"][0]["kind"] == "submitted"
    assert body["timeline"][0]["actor"]["id"] == world.alice.pk
    [pending] = body["pending_approvals"]
    assert pending["approver"]["id"] == world.boss.pk
    assert body["open_tasks"] == []

    boss = token_client(world.boss)
    inbox = boss.get("/api/v1/approvals/?status=pending").json()["results"]
    assert [a["id"] for a in inbox] == [pending["id"]]
    assert inbox[0]["request"]["requester"]["id"] == world.alice.pk
    decided = boss.post(
        f"/api/v1/approvals/{pending['id']}/approve/", {"comment": "fine"}, format="json"
    )
    assert decided.status_code == 200, decided.content
    assert decided.json()["status"] == "approved"
    assert decided.json()["comment"] == "fine"
    assert decided.json()["request"]["status"] == "approved"
    assert GroupMembership.objects.filter(group=world.badge.resource_group, user=world.alice)

    carol = client_for(world.carol)
    [task] = carol.get("/api/v1/tasks/").json()["results"]
    assert task["title"] == "Print the badge" and task["status"] == "open"
    done = carol.post(f"/api/v1/tasks/{task['id']}/complete/", {"note": "printed"}, format="json")
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "completed"
    assert done.json()["completed_by"]["id"] == world.carol.pk
    assert done.json()["request"]["status"] == "closed"
    assert carol.get("/api/v1/tasks/").json()["results"] == []
    assert len(carol.get("/api/v1/tasks/?status=all").json()["results"]) == 1

    detail = client_for(world.alice).get(f"/api/v1/requests/{body['id']}/").json()
    assert detail["status"] == "closed"
    assert detail["pending_approvals"] == [] and detail["open_tasks"] == []
    kinds = [entry["kind"] for entry in detail["timeline"]]
    assert kinds[0] == "submitted" and "decision" in kinds and "grant" in kinds
    assert kinds[-1] == "status"


def _nothing_written(before: int) -> None:
    assert AccessRequest.objects.count() == before
    assert not TimelineEntry.objects.exists()
    assert not SystemLogEvent.objects.filter(event_type="access_request.created").exists()


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"building": "hq", "visitors": "twelve"}, "visitors"),  # wrong type
        ({"floor": "1"}, "building"),  # required question missing
        ({"building": "old"}, "building"),  # an inactive list item
        ({"building": "hq", "floor": "9"}, "floor"),  # not one of the options
        ({"building": "hq", "parking": True}, "plate"),  # required once its condition holds
        ({"building": "hq", "colour": "red"}, "colour"),  # no such question
    ],
)
def test_a_refused_answer_is_a_400_naming_the_question_and_nothing_is_written(
    world, answers, field
):
    before = AccessRequest.objects.count()
    response = client_for(world.alice).post(
        "/api/v1/requests/", {"request_type": world.badge.pk, "answers": answers}, format="json"
    )
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["answers"]
    assert list(response.json()["answers"]) == [field]
    assert response.json()["answers"][field][0]
    _nothing_written(before)


def test_a_form_post_names_answers_with_dots(world):
    response = client_for(world.alice).post(
        "/api/v1/requests/", {"request_type": world.badge.pk, "answers.building": "annex"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["answers"] == {"building": "annex"}


def test_a_malformed_envelope_is_a_400_naming_the_field(world):
    api = client_for(world.alice)
    before = AccessRequest.objects.count()
    cases = [
        ({"answers": {"building": "hq"}}, "request_type"),
        ({"request_type": "badge", "answers": {}}, "request_type"),
        ({"request_type": world.badge.pk, "answers": ["hq"]}, "answers"),
        ({"request_type": world.badge.pk, "building": "hq"}, "building"),  # answers at top level
    ]
    for body, field in cases:
        response = api.post("/api/v1/requests/", body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json(), (body, response.json())
    _nothing_written(before)


def test_a_type_not_offered_is_a_400_on_request_type_that_reveals_nothing(world):
    restricted = RequestType.objects.create(
        name="Server room",
        owning_team=world.team,
        status=RequestTypeStatus.ACTIVE,
        audience=Audience.RESTRICTED,
    )
    restricted.audience_teams.add(world.team)
    draft = RequestType.objects.create(name="Draft", owning_team=world.team)
    api = client_for(world.alice)
    answers = []
    for type_id in (restricted.pk, draft.pk, 999_999):
        response = api.post(
            "/api/v1/requests/", {"request_type": type_id, "answers": {}}, format="json"
        )
        assert response.status_code == 400
        answers.append(response.json())
    assert answers == [{"request_type": ["This request type is not offered to you."]}] * 3
    _nothing_written(0)


def test_the_api_needs_authentication(world):
    anonymous = APIClient()
    for url in ("/api/v1/request-types/", "/api/v1/requests/", "/api/v1/approvals/"):
        assert anonymous.get(url).status_code == 401
    response = anonymous.post(
        "/api/v1/requests/", {"request_type": world.badge.pk, "answers": {}}, format="json"
    )
    assert response.status_code == 401


# --- Reading requests -----------------------------------------------------------------------


def test_every_party_sees_the_request_and_an_unrelated_user_gets_404_everywhere(world):
    request = submit(world)
    approval = request.approvals.get()
    for person in (world.alice, world.boss, world.carol, world.dave, world.admin):
        response = client_for(person).get(f"/api/v1/requests/{request.pk}/")
        assert response.status_code == 200, person
        assert response.json()["id"] == request.pk

    outsider = client_for(world.outsider)
    entries = TimelineEntry.objects.count()
    assert outsider.get(f"/api/v1/requests/{request.pk}/").status_code == 404
    assert outsider.post(f"/api/v1/requests/{request.pk}/cancel/").status_code == 404
    comment = outsider.post(f"/api/v1/requests/{request.pk}/comments/", {"text": "hi"})
    assert comment.status_code == 404
    assert outsider.get(f"/api/v1/approvals/{approval.pk}/").status_code == 404
    assert outsider.post(f"/api/v1/approvals/{approval.pk}/approve/").status_code == 404
    assert outsider.post(f"/api/v1/approvals/{approval.pk}/deny/").status_code == 404
    visible = outsider.get("/api/v1/requests/?scope=visible").json()
    assert visible["count"] == 0
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING
    assert TimelineEntry.objects.count() == entries


def test_the_request_list_shows_own_requests_unless_asked_for_all_visible(world):
    request = submit(world)
    carol = client_for(world.carol)
    assert carol.get("/api/v1/requests/").json()["count"] == 0
    visible = carol.get("/api/v1/requests/?scope=visible").json()
    assert [r["id"] for r in visible["results"]] == [request.pk]
    alice = client_for(world.alice)
    assert alice.get("/api/v1/requests/").json()["results"][0]["id"] == request.pk
    assert alice.get("/api/v1/requests/?status=pending").json()["count"] == 1
    assert alice.get("/api/v1/requests/?status=closed").json()["count"] == 0
    assert alice.get(f"/api/v1/requests/?request_type={world.badge.pk}").json()["count"] == 1
    assert alice.get(f"/api/v1/requests/?request_type={world.badge.pk + 1}").json()["count"] == 0


def test_bad_list_filters_are_a_400_naming_the_parameter(world):
    alice = client_for(world.alice)
    for query, field in (
        ("status=bogus", "status"),
        ("scope=everything", "scope"),
        ("request_type=abc", "request_type"),
    ):
        response = alice.get(f"/api/v1/requests/?{query}")
        assert response.status_code == 400
        assert field in response.json()
    assert client_for(world.boss).get("/api/v1/approvals/?status=maybe").status_code == 400
    assert client_for(world.carol).get("/api/v1/tasks/?status=later").status_code == 400


def test_requests_list_query_count_is_constant(world, django_assert_max_num_queries):
    alice, carol, admin = (client_for(u) for u in (world.alice, world.carol, world.admin))
    for _ in range(3):
        submit(world)
    counts = {}
    for name, api, url in (
        ("own", alice, "/api/v1/requests/"),
        ("team", carol, "/api/v1/requests/?scope=visible"),
        ("admin", admin, "/api/v1/requests/?scope=visible&status=pending"),
    ):
        with django_assert_max_num_queries(2) as few:
            assert api.get(url).json()["count"] == 3
        counts[name] = len(few.captured_queries)
    for _ in range(27):
        submit(world)
    for name, api, url in (
        ("own", alice, "/api/v1/requests/"),
        ("team", carol, "/api/v1/requests/?scope=visible"),
        ("admin", admin, "/api/v1/requests/?scope=visible&status=pending"),
    ):
        with django_assert_max_num_queries(counts[name]):
            assert len(api.get(url).json()["results"]) == 30


# --- Comments and canceling -----------------------------------------------------------------


def test_a_visible_party_comments_and_a_blank_comment_is_refused(world):
    request = submit(world)
    response = client_for(world.boss).post(
        f"/api/v1/requests/{request.pk}/comments/", {"text": "Which floor?"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "comment"
    assert response.json()["message"] == "Which floor?"
    assert response.json()["actor"]["id"] == world.boss.pk
    blank = client_for(world.alice).post(
        f"/api/v1/requests/{request.pk}/comments/", {"text": "  "}, format="json"
    )
    assert blank.status_code == 400
    assert "text" in blank.json()
    assert request.timeline.filter(kind="comment").count() == 1


def test_the_requester_cancels_others_get_403_and_a_finished_request_409(world):
    request = submit(world)
    refused = client_for(world.boss).post(f"/api/v1/requests/{request.pk}/cancel/")
    assert refused.status_code == 403
    alice = client_for(world.alice)
    response = alice.post(
        f"/api/v1/requests/{request.pk}/cancel/", {"reason": "not needed"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "canceled"
    assert response.json()["pending_approvals"] == []
    again = alice.post(f"/api/v1/requests/{request.pk}/cancel/")
    assert again.status_code == 409
    assert "canceled" in again.json()["detail"]


# --- Approvals ------------------------------------------------------------------------------


def test_the_requester_cannot_approve_their_own_request(world):
    request = submit(world)
    approval = request.approvals.get()
    alice = client_for(world.alice)
    # Someone else's approval of her request: not hers, so not found.
    assert alice.post(f"/api/v1/approvals/{approval.pk}/approve/").status_code == 404
    # An approval row naming the requester herself (the engine never makes one): refused.
    own = Approval.objects.create(level=approval.level, request=request, approver=world.alice)
    refused = alice.post(f"/api/v1/approvals/{own.pk}/approve/")
    assert refused.status_code == 403
    assert "own request" in refused.json()["detail"]
    own.refresh_from_db()
    request.refresh_from_db()
    assert own.status == ApprovalStatus.PENDING
    assert request.status == RequestStatus.PENDING


def test_deciding_a_settled_approval_is_a_409(world):
    request = submit(world)
    approval = request.approvals.get()
    boss = client_for(world.boss)
    denied = boss.post(f"/api/v1/approvals/{approval.pk}/deny/", {"comment": "No badge."})
    assert denied.status_code == 200
    for verb in ("approve", "deny"):
        again = boss.post(f"/api/v1/approvals/{approval.pk}/{verb}/", {"comment": "oops"})
        assert again.status_code == 409
        assert again.json() == {"detail": "This approval is already settled."}
    approval.refresh_from_db()
    request.refresh_from_db()
    assert approval.status == ApprovalStatus.DENIED and approval.comment == "No badge."
    assert request.status == RequestStatus.DENIED


def test_an_approval_superseded_by_another_approvers_decision_is_a_409(world):
    reviewers = _team("Reviewers", world.boss, world.outsider)
    world.badge.steps.filter(kind=StepKind.APPROVAL).update(
        approver_kind=ApproverKind.TEAM, approver_team=reviewers
    )
    request = submit(world)
    first, second = request.approvals.order_by("approver_id")
    assert {first.approver, second.approver} == {world.boss, world.outsider}
    assert (
        client_for(first.approver).post(f"/api/v1/approvals/{first.pk}/approve/").status_code == 200
    )
    late = client_for(second.approver)
    refused = late.post(f"/api/v1/approvals/{second.pk}/deny/")
    assert refused.status_code == 409
    assert refused.json() == {"detail": "This approval is already settled."}
    [listed] = late.get("/api/v1/approvals/?status=superseded").json()["results"]
    assert listed["id"] == second.pk and listed["request"]["status"] == "approved"
    request.refresh_from_db()
    assert request.status == RequestStatus.APPROVED


def test_approvals_filter_by_status(world):
    first, second = submit(world), submit(world)
    services.approval_decide(approval=first.approvals.get(), actor=world.boss, approve=True)
    boss = client_for(world.boss)

    def ids(query: str) -> list[int]:
        return [
            a["request"]["id"] for a in boss.get(f"/api/v1/approvals/{query}").json()["results"]
        ]

    assert ids("") == [second.pk]
    assert ids("?status=approved") == [first.pk]
    assert ids("?status=denied") == []
    assert sorted(ids("?status=all")) == sorted([first.pk, second.pk])


def test_approvals_list_query_count_is_constant(world, django_assert_max_num_queries):
    boss = client_for(world.boss)
    for _ in range(3):
        submit(world)
    with django_assert_max_num_queries(2) as few:
        assert len(boss.get("/api/v1/approvals/").json()["results"]) == 3
    for _ in range(27):
        submit(world)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(boss.get("/api/v1/approvals/?status=all").json()["results"]) == 30


# --- Tasks ----------------------------------------------------------------------------------


def _task_only_type(world: World) -> RequestType:
    chores = RequestType.objects.create(
        name="Desk move", owning_team=world.team, status=RequestTypeStatus.ACTIVE
    )
    _step(chores, 1, StepKind.TASK, title="Move the desk")
    return chores


def test_completing_a_task_is_for_its_assignee_and_twice_is_a_409(world):
    chores = _task_only_type(world)
    request = services.request_submit(request_type=chores, requester=world.alice, answers={})
    task = request.tasks.get()
    assert task.assignee == world.carol
    assert client_for(world.outsider).post(f"/api/v1/tasks/{task.pk}/complete/").status_code == 404
    assert client_for(world.alice).post(f"/api/v1/tasks/{task.pk}/complete/").status_code == 403
    # Dave is in the owning team, but the task is Carol's (selectors.may_complete_task).
    refused = client_for(world.dave).post(f"/api/v1/tasks/{task.pk}/complete/")
    assert refused.status_code == 403
    assert "assigned to" in refused.json()["detail"]
    carol = client_for(world.carol)
    assert carol.post(f"/api/v1/tasks/{task.pk}/complete/").status_code == 200
    again = carol.post(f"/api/v1/tasks/{task.pk}/complete/")
    assert again.status_code == 409
    assert "completed" in again.json()["detail"]
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED and task.completed_by == world.carol


def test_an_unassigned_task_is_for_any_member_of_its_team(world):
    chores = _task_only_type(world)
    request = services.request_submit(request_type=chores, requester=world.alice, answers={})
    task = request.tasks.get()
    Task.objects.filter(pk=task.pk).update(assignee=None)
    assert client_for(world.dave).post(f"/api/v1/tasks/{task.pk}/complete/").status_code == 200
    task.refresh_from_db()
    assert task.completed_by == world.dave


def test_tasks_list_query_count_is_constant(world, django_assert_max_num_queries):
    chores = _task_only_type(world)
    carol = client_for(world.carol)

    def add(count: int) -> None:
        for _ in range(count):
            services.request_submit(request_type=chores, requester=world.alice, answers={})

    add(3)
    with django_assert_max_num_queries(2) as few:
        assert len(carol.get("/api/v1/tasks/").json()["results"]) == 3
    add(27)
    first = AccessRequest.objects.filter(request_type=chores).first().tasks.get()
    services.task_complete(task=first, actor=world.carol, note="done")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(carol.get("/api/v1/tasks/?status=all").json()["results"]) == 30


# --- The schema -----------------------------------------------------------------------------


def test_the_schema_describes_the_endpoints_without_warnings(tmp_path, user):
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )
    response = client_for(user).get(
        "/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/request-types/",
        "/api/v1/requests/{id}/cancel/",
        "/api/v1/requests/{id}/comments/",
        "/api/v1/approvals/{id}/approve/",
        "/api/v1/tasks/{id}/complete/",
    ):
        assert path in paths

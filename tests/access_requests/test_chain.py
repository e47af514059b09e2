"""The step chain: conditions, checks of a configured chain, typed answers, the snapshot."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.access_requests import chain, services
from apps.access_requests.models import (
    AccessRequest,
    RequestStatus,
    Step,
    TimelineEntry,
)
from apps.audit.models import SystemLogEvent
from apps.directory.models import UserStatus
from tests.factories import (
    ApprovalStepFactory,
    ConfigListFactory,
    ConfigListItemFactory,
    GrantStepFactory,
    GroupFactory,
    QuestionStepFactory,
    RequestTypeFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def requester(db):
    return UserFactory(username="requester")


def submit(request_type, requester, answers):
    return services.request_submit(request_type=request_type, requester=requester, answers=answers)


# --- Conditions on questions ----------------------------------------------------------------


@pytest.fixture
def badge_type(db):
    """Asks whether a badge is needed, and which building only when it is."""
    request_type = RequestTypeFactory()
    QuestionStepFactory(request_type=request_type, key="needs_badge", question_type="boolean")
    QuestionStepFactory(
        request_type=request_type,
        key="building",
        condition_key="needs_badge",
        condition_operator="is_true",
        required=True,
    )
    return request_type


def test_the_answer_to_a_question_whose_condition_fails_is_dropped(badge_type, requester):
    request = submit(badge_type, requester, {"needs_badge": "no", "building": "HQ"})

    assert request.answers == {"needs_badge": False}


def test_a_required_question_whose_condition_fails_need_not_be_answered(badge_type, requester):
    request = submit(badge_type, requester, {"needs_badge": False})

    assert request.answers == {"needs_badge": False}


def test_a_required_question_whose_condition_holds_must_be_answered(badge_type, requester):
    with pytest.raises(ValidationError) as raised:
        submit(badge_type, requester, {"needs_badge": True})

    assert list(raised.value.message_dict) == ["building"]


def test_an_answer_to_a_question_the_type_does_not_have_is_refused(badge_type, requester):
    with pytest.raises(ValidationError) as raised:
        submit(badge_type, requester, {"needs_badge": False, "favourite_colour": "blue"})

    assert "favourite_colour" in raised.value.message_dict


# --- Conditions on steps --------------------------------------------------------------------


@pytest.fixture
def data_center_type(db):
    """Approval by the data-center manager only for the data center."""
    request_type = RequestTypeFactory()
    QuestionStepFactory(
        request_type=request_type,
        key="building",
        question_type="options",
        options="data-center|Data center\noffice|Office",
    )
    ApprovalStepFactory(
        request_type=request_type,
        approver_kind="user",
        approver_user=UserFactory(username="dc-manager"),
        condition_key="building",
        condition_operator="equals",
        condition_value="data-center",
    )
    return request_type


def test_a_step_whose_condition_holds_runs(data_center_type, requester):
    request = submit(data_center_type, requester, {"building": "data-center"})

    assert request.status == RequestStatus.PENDING
    assert request.approvals.get().approver.username == "dc-manager"
    assert not request.timeline.filter(kind="step_skipped").exists()


def test_a_step_whose_condition_fails_is_skipped_with_a_timeline_entry(data_center_type, requester):
    request = submit(data_center_type, requester, {"building": "office"})

    assert not request.approvals.exists()
    skipped = request.timeline.get(kind="step_skipped")
    assert skipped.data["step"] == 1
    assert skipped.data["condition"]["value"] == "data-center"
    assert request.status == RequestStatus.CLOSED  # nothing left to approve or do


# --- Checking a configured chain ------------------------------------------------------------


def unsaved(request_type, kind, position, **fields):
    return Step(request_type=request_type, kind=kind, position=position, **fields)


def question(request_type, position, key, question_type="text", **fields):
    return unsaved(
        request_type,
        "question",
        position,
        key=key,
        label=f"{key}?",
        question_type=question_type,
        **fields,
    )


def chain_problems(request_type, steps) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        chain.validate_step_chain(request_type, steps)
    return raised.value.messages


def test_a_well_formed_chain_passes():
    request_type = RequestTypeFactory(resource_group=GroupFactory())
    steps = [
        question(request_type, 1, "until", "date"),
        question(request_type, 2, "building"),
        unsaved(
            request_type,
            "approval",
            3,
            approver_kind="resource_owner",
            condition_key="building",
            condition_operator="equals",
            condition_value="hq",
        ),
        unsaved(request_type, "action", 4, action_kind="grant_resource", end_date_key="until"),
    ]

    chain.validate_step_chain(request_type, steps)


def test_a_condition_on_a_later_question_is_refused_naming_the_step():
    request_type = RequestTypeFactory()
    steps = [
        unsaved(
            request_type,
            "approval",
            1,
            approver_kind="manager",
            condition_key="building",
            condition_operator="is_set",
        ),
        question(request_type, 2, "building"),
    ]

    assert chain_problems(request_type, steps) == [
        "Step at position 1 (Approval): the condition refers to 'building', which is not an earlier question."
    ]


def test_a_condition_on_a_missing_question_is_refused_naming_the_step():
    request_type = RequestTypeFactory()
    steps = [
        question(request_type, 1, "building"),
        unsaved(
            request_type,
            "approval",
            2,
            approver_kind="manager",
            condition_key="floor",
            condition_operator="equals",
            condition_value="3",
        ),
    ]

    assert chain_problems(request_type, steps) == [
        "Step at position 2 (Approval): the condition refers to 'floor', which is not an earlier question."
    ]


def test_an_approval_by_group_without_a_group_is_refused_naming_the_step():
    request_type = RequestTypeFactory()
    steps = [unsaved(request_type, "approval", 1, approver_kind="group")]

    problems = chain_problems(request_type, steps)

    assert len(problems) == 1
    assert problems[0].startswith("Step at position 1 (Approval): ")
    assert "needs a group" in problems[0]


def test_an_approval_by_the_resource_owner_without_a_resource_is_refused_naming_the_step():
    request_type = RequestTypeFactory()
    steps = [
        question(request_type, 1, "why"),
        unsaved(request_type, "approval", 2, approver_kind="resource_owner"),
    ]

    assert chain_problems(request_type, steps) == [
        "Step at position 2 (Approval): approval by the resource owner needs a group or application resource."
    ]


def test_a_grant_end_date_on_a_question_that_is_not_a_date_is_refused_naming_the_step():
    request_type = RequestTypeFactory(resource_group=GroupFactory())
    steps = [
        question(request_type, 1, "why"),
        unsaved(request_type, "action", 2, action_kind="grant_resource", end_date_key="why"),
    ]

    assert chain_problems(request_type, steps) == [
        "Step at position 2 (Action): the end date question 'why' is not a date."
    ]


def test_a_grant_end_date_on_a_later_question_is_refused_naming_the_step():
    request_type = RequestTypeFactory(resource_group=GroupFactory())
    steps = [
        unsaved(request_type, "action", 1, action_kind="grant_resource", end_date_key="until"),
        question(request_type, 2, "until", "date"),
    ]

    assert chain_problems(request_type, steps) == [
        "Step at position 1 (Action): the end date refers to 'until', not an earlier question."
    ]


def test_duplicate_question_keys_are_refused_naming_the_step():
    request_type = RequestTypeFactory()
    steps = [question(request_type, 1, "why"), question(request_type, 2, "why")]

    assert chain_problems(request_type, steps) == [
        "Step at position 2 (Question): the key 'why' is used by an earlier question."
    ]


def test_every_problem_of_a_chain_is_listed_at_once():
    request_type = RequestTypeFactory()
    steps = [
        unsaved(request_type, "approval", 1, approver_kind="group"),
        question(request_type, 2, "why"),
        question(request_type, 3, "why"),
    ]

    problems = chain_problems(request_type, steps)

    assert [problem.split(":")[0] for problem in problems] == [
        "Step at position 1 (Approval)",
        "Step at position 3 (Question)",
    ]


def test_saving_a_type_with_a_broken_chain_is_refused_and_keeps_its_version(admin_user):
    request_type = RequestTypeFactory()
    ApprovalStepFactory(request_type=request_type, approver_kind="group")

    with pytest.raises(ValidationError, match="Step at position 1"):
        services.request_type_record_change(
            request_type=request_type, actor=admin_user, created=False
        )

    request_type.refresh_from_db()
    assert request_type.version == 1
    assert not SystemLogEvent.objects.filter(
        event_type="access_request.request_type.saved"
    ).exists()


# --- Typed answers --------------------------------------------------------------------------


def inactive_user_id():
    return UserFactory(status=UserStatus.SUSPENDED).pk


BAD_ANSWERS = [
    ("text", {}, "x" * 501),
    ("text", {}, {"not": "text"}),
    ("long_text", {}, "x" * 10_001),
    ("number", {}, "twelve"),
    ("number", {}, True),
    ("date", {}, "31/01/2030"),
    ("date", {}, "2030-02-30"),
    ("datetime", {}, "tomorrow at nine"),
    ("boolean", {}, "maybe"),
    ("options", {"options": "red|Red\nblue|Blue"}, "green"),
    ("list_choice", {}, "retired-site"),
    ("list_choice", {}, "no-such-site"),
    ("user", {}, "alice"),
    ("user", {}, 999_999),
    ("user", {}, inactive_user_id),
]
GOOD_ANSWERS = [
    ("text", {}, "  for the audit  ", "for the audit"),
    ("long_text", {}, "x" * 10_000, "x" * 10_000),
    ("number", {}, "42", 42),
    ("number", {}, "2.5", 2.5),
    ("date", {}, "2030-01-31", "2030-01-31"),
    ("datetime", {}, "2030-01-31T09:00:00Z", "2030-01-31T09:00:00+00:00"),
    ("boolean", {}, "yes", True),
    ("boolean", {}, False, False),
    ("options", {"options": "red|Red\nblue|Blue"}, "blue", "blue"),
    ("list_choice", {}, "hq", "hq"),
]


@pytest.fixture
def site_list(db):
    sites = ConfigListFactory(key="sites")
    ConfigListItemFactory(config_list=sites, value="hq")
    ConfigListItemFactory(config_list=sites, value="retired-site", active=False)
    return sites


def type_asking(question_type, site_list, **fields):
    request_type = RequestTypeFactory()
    if question_type == "list_choice":
        fields["config_list"] = site_list
    QuestionStepFactory(
        request_type=request_type, key="answer", question_type=question_type, **fields
    )
    return request_type


@pytest.mark.parametrize(
    ("question_type", "fields", "value"),
    BAD_ANSWERS,
    ids=[f"{kind}-{i}" for i, (kind, _, _) in enumerate(BAD_ANSWERS)],
)
def test_a_bad_answer_is_refused_naming_the_field_and_nothing_is_written(
    requester, site_list, question_type, fields, value
):
    request_type = type_asking(question_type, site_list, **fields)
    if callable(value):
        value = value()
    events = SystemLogEvent.objects.count()

    with pytest.raises(ValidationError) as raised:
        submit(request_type, requester, {"answer": value})

    assert list(raised.value.message_dict) == ["answer"]
    assert not AccessRequest.objects.exists()
    assert not TimelineEntry.objects.exists()
    assert SystemLogEvent.objects.count() == events


@pytest.mark.parametrize(
    ("question_type", "fields", "value", "stored"),
    GOOD_ANSWERS,
    ids=[f"{kind}-{i}" for i, (kind, _, _, _) in enumerate(GOOD_ANSWERS)],
)
def test_a_good_answer_is_stored_in_its_typed_form(
    requester, site_list, question_type, fields, value, stored
):
    request_type = type_asking(question_type, site_list, **fields)

    request = submit(request_type, requester, {"answer": value})

    assert AccessRequest.objects.get(pk=request.pk).answers == {"answer": stored}


def test_a_user_answer_is_stored_as_the_persons_id(requester, site_list):
    carol = UserFactory()
    request_type = type_asking("user", site_list)

    request = submit(request_type, requester, {"answer": str(carol.pk)})

    assert request.answers == {"answer": carol.pk}


def test_a_missing_required_answer_is_refused_and_an_optional_one_may_be_left_out(requester):
    request_type = RequestTypeFactory()
    QuestionStepFactory(request_type=request_type, key="why")
    QuestionStepFactory(request_type=request_type, key="comment", required=False)

    with pytest.raises(ValidationError) as raised:
        submit(request_type, requester, {"why": "   ", "comment": "hi"})
    assert list(raised.value.message_dict) == ["why"]

    request = submit(request_type, requester, {"why": "audit"})
    assert request.answers == {"why": "audit"}


def test_every_bad_answer_is_reported_at_once(requester):
    request_type = RequestTypeFactory()
    QuestionStepFactory(request_type=request_type, key="count", question_type="number")
    QuestionStepFactory(request_type=request_type, key="when", question_type="date")

    with pytest.raises(ValidationError) as raised:
        submit(request_type, requester, {"count": "many", "when": "soon"})

    assert sorted(raised.value.message_dict) == ["count", "when"]


# --- The snapshot ---------------------------------------------------------------------------


def test_editing_the_type_does_not_change_a_request_in_flight(admin_user):
    boss = UserFactory(username="boss")
    alice = UserFactory(username="alice", manager=boss)
    carol = UserFactory(username="carol")
    request_type = RequestTypeFactory()
    why = QuestionStepFactory(request_type=request_type, key="why", label="Why?")
    ApprovalStepFactory(request_type=request_type, approver_kind="manager")
    services.request_type_record_change(request_type=request_type, actor=admin_user, created=True)
    request = submit(request_type, alice, {"why": "audit"})
    assert request.type_version == 1

    why.label = "Why do you need it?"
    why.save()
    ApprovalStepFactory(request_type=request_type, approver_kind="user", approver_user=carol)
    services.request_type_record_change(request_type=request_type, actor=admin_user, created=False)
    request_type.refresh_from_db()
    assert request_type.version == 2

    services.approval_decide(approval=request.approvals.get(), actor=boss, approve=True)

    request.refresh_from_db()
    assert request.status == RequestStatus.CLOSED  # the old chain: the manager was enough
    assert not request.approvals.filter(approver=carol).exists()
    assert request.type_version == 1
    assert request.snapshot["version"] == 1
    assert request.steps[0]["label"] == "Why?"
    assert len(request.steps) == 2

    newer = submit(request_type, alice, {"why": "audit"})
    assert newer.type_version == 2
    assert newer.steps[0]["label"] == "Why do you need it?"
    assert len(newer.steps) == 3


def test_the_submitted_timeline_entry_names_the_version(requester):
    request_type = RequestTypeFactory(version=7)
    QuestionStepFactory(request_type=request_type, key="why")

    request = submit(request_type, requester, {"why": "audit"})

    assert request.type_version == 7
    assert request.timeline.get(kind="submitted").data["version"] == 7


# --- End dates of grants --------------------------------------------------------------------


def test_an_end_date_question_in_the_past_is_refused_at_submit(requester):
    request_type = RequestTypeFactory(resource_group=GroupFactory())
    QuestionStepFactory(request_type=request_type, key="until", question_type="date")
    GrantStepFactory(request_type=request_type, end_date_key="until")
    yesterday = timezone.localdate() - dt.timedelta(days=1)

    with pytest.raises(ValidationError) as raised:
        submit(request_type, requester, {"until": yesterday.isoformat()})

    assert list(raised.value.message_dict) == ["until"]
    assert not AccessRequest.objects.exists()


def test_an_end_datetime_question_in_the_past_is_refused_at_submit(requester):
    request_type = RequestTypeFactory(resource_group=GroupFactory())
    QuestionStepFactory(request_type=request_type, key="until", question_type="datetime")
    GrantStepFactory(request_type=request_type, end_date_key="until")
    an_hour_ago = timezone.now() - dt.timedelta(hours=1)

    with pytest.raises(ValidationError) as raised:
        submit(request_type, requester, {"until": an_hour_ago.isoformat()})

    assert list(raised.value.message_dict) == ["until"]


def test_a_date_question_that_is_not_an_end_date_may_be_in_the_past(requester):
    request_type = RequestTypeFactory()
    QuestionStepFactory(request_type=request_type, key="since", question_type="date")

    request = submit(request_type, requester, {"since": "2001-01-01"})

    assert request.answers == {"since": "2001-01-01"}

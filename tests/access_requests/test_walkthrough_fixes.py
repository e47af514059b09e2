"""Bugs found walking the portal as an admin and an employee: each refused cleanly, not a 500."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.access_requests import chain
from apps.access_requests.models import ConditionOperator, QuestionType, RequestType, Step, StepKind
from tests.access_requests.test_admin import add_page, post_add
from tests.factories import ConfigListFactory, ConfigListItemFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def team(db):
    return TeamFactory(name="Badge Access")


# --- Inactivity days are bounded ------------------------------------------------------------


@pytest.mark.parametrize("days", ["99999999999999", "0", "3651"])
def test_admin_refuses_inactivity_days_out_of_range(admin_client, team, days):
    data, _prefix = add_page(admin_client, team, inactivity_days=days)
    response = post_add(admin_client, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "inactivity_days" in errors, errors
    assert not RequestType.objects.exists()


def test_admin_accepts_the_bounds(admin_client, team):
    data, _prefix = add_page(admin_client, team, inactivity_days="3650")
    assert post_add(admin_client, data).status_code == 302
    assert RequestType.objects.get().inactivity_days == 3650


@pytest.mark.parametrize("days", [0, 3651, 99999999999999])
def test_the_model_refuses_inactivity_days_out_of_range(team, days):
    request_type = RequestType(name="Badge", owning_team=team, inactivity_days=days)
    with pytest.raises(ValidationError) as refused:
        request_type.full_clean()
    assert "inactivity_days" in refused.value.message_dict


# --- Request type names are unique, whatever the case ---------------------------------------


def test_admin_refuses_a_name_already_taken_in_another_case(admin_client, team):
    RequestType.objects.create(name="Badge access", owning_team=team)
    data, _prefix = add_page(admin_client, team)
    data["name"] = "BADGE Access"

    response = post_add(admin_client, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["name"] == ["A request type with that name already exists."]
    assert RequestType.objects.count() == 1


def test_the_database_refuses_a_duplicate_name(team):
    from django.db import IntegrityError, transaction

    RequestType.objects.create(name="Badge access", owning_team=team)
    with pytest.raises(IntegrityError), transaction.atomic():
        RequestType.objects.create(name="badge ACCESS", owning_team=team)


# --- Options questions: no empty or repeated options ----------------------------------------


def _steps(request_type, *rows):
    return [
        Step(request_type=request_type, position=position, **row)
        for position, row in enumerate(rows, start=1)
    ]


def _options(options: str) -> dict:
    return {
        "kind": StepKind.QUESTION,
        "key": "device",
        "label": "Device",
        "question_type": QuestionType.OPTIONS,
        "options": options,
    }


def _problems(request_type, *rows) -> list[str]:
    with pytest.raises(ValidationError) as refused:
        chain.validate_step_chain(request_type, _steps(request_type, *rows))
    return refused.value.messages


@pytest.fixture
def draft(team):
    return RequestType.objects.create(name="Laptop", owning_team=team)


@pytest.mark.parametrize("options", ["|", "||||", "desk|Desk\n|Nothing", "  |  "])
def test_an_empty_option_is_refused_naming_the_step(draft, options):
    (problem,) = _problems(draft, _options(options))
    assert problem.startswith("Step at position 1 (Question): ")
    assert "has no value" in problem


def test_a_repeated_option_is_refused(draft):
    (problem,) = _problems(draft, _options("desk|Desk\nlaptop|Laptop\nLaptop|Laptop again"))
    assert "Step at position 1 (Question)" in problem and "'laptop'" in problem.lower()
    assert "more than once" in problem


def test_good_options_pass(draft):
    chain.validate_step_chain(draft, _steps(draft, _options("desk|Desk\n\nlaptop|Laptop\n")))


def test_the_admin_shows_the_options_problem(admin_client, team):
    from tests.access_requests.test_admin import add_step, chain_errors

    data, prefix = add_page(admin_client, team)
    add_step(data, prefix, **_options("||||"))
    response = post_add(admin_client, data)
    assert response.status_code == 200
    assert any("has no value" in error for error in chain_errors(response))
    assert not RequestType.objects.exists()


# --- Conditions that can never hold are refused ---------------------------------------------


def _when(operator: str, value: str = "", key: str = "device") -> dict:
    return {
        "kind": StepKind.TASK,
        "title": "Hand it over",
        "condition_key": key,
        "condition_operator": operator,
        "condition_value": value,
    }


def test_equals_a_value_that_is_not_an_option_is_refused(draft):
    (problem,) = _problems(
        draft, _options("desk|Desk\nlaptop|Laptop"), _when(ConditionOperator.EQUALS, "not-a-laptop")
    )
    assert problem.startswith("Step at position 2 (Task): ")
    assert "'not-a-laptop'" in problem and "desk, laptop" in problem


def test_not_equals_a_value_that_is_not_an_option_is_refused(draft):
    assert _problems(
        draft, _options("desk|Desk\nlaptop|Laptop"), _when(ConditionOperator.NOT_EQUALS, "tablet")
    )


def test_equals_an_option_in_another_case_holds_and_passes(draft):
    chain.validate_step_chain(
        draft,
        _steps(
            draft, _options("desk|Desk\nlaptop|Laptop"), _when(ConditionOperator.EQUALS, "LAPTOP")
        ),
    )


def test_an_option_named_yes_can_be_the_condition(draft):
    rows = (_options("yes|Yes please\nno|No thanks"), _when(ConditionOperator.EQUALS, "yes"))
    chain.validate_step_chain(draft, _steps(draft, *rows))
    snapshot = chain.step_snapshot(_steps(draft, *rows)[1])
    assert chain.condition_holds(snapshot, {"device": "yes"})


def test_equals_a_value_that_is_not_in_the_list_is_refused(draft, team):
    buildings = ConfigListFactory(name="Buildings", key="buildings")
    buildings.teams.add(team)
    ConfigListItemFactory(config_list=buildings, value="hq", label="HQ")
    question = {
        "kind": StepKind.QUESTION,
        "key": "building",
        "label": "Building",
        "question_type": QuestionType.LIST_CHOICE,
        "config_list_id": buildings.pk,
    }
    (problem,) = _problems(draft, question, _when(ConditionOperator.EQUALS, "lyon", "building"))
    assert "Step at position 2 (Task)" in problem and "'lyon'" in problem
    chain.validate_step_chain(
        draft, _steps(draft, question, _when(ConditionOperator.EQUALS, "hq", "building"))
    )


def _yes_no(key="escort", question_type=QuestionType.BOOLEAN) -> dict:
    return {
        "kind": StepKind.QUESTION,
        "key": key,
        "label": "Escort?",
        "question_type": question_type,
    }


def test_a_yes_no_question_equals_only_yes_or_no(draft):
    (problem,) = _problems(draft, _yes_no(), _when(ConditionOperator.EQUALS, "maybe", "escort"))
    assert "Step at position 2 (Task)" in problem and "yes or no" in problem
    chain.validate_step_chain(
        draft, _steps(draft, _yes_no(), _when(ConditionOperator.EQUALS, "yes", "escort"))
    )


def test_a_number_question_equals_only_a_number(draft):
    rows = (_yes_no("doors", QuestionType.NUMBER), _when(ConditionOperator.EQUALS, "many", "doors"))
    (problem,) = _problems(draft, *rows)
    assert "Step at position 2 (Task)" in problem and "number" in problem


def test_is_yes_on_a_question_that_is_not_yes_no_is_refused(draft):
    (problem,) = _problems(draft, _options("desk|Desk"), _when(ConditionOperator.IS_TRUE))
    assert problem.startswith("Step at position 2 (Task): ")
    assert "yes/no" in problem


def test_a_type_at_the_upper_bound_still_takes_requests(team):
    import datetime as dt

    from apps.access_requests import services
    from tests.factories import ApprovalStepFactory, UserFactory

    request_type = RequestType.objects.create(
        name="Long", owning_team=team, status="active", inactivity_days=3650
    )
    ApprovalStepFactory(request_type=request_type)  # so that the request stays open
    requester = UserFactory(manager=UserFactory())
    request = services.request_submit(request_type=request_type, requester=requester, answers={})
    assert request.expires_at - request.last_activity_at == dt.timedelta(days=3650)


def test_the_admin_refuses_conditions_that_never_hold(admin_client, team):
    from tests.access_requests.test_admin import add_step, chain_errors

    data, prefix = add_page(admin_client, team)
    add_step(data, prefix, **_options("desk|Desk\nlaptop|Laptop"))
    add_step(data, prefix, **_when(ConditionOperator.EQUALS, "not-a-laptop"))
    add_step(data, prefix, **_when(ConditionOperator.IS_TRUE))
    response = post_add(admin_client, data)

    assert response.status_code == 200
    errors = chain_errors(response)
    assert any(e.startswith("Step at position 2 (Task)") and "never" in e for e in errors)
    assert any(e.startswith("Step at position 3 (Task)") and "yes/no" in e for e in errors)
    assert not RequestType.objects.exists()

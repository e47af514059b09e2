"""Fixtures of the portal tests: a small organisation and request types built step by step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from apps.access_requests import services
from apps.access_requests.models import (
    AccessRequest,
    ApproverKind,
    QuestionType,
    RequestType,
    RequestTypeStatus,
    Step,
    StepKind,
)
from apps.directory.models import User
from apps.teams.models import AssignmentStrategy, Team, TeamMembership
from tests.factories import UserFactory, free_type_name


def question(key: str, question_type: str = QuestionType.TEXT, **fields: Any) -> dict[str, Any]:
    """A question step, as keyword arguments of Step."""
    return {
        "kind": StepKind.QUESTION,
        "key": key,
        "label": fields.pop("label", key.replace("_", " ").capitalize()),
        "question_type": question_type,
        **fields,
    }


def manager_approval(**fields: Any) -> dict[str, Any]:
    return {"kind": StepKind.APPROVAL, "approver_kind": ApproverKind.MANAGER, **fields}


def task(title: str = "Do the work", **fields: Any) -> dict[str, Any]:
    return {"kind": StepKind.TASK, "title": title, **fields}


def make_type(
    team: Team, *steps: dict[str, Any], name: str = "Badge access", **fields
) -> RequestType:
    """An active request type of `team` with `steps`, in order."""
    fields.setdefault("status", RequestTypeStatus.ACTIVE)
    request_type = RequestType.objects.create(name=free_type_name(name), owning_team=team, **fields)
    for position, step in enumerate(steps, start=1):
        Step.objects.create(request_type=request_type, position=position, **step)
    return request_type


@dataclass
class Org:
    """Who is who in the portal tests."""

    boss: User  # alice's manager: approves her requests
    alice: User  # the requester
    carol: User  # the team's fixed member: assignee of every request
    dave: User  # another member of the owning team
    outsider: User  # no part in anything
    team: Team

    def submit(self, request_type: RequestType, requester: User | None = None, **answers):
        return services.request_submit(
            request_type=request_type, requester=requester or self.alice, answers=answers
        )


@pytest.fixture
def org(db) -> Org:
    boss = UserFactory(username="boss", first_name="Bea", last_name="Boss")
    alice = UserFactory(username="alice", first_name="Alice", last_name="Durand", manager=boss)
    carol = UserFactory(username="carol", first_name="Carol", last_name="Nguyen")
    dave = UserFactory(username="dave", first_name="Dave", last_name="Okafor")
    outsider = UserFactory(username="olga", first_name="Olga", last_name="Outsider")
    team = Team.objects.create(
        name="Badge Access",
        assignment_strategy=AssignmentStrategy.FIXED_MEMBER,
        fixed_member=carol,
    )
    TeamMembership.objects.create(team=team, user=carol)
    TeamMembership.objects.create(team=team, user=dave)
    return Org(boss, alice, carol, dave, outsider, team)


@pytest.fixture
def approval_type(org) -> RequestType:
    """Why? → the manager approves → the team does a task."""
    return make_type(
        org.team,
        question("reason", label="Why do you need it?"),
        manager_approval(),
        task("Program the badge", instructions="Use the badge printer."),
    )


@pytest.fixture
def pending_request(org, approval_type) -> AccessRequest:
    """Alice's request, waiting for her manager."""
    return org.submit(approval_type, reason="New office")

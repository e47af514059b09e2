"""Services of the teams app: one transaction, one event per real change, nothing on error."""

import pytest
from django.core.exceptions import ValidationError

from apps.audit.models import SystemLogEvent
from apps.teams import services
from apps.teams.models import AssignmentStrategy, Team, TeamMembership
from tests.factories import TeamFactory, TeamMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def team_events():
    return list(SystemLogEvent.objects.filter(event_type__startswith="teams.").order_by("id"))


def fixed_team(member):
    """A team using the fixed member strategy, with `member` as its fixed member."""
    team = TeamFactory(assignment_strategy=AssignmentStrategy.FIXED_MEMBER, fixed_member=member)
    TeamMembershipFactory(team=team, user=member)
    return team


SERVICE_CALLS = {
    "teams.team.created": lambda actor, team, member, outsider: services.team_create(
        actor=actor, name="Facilities"
    ),
    "teams.team.updated": lambda actor, team, member, outsider: services.team_update(
        team=team, actor=actor, description="Badges and keys"
    ),
    "teams.team.deleted": lambda actor, team, member, outsider: services.team_delete(
        team=team, actor=actor
    ),
    "teams.member.added": lambda actor, team, member, outsider: services.team_add_member(
        team=team, user=outsider, actor=actor
    ),
    "teams.member.removed": lambda actor, team, member, outsider: services.team_remove_member(
        team=team, user=member, actor=actor
    ),
    "teams.member.availability_changed": (
        lambda actor, team, member, outsider: services.team_set_member_availability(
            team=team, user=member, actor=actor, is_available=False
        )
    ),
}


@pytest.mark.parametrize("event_type", SERVICE_CALLS)
def test_every_service_writes_one_event_with_old_and_new(event_type, admin_user):
    team = TeamFactory()
    member = TeamMembershipFactory(team=team).user

    SERVICE_CALLS[event_type](admin_user, team, member, UserFactory())

    [event] = team_events()
    assert event.event_type == event_type
    assert "old" in event.data and "new" in event.data
    assert event.actor == admin_user


def test_team_create_logs_its_values():
    team = services.team_create(actor=None, name="Facilities", description="Buildings")

    [event] = team_events()
    assert event.target_id == str(team.pk)
    assert event.data == {
        "old": None,
        "new": {
            "name": "Facilities",
            "description": "Buildings",
            "assignment_strategy": AssignmentStrategy.ROUND_ROBIN,
            "fixed_member": None,
        },
    }


def test_team_update_logs_only_the_changed_fields():
    team = TeamFactory(name="Facilities", description="Old")

    services.team_update(team=team, actor=None, name="Facilities", description="New")

    [event] = team_events()
    assert event.data == {"old": {"description": "Old"}, "new": {"description": "New"}}


def test_team_update_can_choose_a_fixed_member_among_members():
    team = TeamFactory()
    member = TeamMembershipFactory(team=team).user

    services.team_update(
        team=team,
        actor=None,
        assignment_strategy=AssignmentStrategy.FIXED_MEMBER,
        fixed_member=member,
    )

    team.refresh_from_db()
    assert team.fixed_member == member
    assert team_events()[0].data["new"]["fixed_member"] == member.pk


def test_leaving_the_fixed_member_strategy_clears_the_fixed_member():
    member = UserFactory()
    team = fixed_team(member)

    services.team_update(team=team, actor=None, assignment_strategy=AssignmentStrategy.ROUND_ROBIN)

    team.refresh_from_db()
    assert team.fixed_member is None
    [event] = team_events()
    assert event.data["old"]["fixed_member"] == member.pk
    assert event.data["new"]["fixed_member"] is None


def test_team_delete_logs_its_members_and_removes_memberships():
    team = TeamFactory()
    member = TeamMembershipFactory(team=team).user

    services.team_delete(team=team, actor=None)

    assert not Team.objects.exists()
    assert not TeamMembership.objects.exists()
    [event] = team_events()
    assert event.data["old"]["members"] == [member.pk]
    assert event.data["new"] is None


def test_member_events_name_the_person_as_target_and_the_team_in_data():
    team = TeamFactory(name="Facilities")
    user = UserFactory()

    services.team_add_member(team=team, user=user, actor=None, is_available=False)

    [event] = team_events()
    assert event.target_id == str(user.pk)
    assert event.data == {
        "old": None,
        "new": {"is_available": False},
        "team_id": team.pk,
        "team_name": "Facilities",
    }


@pytest.mark.parametrize(
    "no_op",
    [
        lambda team, member: services.team_update(team=team, actor=None, name=team.name),
        lambda team, member: services.team_add_member(team=team, user=member, actor=None),
        lambda team, member: services.team_remove_member(team=team, user=UserFactory(), actor=None),
        lambda team, member: services.team_set_member_availability(
            team=team, user=member, actor=None, is_available=True
        ),
    ],
    ids=["update-same-values", "add-existing", "remove-non-member", "same-availability"],
)
def test_no_op_writes_no_event(no_op):
    team = TeamFactory()
    member = TeamMembershipFactory(team=team).user
    updated_at = team.updated_at

    no_op(team, member)

    assert team_events() == []
    team.refresh_from_db()
    assert team.updated_at == updated_at


def test_removing_a_non_member_returns_false():
    assert services.team_remove_member(team=TeamFactory(), user=UserFactory(), actor=None) is False


INVALID_CALLS = {
    "name-taken-whatever-the-case": (
        "name",
        lambda team, member, outsider: services.team_create(actor=None, name="FACILITIES"),
    ),
    "blank-name": (
        "name",
        lambda team, member, outsider: services.team_update(team=team, actor=None, name=""),
    ),
    "unknown-strategy": (
        "assignment_strategy",
        lambda team, member, outsider: services.team_update(
            team=team, actor=None, assignment_strategy="random"
        ),
    ),
    "new-team-with-fixed-strategy": (
        "assignment_strategy",
        lambda team, member, outsider: services.team_create(
            actor=None, name="Security", assignment_strategy=AssignmentStrategy.FIXED_MEMBER
        ),
    ),
    "fixed-strategy-without-fixed-member": (
        "fixed_member",
        lambda team, member, outsider: services.team_update(
            team=team, actor=None, assignment_strategy=AssignmentStrategy.FIXED_MEMBER
        ),
    ),
    "fixed-member-not-in-team": (
        "fixed_member",
        lambda team, member, outsider: services.team_update(
            team=team,
            actor=None,
            assignment_strategy=AssignmentStrategy.FIXED_MEMBER,
            fixed_member=outsider,
        ),
    ),
    "unknown-field": (
        "colour",
        lambda team, member, outsider: services.team_update(team=team, actor=None, colour="red"),
    ),
    "availability-of-non-member": (
        "user",
        lambda team, member, outsider: services.team_set_member_availability(
            team=team, user=outsider, actor=None, is_available=False
        ),
    ),
}


@pytest.mark.parametrize("case", INVALID_CALLS)
def test_invalid_input_writes_nothing(case):
    field, call = INVALID_CALLS[case]
    team = TeamFactory(name="Facilities", description="Buildings")
    member = TeamMembershipFactory(team=team).user
    outsider = UserFactory()

    with pytest.raises(ValidationError) as raised:
        call(team, member, outsider)

    assert field in raised.value.message_dict
    assert team_events() == []
    assert list(Team.objects.values_list("name", "description", "assignment_strategy")) == [
        ("Facilities", "Buildings", AssignmentStrategy.ROUND_ROBIN)
    ]
    assert list(TeamMembership.objects.values_list("user", "is_available")) == [(member.pk, True)]


def test_the_fixed_member_cannot_be_removed():
    member = UserFactory()
    team = fixed_team(member)

    with pytest.raises(ValidationError) as raised:
        services.team_remove_member(team=team, user=member, actor=None)

    assert "user" in raised.value.message_dict
    assert TeamMembership.objects.filter(team=team, user=member).exists()
    assert team_events() == []

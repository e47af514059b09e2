"""The team admin writes only through the services, so every change lands in the system log."""

import pytest
from django.urls import reverse

from apps.audit.models import SystemLogEvent
from apps.teams.models import AssignmentStrategy, Team, TeamMembership
from tests.factories import TeamFactory, TeamMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def team_event_types():
    events = SystemLogEvent.objects.filter(event_type__startswith="teams.").order_by("id")
    return [event.event_type for event in events]


def form_data(*, rows=(), initial_rows=0, **team_values):
    """POST data for the team change form and its membership inline."""
    data = {
        "name": "",
        "description": "",
        "assignment_strategy": AssignmentStrategy.ROUND_ROBIN,
        "fixed_member": "",
        "memberships-TOTAL_FORMS": str(len(rows)),
        "memberships-INITIAL_FORMS": str(initial_rows),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "_save": "Save",
        **team_values,
    }
    for index, row in enumerate(rows):
        for field, value in row.items():
            data[f"memberships-{index}-{field}"] = value
    return data


def existing_row(membership, **changes):
    row = {"id": membership.pk, "team": membership.team_id, "user": membership.user_id}
    if membership.is_available:
        row["is_available"] = "on"
    row.update(changes)
    return row


def test_admin_add_creates_team_and_members_through_services(admin_client, admin_user):
    ann, bob = UserFactory(), UserFactory()
    rows = [{"user": ann.pk, "is_available": "on"}, {"user": bob.pk}]

    response = admin_client.post(
        reverse("admin:teams_team_add"), form_data(name="Facilities", rows=rows)
    )

    assert response.status_code == 302, response.context["errors"]
    team = Team.objects.get(name="Facilities")
    assert dict(team.memberships.values_list("user", "is_available")) == {
        ann.pk: True,
        bob.pk: False,
    }
    assert team_event_types() == ["teams.team.created", "teams.member.added", "teams.member.added"]
    assert set(
        SystemLogEvent.objects.filter(event_type__startswith="teams.").values_list(
            "actor", flat=True
        )
    ) == {admin_user.pk}


def test_admin_change_updates_team_and_memberships_through_services(admin_client):
    team = TeamFactory(name="Facilities")
    leaving = TeamMembershipFactory(team=team)
    staying = TeamMembershipFactory(team=team)
    newcomer = UserFactory()
    rows = [
        existing_row(leaving, DELETE="on"),
        existing_row(staying, is_available=""),
        {"user": newcomer.pk, "is_available": "on"},
    ]

    response = admin_client.post(
        reverse("admin:teams_team_change", args=[team.pk]),
        form_data(name="Buildings", rows=rows, initial_rows=2),
    )

    assert response.status_code == 302, response.context["errors"]
    team.refresh_from_db()
    assert team.name == "Buildings"
    assert dict(team.memberships.values_list("user", "is_available")) == {
        staying.user_id: False,
        newcomer.pk: True,
    }
    assert team_event_types() == [
        "teams.team.updated",
        "teams.member.removed",
        "teams.member.availability_changed",
        "teams.member.added",
    ]


def test_admin_change_can_choose_a_fixed_member(admin_client):
    team = TeamFactory(name="Facilities")
    membership = TeamMembershipFactory(team=team)

    response = admin_client.post(
        reverse("admin:teams_team_change", args=[team.pk]),
        form_data(
            name="Facilities",
            assignment_strategy=AssignmentStrategy.FIXED_MEMBER,
            fixed_member=membership.user_id,
            rows=[existing_row(membership)],
            initial_rows=1,
        ),
    )

    assert response.status_code == 302, response.context["errors"]
    team.refresh_from_db()
    assert team.fixed_member_id == membership.user_id
    assert team_event_types() == ["teams.team.updated"]


def test_admin_save_without_changes_writes_no_event(admin_client):
    team = TeamFactory(name="Facilities")
    membership = TeamMembershipFactory(team=team)

    response = admin_client.post(
        reverse("admin:teams_team_change", args=[team.pk]),
        form_data(name="Facilities", rows=[existing_row(membership)], initial_rows=1),
    )

    assert response.status_code == 302, response.context["errors"]
    assert team_event_types() == []


def test_admin_refuses_fixed_strategy_for_a_new_team(admin_client):
    response = admin_client.post(
        reverse("admin:teams_team_add"),
        form_data(name="Facilities", assignment_strategy=AssignmentStrategy.FIXED_MEMBER),
    )

    assert response.status_code == 200
    assert "assignment_strategy" in response.context["adminform"].form.errors
    assert not Team.objects.exists()
    assert team_event_types() == []


def test_admin_refuses_removing_the_fixed_member(admin_client):
    team = TeamFactory(name="Facilities")
    membership = TeamMembershipFactory(team=team)
    team.assignment_strategy = AssignmentStrategy.FIXED_MEMBER
    team.fixed_member = membership.user
    team.save()

    response = admin_client.post(
        reverse("admin:teams_team_change", args=[team.pk]),
        form_data(
            name="Facilities",
            assignment_strategy=AssignmentStrategy.FIXED_MEMBER,
            fixed_member=membership.user_id,
            rows=[existing_row(membership, DELETE="on")],
            initial_rows=1,
        ),
    )

    assert response.status_code == 200
    assert response.context["inline_admin_formsets"][0].formset.non_form_errors()
    assert TeamMembership.objects.filter(pk=membership.pk).exists()
    assert team_event_types() == []


def test_admin_cannot_swap_the_person_of_an_existing_membership(admin_client):
    team = TeamFactory(name="Facilities")
    membership = TeamMembershipFactory(team=team)
    intruder = UserFactory()

    admin_client.post(
        reverse("admin:teams_team_change", args=[team.pk]),
        form_data(
            name="Facilities", rows=[existing_row(membership, user=intruder.pk)], initial_rows=1
        ),
    )

    assert list(team.memberships.values_list("user", flat=True)) == [membership.user_id]
    assert team_event_types() == []


def test_admin_delete_goes_through_the_service(admin_client):
    team = TeamFactory()
    TeamMembershipFactory(team=team)

    response = admin_client.post(
        reverse("admin:teams_team_delete", args=[team.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Team.objects.exists()
    assert team_event_types() == ["teams.team.deleted"]


def test_admin_bulk_delete_goes_through_the_service(admin_client):
    teams = TeamFactory.create_batch(2)

    response = admin_client.post(
        reverse("admin:teams_team_changelist"),
        {"action": "delete_selected", "_selected_action": [t.pk for t in teams], "post": "yes"},
    )

    assert response.status_code == 302
    assert not Team.objects.exists()
    assert team_event_types() == ["teams.team.deleted", "teams.team.deleted"]


def test_admin_pages_render(admin_client):
    team = TeamFactory()
    TeamMembershipFactory(team=team)

    assert admin_client.get(reverse("admin:teams_team_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:teams_team_add")).status_code == 200
    assert admin_client.get(reverse("admin:teams_team_change", args=[team.pk])).status_code == 200
    filtered = admin_client.get(
        reverse("admin:teams_team_changelist"), {"assignment_strategy": "round_robin"}
    )
    assert filtered.status_code == 200


def test_admin_reports_a_taken_name_on_the_name_field(admin_client):
    TeamFactory(name="Facilities")

    response = admin_client.post(reverse("admin:teams_team_add"), form_data(name="FACILITIES"))

    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    assert team_event_types() == []

"""The directory API: token sign-in, people, lifecycle and memberships through the services."""

import pytest
from rest_framework.test import APIClient

from apps.audit.models import SystemLogEvent
from apps.directory import services
from apps.directory.models import GroupMembership, UserStatus
from tests.factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def test_token_sign_in_accepts_username_or_email():
    person = UserFactory(username="erin", email="Erin@Example.com")
    person.set_password("long-enough-secret")
    person.save()
    client = APIClient()
    for login in ("erin", "ERIN@example.com"):
        response = client.post(
            "/api/v1/auth/token/", {"username": login, "password": "long-enough-secret"}
        )
        assert response.status_code == 200, response.content
        assert response.json()["token"]
    wrong = client.post("/api/v1/auth/token/", {"username": "erin", "password": "nope"})
    assert wrong.status_code == 400


def test_people_are_listed_for_admins_only(api):
    UserFactory.create_batch(3)
    assert api.get("/api/v1/users/").json()["count"] == 4
    employee_client = APIClient()
    employee_client.force_authenticate(UserFactory())
    assert employee_client.get("/api/v1/users/").status_code == 403


def test_user_list_query_count_is_constant(api, django_assert_max_num_queries):
    UserFactory.create_batch(3)
    with django_assert_max_num_queries(3) as few:
        api.get("/api/v1/users/")
    UserFactory.create_batch(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        api.get("/api/v1/users/")


def test_patch_changes_profile_through_the_service(api, admin_user):
    services.profile_attribute_create(
        actor=admin_user, name="isMemberOfGroup", label="Member", type="boolean"
    )
    person = UserFactory()
    response = api.patch(
        f"/api/v1/users/{person.pk}/",
        {"title": "Engineer", "isMemberOfGroup": "true"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["profile"] == {"isMemberOfGroup": True}
    event = SystemLogEvent.objects.get(event_type="directory.user.profile_updated")
    assert event.data["new"] == {"title": "Engineer", "isMemberOfGroup": True}


def test_patch_with_a_bad_value_answers_400_naming_the_field_and_writes_nothing(api, admin_user):
    services.profile_attribute_create(actor=admin_user, name="badge", label="Badge", type="number")
    person = UserFactory(title="Before")
    response = api.patch(
        f"/api/v1/users/{person.pk}/", {"title": "After", "badge": "twelve"}, format="json"
    )
    assert response.status_code == 400
    assert "badge" in response.json()
    person.refresh_from_db()
    assert person.title == "Before"
    assert not SystemLogEvent.objects.filter(event_type="directory.user.profile_updated").exists()


def test_lifecycle_verb_moves_status_and_an_illegal_one_answers_409(api):
    person = UserFactory()
    assert api.post(f"/api/v1/users/{person.pk}/lifecycle/suspend/").status_code == 200
    person.refresh_from_db()
    assert person.status == UserStatus.SUSPENDED
    refused = api.post(f"/api/v1/users/{person.pk}/lifecycle/activate/")
    assert refused.status_code == 409
    assert "suspended" in refused.json()["detail"]
    assert api.post(f"/api/v1/users/{person.pk}/lifecycle/explode/").status_code == 404


def test_group_holders_are_added_and_removed_through_the_services(api):
    group, person = GroupFactory(), UserFactory()
    added = api.post(
        f"/api/v1/groups/{group.pk}/holders/",
        {"user": person.pk, "expires_at": "2999-01-01T00:00:00Z"},
        format="json",
    )
    assert added.status_code == 204, added.content
    assert GroupMembership.objects.get(group=group, user=person).expires_at.year == 2999
    assert api.get("/api/v1/groups/").json()["results"][0]["holder_count"] == 1
    removed = api.delete(f"/api/v1/groups/{group.pk}/holders/{person.pk}/")
    assert removed.status_code == 204
    assert api.delete(f"/api/v1/groups/{group.pk}/holders/{person.pk}/").status_code == 404
    types = list(SystemLogEvent.objects.values_list("event_type", flat=True))
    assert sorted(types) == ["directory.user.added_to_group", "directory.user.removed_from_group"]


def test_a_past_end_date_is_refused_with_400(api):
    group, person = GroupFactory(), UserFactory()
    response = api.post(
        f"/api/v1/groups/{group.pk}/holders/",
        {"user": person.pk, "expires_at": "2001-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 400
    assert "expires_at" in response.json()

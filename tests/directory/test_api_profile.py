"""Changing a profile over the API: a refused value is a 400 naming the field, never a 500."""

import pytest
from rest_framework.test import APIClient

from apps.audit.models import SystemLogEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "field", ["username", "email", "first_name", "last_name", "title", "employee_number"]
)
def test_null_for_a_text_field_is_a_400_naming_it_and_nothing_is_written(admin_user, field):
    person = UserFactory(title="Engineer", employee_number="E-1")
    api = APIClient()
    api.force_authenticate(admin_user)
    before = SystemLogEvent.objects.count()

    response = api.patch(f"/api/v1/users/{person.pk}/", {field: None}, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()
    person.refresh_from_db()
    assert getattr(person, field) is not None
    assert SystemLogEvent.objects.count() == before


def test_null_manager_clears_it(admin_user):
    person = UserFactory(manager=UserFactory())
    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.patch(f"/api/v1/users/{person.pk}/", {"manager": None}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["manager"] is None


@pytest.mark.parametrize(
    "change",
    [
        {"email": [None, None]},
        {"email": 5},
        {"username": 123},
        {"title": {"a": 1}},
        {"manager": "not a number"},
        {"manager": [1]},
    ],
)
def test_a_value_of_the_wrong_type_is_a_400_naming_the_field(admin_user, change):
    person = UserFactory()
    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.patch(f"/api/v1/users/{person.pk}/", change, format="json")
    assert response.status_code == 400, response.content
    assert set(change) <= set(response.json())


def test_an_empty_change_changes_nothing(admin_user):
    person = UserFactory()
    api = APIClient()
    api.force_authenticate(admin_user)
    before = SystemLogEvent.objects.count()
    response = api.patch(f"/api/v1/users/{person.pk}/", {}, format="json")
    assert response.status_code == 200, response.content
    assert SystemLogEvent.objects.count() == before


def test_a_body_that_is_not_an_object_is_a_400(admin_user):
    person = UserFactory()
    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.patch(f"/api/v1/users/{person.pk}/", [1, 2], format="json")
    assert response.status_code == 400


def test_the_schema_documents_the_profile_fields(admin_user):
    api = APIClient()
    api.force_authenticate(admin_user)
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    body = schema["paths"]["/api/v1/users/{id}/"]["patch"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    properties = schema["components"]["schemas"][ref]["properties"]
    assert {"username", "email", "manager", "employee_number"} <= set(properties)
    assert properties["manager"]["nullable"] is True


def test_a_profile_change_is_json_only(admin_user):
    """A form body cannot say null or a number, and an unreadable one would parse as empty."""
    person = UserFactory()
    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.patch(
        f"/api/v1/users/{person.pk}/",
        "--x\r\n[]--x--\r\n",
        content_type="multipart/form-data; boundary=x",
    )
    assert response.status_code == 415

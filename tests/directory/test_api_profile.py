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

"""API tokens in the admin: listed by name, owner, prefix, expiry and last use; never the secret.

Staff revoke them (an action, logged); nobody adds, edits or deletes them there.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from apps.directory import services
from apps.directory.models import ApiToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TOKENS = "/admin/directory/apitoken/"


@pytest.fixture
def issued(db):
    owner = UserFactory(username="carol")
    return services.api_token_issue(user=owner, actor=owner, name="Nightly export")


def test_the_list_shows_name_owner_prefix_expiry_and_last_use_never_the_secret(
    admin_client, issued
):
    response = admin_client.get(TOKENS)

    assert response.status_code == 200
    page = response.content.decode()
    for column in ("Name", "Owner", "Prefix", "Expires at", "Last used at"):
        assert column in page
    assert "Nightly export" in page and issued.token.prefix in page
    assert issued.key not in page
    assert issued.token.key_hash not in page


def test_the_change_page_shows_neither_the_secret_nor_its_hash(admin_client, issued):
    response = admin_client.get(f"{TOKENS}{issued.token.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert issued.key not in page and issued.token.key_hash not in page


def test_tokens_are_not_added_edited_or_deleted_in_the_admin(admin_client, issued):
    assert admin_client.get(f"{TOKENS}add/").status_code == 403
    assert (
        admin_client.post(f"{TOKENS}{issued.token.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    admin_client.post(f"{TOKENS}{issued.token.pk}/change/", {"name": "renamed"})
    assert ApiToken.objects.get().name == "Nightly export"


def test_a_staff_user_revokes_a_token_and_it_is_logged(client, issued, system_log):
    staff = UserFactory(username="helpdesk", is_staff=True)
    staff.user_permissions.add(
        Permission.objects.get(codename="change_apitoken"),
        Permission.objects.get(codename="view_apitoken"),
    )
    client.force_login(staff)
    system_log.mark()

    response = client.post(
        TOKENS, {"action": "revoke_tokens", "_selected_action": [issued.token.pk]}
    )

    assert response.status_code == 302
    token = ApiToken.objects.get()
    assert token.revoked_at is not None and token.revoked_by == staff
    [event] = system_log.new("directory.api_token.revoked")
    assert event.actor == staff
    assert event.data["reason"] == "revoked by an administrator"


def test_a_staff_user_without_the_change_permission_cannot_revoke(client, issued):
    staff = UserFactory(username="viewer", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_apitoken"))
    client.force_login(staff)

    client.post(TOKENS, {"action": "revoke_tokens", "_selected_action": [issued.token.pk]})

    assert ApiToken.objects.get().revoked_at is None

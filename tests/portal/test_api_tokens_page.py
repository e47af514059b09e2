"""My API tokens in the portal: listed (never their secrets) and revoked by their owner."""

from __future__ import annotations

import pytest

from apps.audit.models import SystemLogEvent
from apps.directory import services
from apps.directory.models import ApiToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGE = "/tokens/"


@pytest.fixture
def owner(db):
    return UserFactory(username="olga")


def test_the_page_lists_my_usable_tokens_never_their_secrets(owner, client):
    mine = services.api_token_issue(user=owner, actor=owner, name="Laptop script")
    revoked = services.api_token_issue(user=owner, actor=owner, name="Old CI")
    services.api_token_revoke(token=revoked.token, actor=owner)
    other = UserFactory(username="oscar")
    services.api_token_issue(user=other, actor=other, name="Oscar's token")
    client.force_login(owner)

    response = client.get(PAGE)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Laptop script" in page and mine.token.prefix in page
    assert "Old CI" not in page and "Oscar's token" not in page
    assert mine.key not in page and mine.token.key_hash not in page


def test_i_revoke_my_token_from_the_page(owner, client):
    issued = services.api_token_issue(user=owner, actor=owner, name="Laptop script")
    client.force_login(owner)

    response = client.post(f"{PAGE}{issued.token.pk}/revoke/")

    assert response.status_code == 302 and response.url == PAGE
    token = ApiToken.objects.get()
    assert token.revoked_at is not None and token.revoked_by == owner
    event = SystemLogEvent.objects.get(event_type="directory.api_token.revoked")
    assert event.actor == owner


def test_nobody_revokes_someone_elses_token_from_the_page(owner, client):
    other = UserFactory(username="oscar")
    issued = services.api_token_issue(user=other, actor=other, name="Oscar's token")
    client.force_login(owner)

    assert client.post(f"{PAGE}{issued.token.pk}/revoke/").status_code == 404
    assert client.get(f"{PAGE}{issued.token.pk}/revoke/").status_code == 405
    assert ApiToken.objects.get().revoked_at is None


def test_the_page_needs_a_sign_in(client):
    response = client.get(PAGE)

    assert response.status_code == 302 and "/login/" in response.url

"""Sign-in throttling: too many failures lock an account and a client address out for a while.

The portal, the admin and the API token sign-in share one counter (django-axes): the lock holds
even for the right password, answers 429 with a clear page (or JSON with a reason on the API)
and writes a `directory.user.session.locked_out` event. The limits are the real settings.
"""

from __future__ import annotations

import datetime as dt

import pytest
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.utils import timezone

from tests.directory.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LIMIT = settings.AXES_FAILURE_LIMIT
COOL_OFF = get_cool_off()
PORTAL_LOGIN = "/login/"
ADMIN_LOGIN = "/admin/login/"
API_TOKEN = "/api/v1/auth/token/"


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", email="alice@example.com", is_staff=True)


def _sign_in(client, url: str, login: str, password: str, address: str = "10.0.0.1"):
    if url == API_TOKEN:
        return client.post(
            url,
            {"username": login, "password": password},
            content_type="application/json",
            REMOTE_ADDR=address,
        )
    return client.post(url, {"username": login, "password": password}, REMOTE_ADDR=address)


def _signed_in(client, url: str, response) -> bool:
    if url == API_TOKEN:
        return response.status_code == 200 and "token" in response.json()
    return response.status_code == 302 and "_auth_user_id" in client.session


def test_the_limit_is_a_real_one():
    assert 3 <= LIMIT <= 20
    assert COOL_OFF.total_seconds() >= 60


@pytest.mark.parametrize("url", [PORTAL_LOGIN, ADMIN_LOGIN, API_TOKEN])
def test_below_the_limit_the_right_password_still_signs_in(url, alice, client):
    for _ in range(LIMIT - 1):
        assert not _signed_in(client, url, _sign_in(client, url, "alice", "wrong-password"))

    assert _signed_in(client, url, _sign_in(client, url, "alice", PASSWORD))


@pytest.mark.parametrize("url", [PORTAL_LOGIN, ADMIN_LOGIN])
def test_too_many_failures_lock_the_page_sign_in_even_for_the_right_password(
    url, alice, client, system_log
):
    for _ in range(LIMIT):
        _sign_in(client, url, "alice", "wrong-password")

    response = _sign_in(client, url, "alice", PASSWORD)

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    page = response.content.decode()
    assert "Too many failed sign-ins" in page
    minutes = int(COOL_OFF.total_seconds() // 60)
    assert f"Try again in {minutes} minutes" in page
    assert response["Retry-After"] == str(int(COOL_OFF.total_seconds()))
    locked = system_log.new("directory.user.session.locked_out")
    assert locked, "a lockout writes a system log event"
    assert locked[0].outcome == "denied"
    assert locked[0].data["username"] == "alice"
    assert locked[0].data["client_ip"] == "10.0.0.1"
    assert locked[0].data["failure_limit"] == LIMIT


def test_too_many_failures_lock_the_api_token_sign_in_with_a_json_reason(alice, client, system_log):
    for _ in range(LIMIT - 1):
        assert _sign_in(client, API_TOKEN, "alice", "wrong-password").status_code == 400
    # The failure that reaches the limit is answered as a lockout already.
    assert _sign_in(client, API_TOKEN, "alice", "wrong-password").status_code == 429

    response = _sign_in(client, API_TOKEN, "alice", PASSWORD)

    assert response.status_code == 429
    body = response.json()
    assert "token" not in body
    assert body["reason"] == "too_many_failed_sign_ins"
    assert "Too many failed sign-ins" in body["detail"]
    assert body["retry_after"] == int(COOL_OFF.total_seconds())
    assert response["Retry-After"] == str(body["retry_after"])
    assert system_log.new("directory.user.session.locked_out")


def test_one_counter_for_the_portal_the_admin_and_the_api(alice, client):
    urls = [PORTAL_LOGIN, ADMIN_LOGIN, API_TOKEN]
    for attempt in range(LIMIT):
        _sign_in(client, urls[attempt % 3], "alice", "wrong-password")

    assert _sign_in(client, API_TOKEN, "alice", PASSWORD).status_code == 429
    assert _sign_in(client, PORTAL_LOGIN, "alice", PASSWORD).status_code == 429


def test_the_account_is_locked_whatever_the_address_and_however_it_is_spelled(alice, client):
    spellings = ["alice", "ALICE", "alice@example.com", "Alice@Example.com"]
    for attempt in range(LIMIT):
        _sign_in(
            client,
            PORTAL_LOGIN,
            spellings[attempt % len(spellings)],
            "wrong-password",
            address=f"10.1.0.{attempt + 1}",
        )

    assert _sign_in(client, PORTAL_LOGIN, "alice", PASSWORD, "10.2.0.1").status_code == 429
    # Another account from a fresh address is not affected.
    UserFactory(username="bob")
    assert _signed_in(
        client, PORTAL_LOGIN, _sign_in(client, PORTAL_LOGIN, "bob", PASSWORD, "10.2.0.2")
    )


def test_the_client_address_is_locked_whatever_the_account(alice, client):
    for attempt in range(LIMIT):
        _sign_in(client, PORTAL_LOGIN, f"guess-{attempt}", "wrong-password", address="10.3.0.1")

    assert _sign_in(client, PORTAL_LOGIN, "alice", PASSWORD, "10.3.0.1").status_code == 429
    # The same account from another address signs in.
    assert _signed_in(
        client, PORTAL_LOGIN, _sign_in(client, PORTAL_LOGIN, "alice", PASSWORD, "10.3.0.2")
    )


def test_the_lock_ends_after_the_cool_off(alice, client):
    for _ in range(LIMIT):
        _sign_in(client, PORTAL_LOGIN, "alice", "wrong-password")
    assert _sign_in(client, PORTAL_LOGIN, "alice", PASSWORD).status_code == 429

    long_ago = timezone.now() - COOL_OFF - dt.timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=long_ago)

    assert _signed_in(client, PORTAL_LOGIN, _sign_in(client, PORTAL_LOGIN, "alice", PASSWORD))

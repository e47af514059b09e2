"""API tokens: hashed at rest, shown once, named, expiring, listed and revoked by their owner.

`POST /api/v1/auth/token/` still answers `{"token": ...}` and `Authorization: Token ...` still
signs API calls in. Suspending or deprovisioning a person revokes every token and session they
hold, so that unsuspending (or reactivating) them does not bring old credentials back.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.directory import services
from apps.directory.models import ApiToken
from tests.directory.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
TOKENS_URL = "/api/v1/auth/tokens/"
SOME_API = "/api/v1/request-types/"


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", email="alice@example.com")


def _issue(login: str = "alice", **extra) -> dict:
    response = APIClient().post(TOKEN_URL, {"username": login, "password": PASSWORD, **extra})
    assert response.status_code == 200, response.content
    return response.json()


def _api(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_rest_framework_authtoken_is_gone():
    assert "rest_framework.authtoken" not in settings.INSTALLED_APPS
    assert "authtoken_token" not in connection.introspection.table_names()


def test_the_token_sign_in_answers_a_token_that_signs_api_calls_in(alice):
    body = _issue()

    assert set(body) >= {"token", "id", "name", "expires_at"}
    assert _api(body["token"]).get(SOME_API).status_code == 200
    assert APIClient().get(SOME_API).status_code in (401, 403)
    assert _api(body["token"] + "x").get(SOME_API).status_code == 401


def test_the_secret_is_stored_hashed_never_in_plaintext(alice):
    key = _issue()["token"]

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")
        stored = json.dumps(cursor.fetchall(), default=str)
    assert key not in stored
    token = ApiToken.objects.get()
    assert key.startswith(token.prefix) and len(token.prefix) < len(key) / 2
    assert token.key_hash != key


def test_a_token_has_a_name_and_an_expiry(alice):
    before = timezone.now()
    default = _issue()
    named = _issue(name="Nightly export", expires_in_days=7)

    default_token = ApiToken.objects.get(pk=default["id"])
    named_token = ApiToken.objects.get(pk=named["id"])
    assert default_token.name
    expected = before + dt.timedelta(days=settings.API_TOKEN_DEFAULT_DAYS)
    assert abs(default_token.expires_at - expected) < dt.timedelta(minutes=1)
    assert named_token.name == "Nightly export"
    assert abs(named_token.expires_at - (before + dt.timedelta(days=7))) < dt.timedelta(minutes=1)


@pytest.mark.parametrize("days", [0, -1, 100000, "soon"])
def test_an_expiry_out_of_bounds_is_a_400_and_no_token(days, alice):
    response = APIClient().post(
        TOKEN_URL, {"username": "alice", "password": PASSWORD, "expires_in_days": days}
    )

    assert response.status_code == 400
    assert "expires_in_days" in response.json()
    assert not ApiToken.objects.exists()


def test_an_expired_token_is_refused(alice):
    body = _issue()
    ApiToken.objects.filter(pk=body["id"]).update(expires_at=timezone.now())

    assert _api(body["token"]).get(SOME_API).status_code == 401


def test_use_is_recorded_as_last_used(alice):
    body = _issue()
    assert ApiToken.objects.get(pk=body["id"]).last_used_at is None

    _api(body["token"]).get(SOME_API)

    assert ApiToken.objects.get(pk=body["id"]).last_used_at is not None


def test_issuing_writes_an_event_without_the_secret(alice, system_log):
    body = _issue(name="CI")

    [event] = system_log.new("directory.api_token.issued")
    assert event.actor == alice
    assert (event.target_type, event.target_id) == ("directory.apitoken", str(body["id"]))
    assert event.data["new"]["name"] == "CI"
    assert event.data["new"]["user"] == alice.pk
    assert body["token"] not in json.dumps(event.data) + event.target_display


def test_people_list_their_own_tokens_never_the_secret(alice):
    mine = _issue(name="laptop")
    UserFactory(username="bob")
    _issue("bob", name="bob's")

    response = _api(mine["token"]).get(TOKENS_URL)

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["name"] for row in rows] == ["laptop"]
    assert set(rows[0]) == {"id", "name", "prefix", "created_at", "expires_at", "last_used_at"}
    assert mine["token"] not in response.content.decode()


def test_people_revoke_their_own_token_and_it_stops_working(alice, system_log):
    laptop = _issue(name="laptop")
    ci = _issue(name="ci")
    system_log.mark()

    response = _api(laptop["token"]).delete(f"{TOKENS_URL}{ci['id']}/")

    assert response.status_code == 204
    assert _api(ci["token"]).get(SOME_API).status_code == 401
    assert _api(laptop["token"]).get(SOME_API).status_code == 200
    [event] = system_log.new("directory.api_token.revoked")
    assert event.actor == alice
    assert event.target_id == str(ci["id"])
    assert event.data["old"] == {"revoked_at": None}
    assert event.data["new"]["revoked_at"]


def test_nobody_revokes_someone_elses_token(alice):
    mine = _issue()
    UserFactory(username="bob")
    bobs = _issue("bob")

    response = _api(mine["token"]).delete(f"{TOKENS_URL}{bobs['id']}/")

    assert response.status_code == 404
    assert _api(bobs["token"]).get(SOME_API).status_code == 200


@pytest.mark.parametrize(
    "leave, come_back",
    [
        (["suspend"], ["unsuspend"]),
        (["deactivate"], ["reactivate", "activate"]),
    ],
)
def test_leaving_revokes_every_token_and_session_for_good(
    leave, come_back, alice, admin_user, system_log
):
    key = _issue()["token"]
    browser = Client()
    browser.force_login(alice)
    assert browser.get("/").status_code == 302  # signed in: the home page redirects to the catalog
    assert browser.get("/catalog/").status_code == 200
    system_log.mark()

    for verb in leave:
        services.LIFECYCLE_SERVICES[verb](user=alice, actor=admin_user)
    for verb in come_back:
        services.LIFECYCLE_SERVICES[verb](user=alice, actor=admin_user)

    assert _api(key).get(SOME_API).status_code == 401
    response = browser.get("/catalog/")
    assert response.status_code == 302 and "/login/" in response.url
    assert ApiToken.objects.get().revoked_at is not None
    left_as = "suspended" if leave == ["suspend"] else "deactivated"
    [left] = system_log.new(f"directory.user.{left_as}")
    assert left.data["tokens_revoked"] == [ApiToken.objects.get().prefix]
    # A fresh sign-in works again once the person is back.
    assert _api(_issue()["token"]).get(SOME_API).status_code == 200

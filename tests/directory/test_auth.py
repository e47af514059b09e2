"""Signing in: only active people may, by username or e-mail; every attempt is logged."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import authenticate as django_authenticate
from django.test import RequestFactory

from apps.directory import services
from apps.directory.models import UserStatus
from tests.directory.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN_URL = "/admin/login/"


def _request():
    """Sign-in is throttled per client (django-axes): authenticate() needs the request."""
    return RequestFactory().post(LOGIN_URL)


def authenticate(**credentials):
    return django_authenticate(request=_request(), **credentials)


@pytest.fixture
def alice(db):
    return UserFactory(username="Alice", email="alice.smith@example.com", is_staff=True)


@pytest.mark.parametrize(
    "status", [UserStatus.STAGED, UserStatus.SUSPENDED, UserStatus.DEPROVISIONED]
)
@pytest.mark.parametrize("login", ["username", "email"])
def test_only_active_people_can_sign_in(status, login, client):
    user = UserFactory(status=status)

    assert authenticate(username=getattr(user, login), password=PASSWORD) is None
    assert (
        client.login(request=_request(), username=getattr(user, login), password=PASSWORD) is False
    )


@pytest.mark.parametrize(
    "login",
    ["Alice", "alice", "ALICE", "alice.smith@example.com", "ALICE.Smith@EXAMPLE.com"],
)
def test_active_person_signs_in_by_username_or_email_whatever_the_case(login, alice, client):
    assert authenticate(username=login, password=PASSWORD) == alice
    assert client.login(request=_request(), username=login, password=PASSWORD) is True


@pytest.mark.parametrize("login", ["Alice", "nobody", "nobody@example.com", ""])
def test_wrong_password_or_unknown_login_is_refused(login, alice, client):
    assert authenticate(username=login, password="wrong-password") is None
    assert client.login(request=_request(), username=login, password="wrong-password") is False


def test_suspending_someone_ends_their_open_session(alice, actor, client):
    client.force_login(alice)
    assert client.get("/admin/").status_code == 200

    services.user_suspend(user=alice, actor=actor)

    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.url.startswith(LOGIN_URL)


def test_sign_in_logs_session_started_with_address_and_country(alice, client, system_log):
    response = client.post(
        LOGIN_URL,
        {"username": "alice.smith@example.com", "password": PASSWORD, "next": "/admin/"},
        headers={"CF-IPCountry": "ch", "X-Request-ID": "sign-in-request-0001"},
    )

    assert response.status_code == 302
    [event] = system_log.new("directory.user.session.started")
    assert event.actor == alice
    assert (event.target_type, event.target_id) == ("directory.user", str(alice.pk))
    assert event.outcome == "success"
    assert event.data == {"client_ip": "127.0.0.1", "country": "CH"}
    assert event.client_ip == "127.0.0.1"
    assert event.correlation_id == "sign-in-request-0001"


def test_sign_in_without_country_header_logs_no_country(alice, client, system_log):
    client.post(LOGIN_URL, {"username": "alice", "password": PASSWORD})

    [event] = system_log.new("directory.user.session.started")
    assert event.data == {"client_ip": "127.0.0.1"}


def test_failed_sign_in_logs_session_failed_with_outcome_failure(alice, client, system_log):
    response = client.post(LOGIN_URL, {"username": "alice", "password": "not-the-password"})

    assert response.status_code == 200  # the form again, with an error
    assert "_auth_user_id" not in client.session
    event = system_log.one()
    assert event.event_type == "directory.user.session.failed"
    assert event.outcome == "failure"
    assert event.actor is None
    assert event.target_display == "alice"
    assert event.data["username"] == "alice"
    assert event.data["client_ip"] == "127.0.0.1"
    assert "not-the-password" not in json.dumps(event.data)


def test_sign_in_of_a_suspended_person_is_logged_as_failed(alice, client, system_log):
    alice.status = UserStatus.SUSPENDED
    alice.save()

    client.post(LOGIN_URL, {"username": "alice", "password": PASSWORD})

    assert system_log.new("directory.user.session.started") == []
    [event] = system_log.new("directory.user.session.failed")
    assert event.outcome == "failure"


def test_sign_out_logs_session_ended(alice, client, system_log):
    client.force_login(alice)
    system_log.mark()

    client.post("/admin/logout/")

    event = system_log.one()
    assert event.event_type == "directory.user.session.ended"
    assert event.actor == alice

"""Events from other systems: Okta event hooks and generic JSON sources into the system log."""

from __future__ import annotations

import itertools

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from apps.audit import catalogue, services
from apps.audit.errors import UnknownEventType
from apps.audit.models import IngestKind, IngestSource, Outcome, SystemLogEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


_numbers = itertools.count(1)


def _okta_event(event_type="user.session.start", login="ada@example.com", **extra):
    return {
        "uuid": f"5f6e7a4c-0000-11ee-8000-{next(_numbers):012d}",
        "published": "2026-12-01T10:00:00.000Z",
        "eventType": event_type,
        "displayMessage": "User login to Okta",
        "outcome": {"result": "SUCCESS"},
        "actor": {"id": "00u1", "type": "User", "alternateId": login, "displayName": "Ada"},
        "client": {"geographicalContext": {"country": "France"}, "ipAddress": "203.0.113.9"},
        "target": [{"id": "00u1", "type": "User", "alternateId": login, "displayName": "Ada"}],
        **extra,
    }


@pytest.fixture
def okta():
    source, secret = services.ingest_source_create(actor=None, name="Okta", slug="okta")
    return source, secret


def _post(path, body, secret=None, header="HTTP_AUTHORIZATION"):
    headers = {header: secret} if secret is not None else {}
    return APIClient().post(path, body, format="json", **headers)


# --- the catalogue's families ---------------------------------------------------------------


def test_a_declared_family_accepts_its_members_and_nothing_else():
    assert catalogue.get("okta.user.session.start").name == "okta.user.session.start"
    assert catalogue.get("ingest.hr.employee.hired").description.startswith("An event from")
    for refused in ("okta.", "okta", "okta.bad type", "oktax.user", "nobody.declared.this"):
        with pytest.raises(UnknownEventType):
            catalogue.get(refused)
    with pytest.raises(UnknownEventType):
        catalogue.get("okta." + "a" * 100)
    assert "okta.*" in {event_type.name for event_type in catalogue.all_event_types()}


# --- Okta -----------------------------------------------------------------------------------


def test_the_okta_verification_challenge_is_answered(okta):
    _, secret = okta
    response = APIClient().get(
        "/api/v1/ingest/okta/",
        HTTP_AUTHORIZATION=secret,
        HTTP_X_OKTA_VERIFICATION_CHALLENGE="Q8mvRb3qTSZ2yHtCwPq7",
    )
    assert response.status_code == 200
    assert response.json() == {"verification": "Q8mvRb3qTSZ2yHtCwPq7"}


def test_the_verification_needs_the_secret_and_the_challenge(okta):
    _, secret = okta
    client = APIClient()
    challenge = {"HTTP_X_OKTA_VERIFICATION_CHALLENGE": "abc"}
    assert client.get("/api/v1/ingest/okta/", **challenge).status_code == 401
    assert (
        client.get("/api/v1/ingest/okta/", HTTP_AUTHORIZATION="wrong", **challenge).status_code
        == 401
    )
    assert client.get("/api/v1/ingest/okta/", HTTP_AUTHORIZATION=secret).status_code == 400


def test_an_okta_delivery_is_written_as_okta_events(okta):
    _, secret = okta
    ada = UserFactory(email="Ada@Example.com")
    body = {
        "eventType": "com.okta.event_hook",
        "data": {
            "events": [
                _okta_event(),
                _okta_event("user.mfa.factor.activate", outcome={"result": "FAILURE"}),
            ]
        },
    }
    response = _post("/api/v1/ingest/okta/", body, secret)
    assert response.status_code == 200
    assert response.json()["recorded"] == 2 and response.json()["refused"] == 0
    session = SystemLogEvent.objects.get(event_type="okta.user.session.start")
    assert session.actor == ada
    assert session.data["source"] == "okta"
    assert session.data["event"]["client"]["geographicalContext"]["country"] == "France"
    assert (session.target_type, session.target_id) == ("okta.User", "00u1")
    assert session.message == "User login to Okta"
    mfa = SystemLogEvent.objects.get(event_type="okta.user.mfa.factor.activate")
    assert mfa.outcome == Outcome.FAILURE
    assert [r["id"] for r in response.json()["results"]] == [str(session.uuid), str(mfa.uuid)]


def test_a_batch_with_a_bad_event_records_the_good_ones_and_reports_the_bad_one(okta):
    _, secret = okta
    body = {
        "data": {
            "events": [
                _okta_event(),
                {"displayMessage": "no type"},
                "not an object",
                _okta_event("bad type!"),
                _okta_event("user.lifecycle.create", login="nobody@example.com"),
            ]
        }
    }
    response = _post("/api/v1/ingest/okta/", body, secret)
    assert response.status_code == 207
    results = response.json()["results"]
    assert [r["status"] for r in results] == [
        "recorded",
        "refused",
        "refused",
        "refused",
        "recorded",
    ]
    assert results[1]["error"] == "The event has no 'eventType'."
    assert results[2]["error"] == "An event must be a JSON object."
    assert "not a dotted event type" in results[3]["error"]
    assert SystemLogEvent.objects.filter(event_type__startswith="okta.").count() == 2
    created = SystemLogEvent.objects.get(event_type="okta.user.lifecycle.create")
    assert created.actor is None and created.actor_display == "system"


def test_a_delivery_of_the_wrong_shape_answers_400(okta):
    _, secret = okta
    assert _post("/api/v1/ingest/okta/", {"events": []}, secret).status_code == 400
    assert _post("/api/v1/ingest/okta/", {"data": {"events": {}}}, secret).status_code == 400
    too_many = {"data": {"events": [_okta_event() for _ in range(501)]}}
    assert _post("/api/v1/ingest/okta/", too_many, secret).status_code == 400
    assert not SystemLogEvent.objects.filter(event_type__startswith="okta.").exists()


def test_a_wrong_or_missing_secret_or_an_unknown_source_answers_401(okta):
    _, secret = okta
    body = {"data": {"events": [_okta_event()]}}
    assert _post("/api/v1/ingest/okta/", body).status_code == 401
    assert _post("/api/v1/ingest/okta/", body, "wrong").status_code == 401
    assert _post("/api/v1/ingest/nobody/", body, secret).status_code == 401
    assert not SystemLogEvent.objects.filter(event_type__startswith="okta.").exists()


def test_a_new_secret_replaces_the_old_one(okta):
    source, old = okta
    new = services.ingest_source_rotate_secret(source=source, actor=None)
    body = {"data": {"events": [_okta_event()]}}
    assert _post("/api/v1/ingest/okta/", body, old).status_code == 401
    assert _post("/api/v1/ingest/okta/", body, new).status_code == 200
    source.refresh_from_db()
    assert old not in source.secret_hash and new not in source.secret_hash
    assert not SystemLogEvent.objects.filter(data__icontains=new).exists()


def test_a_disabled_source_answers_409(okta):
    source, secret = okta
    services.ingest_source_update(source=source, actor=None, enabled=False)
    response = _post("/api/v1/ingest/okta/", {"data": {"events": [_okta_event()]}}, secret)
    assert response.status_code == 409


def test_the_secret_header_is_the_one_the_source_names():
    _, secret = services.ingest_source_create(
        actor=None, name="Okta EU", slug="okta-eu", auth_header="X-Okta-Secret"
    )
    body = {"data": {"events": [_okta_event()]}}
    assert _post("/api/v1/ingest/okta-eu/", body, secret).status_code == 401
    assert _post("/api/v1/ingest/okta-eu/", body, secret, "HTTP_X_OKTA_SECRET").status_code == 200


# --- generic sources ------------------------------------------------------------------------


def test_a_generic_source_writes_its_events_under_its_prefix():
    _, secret = services.ingest_source_create(
        actor=None, name="HR", slug="hr", kind=IngestKind.GENERIC, event_prefix="hr"
    )
    grace = UserFactory(username="grace")
    body = {
        "events": [
            {
                "type": "employee.hired",
                "actor": "GRACE",
                "target": {"type": "employee", "id": "42", "display": "Ada"},
                "start": "2027-01-04",
            },
            {"kind": "no type"},
        ]
    }
    response = _post("/api/v1/ingest/hr/", body, secret)
    assert response.status_code == 207
    hired = SystemLogEvent.objects.get(event_type="ingest.hr.employee.hired")
    assert hired.actor == grace and hired.data["event"]["start"] == "2027-01-04"
    assert (hired.target_type, hired.target_id, hired.target_display) == ("employee", "42", "Ada")
    assert response.json()["results"][1] == {
        "index": 1,
        "status": "refused",
        "error": "The event has no 'type'.",
    }


def test_a_generic_source_needs_a_prefix_and_its_changes_are_logged():
    with pytest.raises(ValidationError, match="needs an event prefix"):
        services.ingest_source_create(actor=None, name="X", slug="x", kind=IngestKind.GENERIC)
    source, _ = services.ingest_source_create(
        actor=None, name="X", slug="x", kind=IngestKind.GENERIC, event_prefix="x"
    )
    services.ingest_source_update(source=source, actor=None, event_prefix="y")
    assert SystemLogEvent.objects.filter(event_type="audit.ingest_source.updated").count() == 1
    services.ingest_source_update(source=source, actor=None, event_prefix="y")  # no-op
    assert SystemLogEvent.objects.filter(event_type="audit.ingest_source.updated").count() == 1


# --- the admin ------------------------------------------------------------------------------


def test_the_admin_adds_a_source_and_shows_its_secret_once(admin_client):
    response = admin_client.post(
        "/admin/audit/ingestsource/add/",
        {
            "name": "Okta",
            "slug": "okta",
            "kind": "okta",
            "event_prefix": "",
            "auth_header": "Authorization",
            "enabled": "on",
        },
    )
    assert response.status_code == 200, response.content[:500]
    secret = response.context["secret"]
    source = IngestSource.objects.get(slug="okta")
    assert (
        services.ingest_source_authenticated(slug="okta", headers={"Authorization": secret})
        == source
    )
    page = admin_client.get(f"/admin/audit/ingestsource/{source.pk}/change/").content.decode()
    assert secret not in page and source.secret_hash not in page
    response = admin_client.post(
        "/admin/audit/ingestsource/",
        {"action": "rotate_secret", "_selected_action": [source.pk]},
    )
    assert response.context["secret"] != secret
    assert (
        services.ingest_source_authenticated(slug="okta", headers={"Authorization": secret}) is None
    )


def test_a_delivery_sent_again_records_nothing_twice(okta):
    _, secret = okta
    first, second = _okta_event(), _okta_event("user.lifecycle.suspend")
    delivery = {"data": {"events": [first, second]}}
    recorded = _post("/api/v1/ingest/okta/", delivery, secret).json()["results"]
    again = _post("/api/v1/ingest/okta/", {"data": {"events": [second, first, first]}}, secret)
    assert again.status_code == 200
    body = again.json()
    assert (body["recorded"], body["duplicates"], body["refused"]) == (0, 3, 0)
    assert [r["id"] for r in body["results"]] == [
        recorded[1]["id"],
        recorded[0]["id"],
        recorded[0]["id"],
    ]
    assert SystemLogEvent.objects.filter(event_type__startswith="okta.").count() == 2


def test_the_same_id_twice_in_one_delivery_is_recorded_once():
    _, secret = services.ingest_source_create(
        actor=None, name="HR", slug="hr", kind=IngestKind.GENERIC, event_prefix="hr"
    )
    event = {"type": "employee.left", "id": 7}
    response = _post("/api/v1/ingest/hr/", {"events": [event, event, {"type": "x"}]}, secret)
    statuses = [r["status"] for r in response.json()["results"]]
    assert statuses == ["recorded", "duplicate", "recorded"]
    assert SystemLogEvent.objects.filter(event_type__startswith="ingest.hr.").count() == 2

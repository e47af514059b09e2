"""The OpenAPI schema says what the server does: its errors, nullable fields, request bodies
and query parameters."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

WRITE_METHODS = {"post", "put", "patch", "delete"}


@pytest.fixture
def schema(admin_user) -> dict:
    client = APIClient()
    client.force_authenticate(admin_user)
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, operation


def test_every_operation_documents_the_errors_it_can_answer(schema):
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        where = f"{method.upper()} {path}"
        if path != "/api/v1/auth/token/":  # the sign-in reads credentials from its body: 400
            assert "401" in responses, where  # every other endpoint reads the caller's credentials
        assert "503" in responses, where  # no database connection free in time
        parameters = operation.get("parameters", [])
        if any(p["in"] == "path" for p in parameters):
            assert "404" in responses, where
        if "requestBody" in operation:
            assert "400" in responses, where
        # The sign-in and the event ingest authenticate by what they are sent (a password, a
        # source's secret): a wrong one is a 400 or a 401, never a 403.
        if method in WRITE_METHODS and path not in {
            "/api/v1/auth/token/",
            "/api/v1/ingest/{source}/",
        }:
            assert {"403", "409"} <= set(responses), where
        for status_code in ("400", "401", "403", "404", "409", "429", "503"):
            if status_code in responses:
                assert responses[status_code]["content"]["application/json"]["schema"], where
    token = schema["paths"]["/api/v1/auth/token/"]["post"]["responses"]
    assert {"400", "429"} <= set(token)
    lifecycle = schema["paths"]["/api/v1/users/{id}/lifecycle/{verb}/"]["post"]["responses"]
    assert "409" in lifecycle


def test_an_error_answer_matches_its_schema(schema, admin_user):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["detail"]
    client = APIClient()
    answer = client.get("/api/v1/users/")
    assert answer.status_code == 401
    assert set(answer.json()) == {"detail"}


def test_a_user_without_manager_is_documented_as_possible(schema):
    manager = schema["components"]["schemas"]["User"]["properties"]["manager"]
    assert manager.get("nullable") is True


def test_adding_a_holder_documents_the_body_it_takes(schema):
    for kind in ("groups", "applications"):
        operation = schema["paths"][f"/api/v1/{kind}/{{id}}/holders/"]["post"]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert set(body["properties"]) == {"user", "source", "expires_at"}
        assert body["required"] == ["user"]
        assert "204" in operation["responses"]
        assert "200" not in operation["responses"]


def test_list_filters_are_documented(schema):
    def query(path: str) -> dict[str, dict]:
        parameters = schema["paths"][path]["get"].get("parameters", [])
        return {p["name"]: p for p in parameters if p["in"] == "query"}

    users = query("/api/v1/users/")
    assert {"status", "email", "username", "manager"} <= set(users)
    assert users["manager"]["schema"]["type"] == "integer"
    assert "enum" in users["status"]["schema"] or "$ref" in users["status"]["schema"]
    system_log = query("/api/v1/system-log/")
    assert {"event_type", "actor", "target_type", "target_id", "since", "until"} <= set(system_log)
    assert system_log["since"]["schema"]["format"] == "date-time"


def test_an_unknown_api_path_is_a_json_404(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    for path in (
        "/api/v1/nothing-here/",
        "/api/v1/approvals/not-a-number/",
        "/api/v1/requests/%0A%09/comments/",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["Content-Type"] == "application/json", path
        assert set(answer.json()) == {"detail"}


def test_free_text_query_parameters_say_they_refuse_nul(schema, admin_user):
    parameters = schema["paths"]["/api/v1/users/"]["get"]["parameters"]
    username = next(p for p in parameters if p["name"] == "username")
    assert username["schema"]["pattern"] == "^[^\\x00]*$"
    client = APIClient()
    client.force_authenticate(admin_user)
    assert client.get("/api/v1/users/", {"username": "a\x00b"}).status_code == 400

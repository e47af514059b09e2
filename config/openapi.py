"""The OpenAPI schema's error answers, added to every operation in one place.

`config.api.exception_handler` gives every endpoint the same error answers; this schema class
documents them on each operation from what the operation has, so that the individual api.py
files only describe their successes (an operation may still document an error itself, with
its own description: that one is kept):

- 400: the body or a query parameter is refused (operations with a body or filters):
  fields by name, each with a list of messages, nested for answers and inputs.
- 401: no credentials, or bad ones (operations that authenticate the caller).
- 403: the caller may not do this (operations behind a permission; also a session-cookie
  write without its CSRF token).
- 404: no such object, or not one the caller may see (operations with a path parameter);
  a page or cursor past the end (paginated lists).
- 409: the object's state no longer allows the change (writes).
- 429: too many attempts (throttled operations; the token sign-in, after failed attempts).
- 503: no database connection came free within DB_POOL_TIMEOUT (any operation).

Free-text query parameters also say that they refuse the NUL character (DRF refuses it in any
text, and PostgreSQL could not store it).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers
from rest_framework.permissions import AllowAny

# Sign-ins locked out after repeated failures answer 429 (django-axes).
RATE_LIMITED_PATHS = {"/api/v1/auth/token/"}
PAGINATION_PARAMETERS = {"page", "cursor", "page_size"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
NO_NUL_CHARACTER = "^[^\\x00]*$"


class ErrorSerializer(serializers.Serializer):
    """An error that concerns the whole request."""

    detail = serializers.CharField(read_only=True, help_text="What went wrong, for a person.")


FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "description": 'Refused fields by name, each with its messages: `{"comment": ["..."]}`; '
    'answers and inputs nested under `answers` / `inputs`; `{"detail": [...]}` for an error '
    "not tied to a field.",
    "additionalProperties": {},
}

DESCRIPTIONS = {
    "400": "The body or a query parameter was refused; each field is named.",
    "401": "Credentials are missing or not valid.",
    "403": "The caller may not do this.",
    "404": "No such object, or not one the caller may see (or a page past the end).",
    "409": "The object's state no longer allows this.",
    "429": "Too many attempts: try again later.",
    "503": "The server is busy (no database connection came free in time): retry after the "
    "seconds in Retry-After.",
}


class AutoSchema(SpectacularAutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        # The errors the view can answer, and those it declares itself without a body.
        declared = [code for code in responses if code in DESCRIPTIONS]
        for status_code in dict.fromkeys([*self._error_status_codes(operation), *declared]):
            responses.setdefault(status_code, {"description": DESCRIPTIONS[status_code]})
            responses[status_code].setdefault(
                "content", {"application/json": {"schema": self._error_schema(status_code)}}
            )
        operation["responses"] = dict(sorted(responses.items()))
        for parameter in operation.get("parameters", []):
            schema = parameter.get("schema", {})
            free_text = schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(
                schema
            )
            if parameter["in"] == "query" and free_text:
                schema["pattern"] = NO_NUL_CHARACTER
        return operation

    def _error_status_codes(self, operation: dict[str, Any]) -> list[str]:
        parameters = operation.get("parameters", [])
        in_path = any(p["in"] == "path" for p in parameters)
        filters = [
            p for p in parameters if p["in"] == "query" and p["name"] not in PAGINATION_PARAMETERS
        ]
        paginated = any(
            p["in"] == "query" and p["name"] in PAGINATION_PARAMETERS for p in parameters
        )
        authenticates = bool(self.view.get_authenticators())
        guarded = any(not isinstance(p, AllowAny) for p in self.view.get_permissions())
        codes = []
        if "requestBody" in operation or filters:
            codes.append("400")
        if authenticates:
            codes.append("401")
        if guarded or (authenticates and self.method in WRITE_METHODS):
            codes.append("403")
        if in_path or paginated:
            codes.append("404")
        if self.method in WRITE_METHODS and guarded:
            codes.append("409")
        if self.view.get_throttles() or self.path in RATE_LIMITED_PATHS:
            codes.append("429")
        codes.append("503")
        return codes

    def _error_schema(self, status_code: str) -> dict[str, Any]:
        if status_code == "400":
            component = ResolvedComponent(
                name="FieldErrors",
                type=ResolvedComponent.SCHEMA,
                object="FieldErrors",
                schema=FIELD_ERRORS_SCHEMA,
            )
            self.registry.register_on_missing(component)
            return component.ref
        return self.resolve_serializer(ErrorSerializer, "response").ref

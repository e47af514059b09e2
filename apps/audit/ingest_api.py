"""`/api/v1/ingest/{source}/`: events from other systems into the system log.

Each source is configured in the admin (System log → Event ingest sources): its slug, its kind
and the header carrying its shared secret (only the secret's hash is kept).

- **Okta** (`kind` okta): point an Okta event hook at `/api/v1/ingest/<slug>/`, with the
  source's header as its "Authentication field" and the secret as its value.
  - `GET` with `x-okta-verification-challenge: <value>` (Okta's one-time verification) answers
    `{"verification": "<value>"}`.
  - `POST {"data": {"events": [...]}}`: each event is written as `okta.<eventType>` (for example
    `okta.user.session.start`), with the Okta event under `data.event`; its actor is the person
    whose e-mail or username is the event actor's `alternateId`, when there is one.
- **Generic** (`kind` generic): `POST {"events": [{"type": "employee.hired", "actor":
  "ada@example.com", "target": {"type": "employee", "id": "42", "display": "Ada"},
  "message": "...", ...}]}`; each is written as `ingest.<prefix>.<type>`.

Answers: **200** when no event was refused, **207** when some were; either way the body lists
each event's result in order:

    {"received": 3, "recorded": 1, "duplicates": 1, "refused": 1, "results": [
        {"index": 0, "status": "recorded", "event_type": "okta.user.session.start", "id": "..."},
        {"index": 1, "status": "duplicate", "event_type": "okta.user.session.start", "id": "..."},
        {"index": 2, "status": "refused", "error": "The event has no 'eventType'."}]}

`id` is the system log event's uuid. An event whose id (Okta's `uuid`, a generic event's `id`)
this source delivered before is a duplicate: Okta sends a delivery again when it did not see
an answer in time, and it is not recorded twice.

**400** a body not of that shape (or more than 500 events), **401** an unknown source or a
wrong secret, **409** a disabled source.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit import services
from apps.audit.models import IngestKind, IngestSource

CHALLENGE_HEADER = "x-okta-verification-challenge"


class IngestView(APIView):
    """Receive a delivery of events from a configured source (see the module's documentation)."""

    authentication_classes: list = []  # the source's shared secret, checked here
    permission_classes: list = []
    throttle_classes: list = []
    parser_classes = [JSONParser]

    def _source(self, request: Request, slug: str) -> IngestSource | Response:
        source = services.ingest_source_authenticated(slug=slug, headers=request.headers)
        if source is None:
            return Response(
                {"detail": "Unknown source or wrong secret."},
                status=status.HTTP_401_UNAUTHORIZED,
                headers={"WWW-Authenticate": "shared-secret"},
            )
        if not source.enabled:
            return Response({"detail": "This source is disabled."}, status=status.HTTP_409_CONFLICT)
        return source

    @extend_schema(
        responses={
            200: OpenApiResponse(description='{"verification": "<the challenge>"}'),
            400: OpenApiResponse(description="No challenge, or not an Okta source."),
            401: OpenApiResponse(description="Unknown source or wrong secret."),
        }
    )
    def get(self, request: Request, source: str) -> Response:
        found = self._source(request, source)
        if isinstance(found, Response):
            return found
        challenge = request.headers.get(CHALLENGE_HEADER, "")
        if found.kind != IngestKind.OKTA or not challenge:
            return Response(
                {"detail": f"Okta's verification sends the {CHALLENGE_HEADER} header."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response({"verification": challenge})

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={
            200: OpenApiResponse(description="Every event recorded; each one's result."),
            207: OpenApiResponse(description="Some events refused; each one's result."),
            400: OpenApiResponse(description="Not a delivery of events."),
            401: OpenApiResponse(description="Unknown source or wrong secret."),
            409: OpenApiResponse(description="The source is disabled."),
        },
    )
    def post(self, request: Request, source: str) -> Response:
        found = self._source(request, source)
        if isinstance(found, Response):
            return found
        events_in = _events_of(found, request.data)
        if events_in is None:
            shape = (
                '{"data": {"events": [...]}}'
                if found.kind == IngestKind.OKTA
                else ('{"events": [...]}')
            )
            return Response(
                {"detail": f"The body must be {shape}."}, status=status.HTTP_400_BAD_REQUEST
            )
        if len(events_in) > services.MAX_EVENTS_PER_DELIVERY:
            return Response(
                {"detail": f"At most {services.MAX_EVENTS_PER_DELIVERY} events per delivery."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        results = services.ingest_events(source=found, events_in=events_in)
        counts = {"recorded": 0, "duplicate": 0, "refused": 0}
        for result in results:
            counts[result["status"]] += 1
        refused = counts["refused"]
        return Response(
            {
                "received": len(results),
                "recorded": counts["recorded"],
                "duplicates": counts["duplicate"],
                "refused": refused,
                "results": results,
            },
            status=status.HTTP_207_MULTI_STATUS if refused else status.HTTP_200_OK,
        )


def _events_of(source: IngestSource, body: Any) -> list[Any] | None:
    if not isinstance(body, dict):
        return None
    if source.kind == IngestKind.OKTA:
        body = body.get("data")
        if not isinstance(body, dict):
            return None
    events_in = body.get("events")
    return events_in if isinstance(events_in, list) else None

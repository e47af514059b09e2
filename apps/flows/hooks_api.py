"""`POST /api/v1/hooks/{slug}/`: call an API-endpoint flow.

Authentication, either:
- `x-api-client-token: <token>`: the endpoint's own client token (rotated from the admin, shown
  once, only its hash kept); or
- `Authorization: Token <key>`: a person's API token, who must be a superuser or hold
  `flows.call_apiendpoint` ("Can call API-endpoint flows with a personal API token").

The JSON body (an object) and the query parameters (as text; the body wins on a clash) are the
flow's inputs, typed as its current version declares them.

Answers:
- **202** `{"run_id": 7, "status": "queued"}` for an asynchronous flow: the run is queued.
- **200** with the value of the flow's `control.return` card (its output) for a synchronous one.
  A synchronous flow whose cards all run in this process (no HTTP call, e-mail, helper flow or
  wait) runs in the web process itself: when every card is idempotent (reads, pure cards), its
  run and history are written at the end in one transaction (on PostgreSQL one statement);
  with directory or table writes, as a queued run would be (a row first, its lease, then its
  history), bounded by `FLOWS_LIMITS`. Any other one is queued and waited for.
- **504** `{"run_id": 7, "status": "queued" | "running" | "failed", "detail": ...}` when a
  synchronous flow has not finished within its `timeout_seconds` (a queued run goes on: read
  it at `/api/v1/flow-runs/{id}/`).
- **502** `{"run_id": 7, "status": "failed", "error": ...}` when a synchronous flow failed.
- **400** refused inputs by name under `inputs` (`{"inputs": {"name": ["This input is
  required."]}}`), or a body that is not a JSON object.
- **401** no credentials, or a wrong (or rotated) client token or API token; **403** an API
  token whose owner may not call endpoints; **404** no API-endpoint flow has that slug;
  **409** its flow is disabled or was never saved; **429** over the flow's
  `rate_limit_per_minute`, with `Retry-After` (seconds).
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.hashing import hash_secret
from apps.directory.authentication import ApiTokenAuthentication
from apps.flows import hooks, services
from apps.flows.models import Flow, FlowRun, RunStatus, Trigger

CALL_PERMISSION = "flows.call_apiendpoint"
CLIENT_TOKEN_HEADER = "x-api-client-token"
_FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED)


def _problem(code: int, detail: str, **extra) -> Response:
    return Response({"detail": detail, **extra}, status=code)


def _input_errors(error: DjangoValidationError) -> dict[str, Any]:
    if hasattr(error, "error_dict"):
        nested = {name: messages for name, messages in error.message_dict.items()}
        flow_level = nested.pop("flow", None)
        body: dict[str, Any] = {"inputs": nested} if nested else {}
        if flow_level:
            body["flow"] = flow_level
        return body
    return {"detail": error.messages}


class HookView(APIView):
    """Call an API-endpoint flow (see the module's documentation)."""

    authentication_classes = [ApiTokenAuthentication]
    permission_classes: list = []  # a client token or the permission, checked in post()
    throttle_classes: list = []  # the flow's own rate limit applies
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        parameters=[
            OpenApiParameter(
                CLIENT_TOKEN_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description="The endpoint's client token (or sign in with an API token).",
            )
        ],
        responses={
            200: OpenApiResponse(OpenApiTypes.ANY, description="The flow's return value."),
            202: OpenApiResponse(description='{"run_id": N, "status": "queued"}'),
            400: OpenApiResponse(description='Refused inputs by name under "inputs".'),
            401: OpenApiResponse(description="No or wrong credentials."),
            403: OpenApiResponse(description="The API token's owner may not call endpoints."),
            404: OpenApiResponse(description="No API-endpoint flow has this slug."),
            409: OpenApiResponse(description="The flow is disabled or has no saved version."),
            429: OpenApiResponse(description="Over the flow's rate limit; see Retry-After."),
            502: OpenApiResponse(description="A synchronous flow failed."),
            504: OpenApiResponse(description="A synchronous flow did not finish in time."),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        client_token = request.headers.get(CLIENT_TOKEN_HEADER, "")
        user = request.user
        if not client_token and not user.is_authenticated:
            return Response(
                {"detail": f"Send the endpoint's {CLIENT_TOKEN_HEADER} header or an API token."},
                status=status.HTTP_401_UNAUTHORIZED,
                headers={"WWW-Authenticate": "Token"},
            )
        endpoint = hooks.endpoint_row(slug)
        if endpoint is None:
            return _problem(404, f"No API-endpoint flow answers at '{slug}'.")
        if client_token:
            expected = endpoint["token_hash"]
            if not expected or not hmac.compare_digest(hash_secret(client_token), expected):
                return Response(
                    {"detail": "Wrong client token for this endpoint."},
                    status=status.HTTP_401_UNAUTHORIZED,
                    headers={"WWW-Authenticate": "Token"},
                )
            actor = None
        else:
            if not (user.is_active and (user.is_superuser or user.has_perm(CALL_PERMISSION))):
                return _problem(403, "You may not call API-endpoint flows.")
            actor = user
        version_id = endpoint["flow__current_version_id"]
        if not endpoint["flow__enabled"] or version_id is None:
            return _problem(409, "The flow behind this endpoint is disabled or was never saved.")
        served = hooks.hook_version(version_id)
        retry_after = hooks.over_rate_limit(endpoint["pk"], served.rate_limit_per_minute)
        if retry_after is not None:
            return Response(
                {
                    "detail": f"Over this endpoint's limit of {served.rate_limit_per_minute} calls "
                    "a minute.",
                    "retry_after": retry_after,
                },
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(retry_after)},
            )
        body = request.data if request.body else {}
        if not isinstance(body, dict):
            return _problem(400, "The body must be a JSON object of the flow's inputs.")
        inputs = {**request.query_params.dict(), **body}
        try:
            if served.synchronous and served.pure:
                run, timed_out = services.run_inline(
                    flow_id=endpoint["flow_id"],
                    version=served.version,
                    inputs=inputs,
                    save_history=endpoint["flow__save_history"],
                    trigger=Trigger.API,
                    trigger_ref=f"hook:{slug}",
                    actor=actor,
                    max_seconds=served.timeout_seconds,
                )
                return _finished(run, timed_out=timed_out, timeout=served.timeout_seconds)
            if served.synchronous and served.in_process:  # writes too: a row first, a lease
                run = services.run_now(
                    flow=Flow(pk=endpoint["flow_id"]),
                    inputs=inputs,
                    trigger=Trigger.API,
                    trigger_ref=f"hook:{slug}",
                    actor=actor,
                )
                return _finished(run, timed_out=False, timeout=served.timeout_seconds)
            run = services.run_enqueue(
                flow=Flow(pk=endpoint["flow_id"]),
                inputs=inputs,
                trigger=Trigger.API,
                trigger_ref=f"hook:{slug}",
                actor=actor,
            )
        except DjangoValidationError as error:
            return Response(_input_errors(error), status=status.HTTP_400_BAD_REQUEST)
        if not served.synchronous:
            return Response(
                {"run_id": run.pk, "status": RunStatus.QUEUED}, status=status.HTTP_202_ACCEPTED
            )
        return _wait_for(run.pk, timeout=served.timeout_seconds)


def _finished(run: FlowRun, *, timed_out: bool, timeout: float) -> Response:
    if run.status == RunStatus.SUCCEEDED:
        return Response(run.output, status=status.HTTP_200_OK)
    if timed_out:
        return _timed_out(run.pk, run.status, timeout)
    return Response(
        {"run_id": run.pk, "status": run.status, "error": run.error},
        status=status.HTTP_502_BAD_GATEWAY,
    )


def _timed_out(run_id: int, run_status: str, timeout: float) -> Response:
    return Response(
        {
            "run_id": run_id,
            "status": run_status,
            "detail": f"The flow did not finish within {timeout:g} s"
            + ("." if run_status in _FINISHED else "; it goes on: read the run for its result."),
        },
        status=status.HTTP_504_GATEWAY_TIMEOUT,
    )


def _wait_for(run_id: int, *, timeout: float) -> Response:
    """Wait for a queued run to finish, polling its row at growing intervals up to the time
    limit."""
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        run = FlowRun.objects.filter(pk=run_id).only("status", "output", "error").first()
        if run is not None and run.status in _FINISHED:
            return _finished(run, timed_out=False, timeout=timeout)
        left = deadline - time.monotonic()
        if left <= 0:
            return _timed_out(run_id, run.status if run else RunStatus.QUEUED, timeout)
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.25)

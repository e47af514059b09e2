"""`Idempotency-Key` for the API's creating POSTs: a retried POST answers again, it never repeats.

Decorate a DRF create action with `@idempotent`. With no header the action runs as usual. With
one, the first successful (2xx) answer is stored under (caller, key) in the same transaction as
whatever the action created, and a later POST with that key gets the stored answer again (same
status and body, plus `Idempotent-Replayed: true`). Refused answers (4xx) are not stored, so a
corrected retry may reuse the key. The same key with a different method, path or body is a 422.

Two simultaneous POSTs with one key both try to insert the row; the unique constraint makes the
second wait for the first's transaction and fail once it commits, so it replays the answer
instead of creating a second object. Keys live `IDEMPOTENCY_KEY_HOURS` (24 by default); a
recurring job removes expired ones (`apps.core.tasks.purge_expired_idempotency_keys`).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# For the schema of each decorated action: `@extend_schema(parameters=[OPENAPI_PARAMETER])`.
OPENAPI_PARAMETER = OpenApiParameter(
    HEADER,
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (a UUID) per intended creation, up to 255 characters. Sent "
    "again with the same body, the POST answers its first answer again (with "
    "`Idempotent-Replayed: true`) instead of creating twice; with another body, 422. Kept 24 "
    "hours; a refused (4xx) POST keeps nothing, so it may be retried with the same key.",
)


def key_lifetime() -> dt.timedelta:
    return dt.timedelta(hours=getattr(settings, "IDEMPOTENCY_KEY_HOURS", 24))


def _fingerprint(request: Request) -> str:
    data = request.data
    if isinstance(data, QueryDict):
        data = {key: data.getlist(key) for key in data}
    body = json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder, default=str)
    text = f"{request.method} {request.path}\n{body}"
    return hashlib.sha256(text.encode()).hexdigest()


def _refusal(detail: str, code: int) -> Response:
    return Response({"detail": detail}, status=code)


def _replay(record: IdempotencyKey, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        return _refusal(
            f"This {HEADER} was already used for a different request (another endpoint or "
            "body): send a new key for a new request.",
            status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    headers = {REPLAYED_HEADER: "true"}
    if record.response_location:
        headers["Location"] = record.response_location
    return Response(
        json.loads(record.response_body), status=record.response_status, headers=headers
    )


def claim(*, caller, key: str, fingerprint: str) -> IdempotencyKey | None:
    """Take `key` for `caller` inside the caller's transaction; None when it is already taken.

    Call it in `transaction.atomic()` together with the work it guards, then `remember` the
    answer: if the work fails, the rollback frees the key again. A simultaneous claim of the
    same key waits for this transaction and then gets None.
    """
    now = timezone.now()
    IdempotencyKey.objects.filter(caller=caller, key=key, expires_at__lte=now).delete()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                caller=caller,
                key=key,
                fingerprint=fingerprint,
                response_status=0,
                response_body="",
                expires_at=now + key_lifetime(),
            )
    except IntegrityError:
        return None


def remember(record: IdempotencyKey, *, status_code: int, body: Any, location: str = "") -> None:
    """Store the answer the claimed work gave, for the replays."""
    record.response_status = status_code
    record.response_body = json.dumps(body, cls=DjangoJSONEncoder)
    record.response_location = location
    record.save(update_fields=["response_status", "response_body", "response_location"])


def recall(*, caller, key: str) -> IdempotencyKey | None:
    """The answer stored under a key that `claim` found taken (None if that work failed)."""
    return IdempotencyKey.objects.filter(caller=caller, key=key).first()


def idempotent(action: Callable[..., Response]) -> Callable[..., Response]:
    """Make a DRF create action honour the `Idempotency-Key` header (see the module)."""

    @functools.wraps(action)
    def wrapper(view, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        caller = request.user
        if key is None or not getattr(caller, "is_authenticated", False):
            return action(view, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            return _refusal(
                f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters.",
                status.HTTP_400_BAD_REQUEST,
            )
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            record = claim(caller=caller, key=key, fingerprint=fingerprint)
            if record is not None:
                response = action(view, request, *args, **kwargs)
                if not status.is_success(response.status_code):
                    transaction.set_rollback(True)  # nothing is kept for a refused request
                    return response
                remember(
                    record,
                    status_code=response.status_code,
                    body=response.data,
                    location=response.headers.get("Location", ""),
                )
                return response
        # Another POST holds (or held) this key; its transaction has ended, so its row is seen.
        earlier = recall(caller=caller, key=key)
        if earlier is None:  # the other POST was refused and kept nothing: this one may retry
            return _refusal(
                f"Another request with this {HEADER} did not complete: send it again.",
                status.HTTP_409_CONFLICT,
            )
        return _replay(earlier, fingerprint)

    return wrapper

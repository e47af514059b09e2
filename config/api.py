"""One place where domain errors become HTTP answers for the whole API."""

import sys

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.statemachine import IllegalTransition, StateConflict


def exception_handler(exc, context):
    """Validation errors → 400 by field; refused moves and state conflicts → 409; rest → DRF."""
    if isinstance(exc, StateConflict):
        return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            detail = {field: [str(m) for m in msgs] for field, msgs in exc.message_dict.items()}
        else:
            detail = {"detail": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, IllegalTransition):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoPermissionDenied):
        return Response({"detail": str(exc) or "Permission denied."}, status=403)
    return drf_exception_handler(exc, context)


@csrf_exempt  # it changes nothing: a POST here gets the same 404 as a GET
def not_found(request, unmatched: str = ""):
    """Any other path under /api/v1/: a JSON 404 like the API's own, not the site's HTML page
    (also for an id that is not a number, which no route matches)."""
    return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)


# Seconds a client is asked to wait when no database connection was free in time.
BUSY_RETRY_AFTER = 5


def _waited_for_a_connection(error: BaseException | None) -> bool:
    """Whether `error` (or what caused it) is the connection pool's timeout."""
    try:
        from psycopg_pool import PoolTimeout
    except ImportError:  # SQLite set-ups need not install it
        return False
    while error is not None:
        if isinstance(error, PoolTimeout):
            return True
        error = error.__cause__
    return False


def server_error(request):
    """The site's 500 handler; a request that found no free database connection within
    DB_POOL_TIMEOUT is a 503 with Retry-After instead: the server is busy, not broken."""
    if _waited_for_a_connection(sys.exc_info()[1]):
        response = JsonResponse(
            {"detail": "The server is busy: try again in a moment."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
        response["Retry-After"] = str(BUSY_RETRY_AFTER)
        return response
    return defaults.server_error(request)

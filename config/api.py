"""One place where domain errors become HTTP answers for the whole API."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
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

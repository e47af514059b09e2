"""How django-axes counts failed sign-ins here, and what a locked-out client is told.

Settings point at these functions (AXES_USERNAME_CALLABLE, AXES_LOCKOUT_CALLABLE). The event a
lockout writes is in apps.directory.signals.
"""

from __future__ import annotations

from axes.helpers import get_cool_off, get_failure_limit
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from apps.directory.selectors import find_user

API_PREFIX = "/api/"
LOCKED_OUT_REASON = "too_many_failed_sign_ins"


def account_key(request: HttpRequest, credentials: dict | None) -> str | None:
    """The account a sign-in attempt is counted against, whatever the login was spelled.

    "alice", "ALICE" and "alice@example.com" are one account: all count towards its lock. An
    unknown login counts as itself, lower-cased.
    """
    login = (credentials or {}).get("username")
    if login is None and request is not None:
        login = request.POST.get("username")
    if login is None:
        return None
    login = str(login).strip()
    memo = getattr(request, "_sign_in_account_keys", None)
    if memo is None:
        memo = {}
        if request is not None:
            request._sign_in_account_keys = memo
    if login not in memo:
        user = find_user(login) if login else None
        memo[login] = (user.username if user is not None else login).lower()[:150]
    return memo[login]


def cool_off_seconds(request: HttpRequest | None = None) -> int:
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off else 0


def lockout_message(request: HttpRequest | None = None) -> str:
    minutes = max(1, cool_off_seconds(request) // 60)
    return (
        "Too many failed sign-ins for this account or from this address. "
        f"Try again in {minutes} minutes."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """429 for a locked-out sign-in: JSON with a reason on the API, a page elsewhere."""
    wait = cool_off_seconds(request)
    message = lockout_message(request)
    if request.path.startswith(API_PREFIX):
        response = JsonResponse(
            {"detail": message, "reason": LOCKED_OUT_REASON, "retry_after": wait}, status=429
        )
    else:
        response = render(
            request,
            "registration/locked_out.html",
            {
                "message": message,
                "failure_limit": get_failure_limit(request, credentials),
                "is_admin": request.path.startswith("/admin/"),
            },
            status=429,
        )
    if wait:
        response["Retry-After"] = str(wait)
    return response

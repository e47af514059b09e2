"""My API tokens: the ones that still work, with a button to revoke each.

Tokens are made by the API sign-in (`POST /api/v1/auth/token/`), which shows the secret once.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from apps.directory import services
from apps.directory.models import ApiToken


def _my_tokens(request: HttpRequest):
    return ApiToken.objects.usable().filter(user=request.user)


@require_safe
@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The viewer's usable API tokens: name, first characters, expiry, last use."""
    return render(
        request, "portal/api_tokens.html", {"tokens": list(_my_tokens(request)), "nav": "tokens"}
    )


@require_POST
@login_required
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of my tokens now."""
    token = get_object_or_404(_my_tokens(request), pk=pk)
    services.api_token_revoke(token=token, actor=request.user)
    messages.success(request, f"Token “{token.name}” revoked: it no longer signs anything in.")
    return redirect("portal:api-tokens")

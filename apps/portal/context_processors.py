"""Template context shared by the portal pages: the counts in the top navigation."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from apps.access_requests import selectors


def navigation(request: HttpRequest) -> dict:
    """Pending approvals and open tasks of the signed-in user, counted only if a page shows them.

    Two queries on a portal page, none on pages (such as the admin) that do not use them.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_counts": SimpleLazyObject(
            lambda: {
                "approvals": selectors.approvals_for(user).count(),
                "tasks": selectors.tasks_for(user).count(),
            }
        )
    }

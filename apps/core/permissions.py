"""Who may act as an admin: Django's model permissions, asked the same way by the admin, the API
and the portal.

The admin site lets in active staff and then checks each model's view / add / change / delete
permission (and custom ones such as `flows.run_delegated_flow`); superusers hold them all.
`staff_may` is that rule as a function, for pages and services; `ModelPermissions` is that rule
for DRF viewsets. Which objects someone may see or change beyond the model permission (their own
request, their team's task, a superuser) is each app's rule, in its selectors.
"""

from __future__ import annotations

from rest_framework.permissions import DjangoModelPermissions


def staff_may(user, *permissions: str) -> bool:
    """Whether `user` may, as an admin, do what `permissions` allow: an active superuser, or
    active staff holding every one of them (no permission named: any active staff)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or (user.is_staff and user.has_perms(permissions))


class ModelPermissions(DjangoModelPermissions):
    """DRF's model permissions as the admin applies them.

    - Reads need the view permission (DRF's own class lets any signed-in user read).
    - Only active staff (or superusers) pass, as only they may enter the admin.
    - A viewset's extra actions name what they need in `action_permissions`, by action name:
      `{"lifecycle": ("change",), "add_holder": ("directory.add_groupmembership",)}`; a bare
      verb means that permission on the viewset's own model. Actions not listed fall back to
      the HTTP method (POST add, PUT / PATCH change, DELETE delete).
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        # The class attribute when there is one: get_queryset may read (and refuse) parameters.
        queryset = getattr(view, "queryset", None)
        model = (queryset if queryset is not None else self._queryset(view)).model
        named = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if named is None:
            permissions = self.get_required_permissions(request.method, model)
        else:
            meta = model._meta
            permissions = [
                name if "." in name else f"{meta.app_label}.{name}_{meta.model_name}"
                for name in named
            ]
        return staff_may(user, *permissions)

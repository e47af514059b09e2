"""Named reads of the directory."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import Group as PermissionGroup
from django.contrib.auth.models import Permission
from django.db.models import QuerySet

from apps.directory.models import User, UserStatus


def creates_reporting_loop(user: User, manager: User | None) -> bool:
    """Whether making `manager` the manager of `user` would close a loop in the hierarchy."""
    manager_id = manager.pk if manager else None
    seen: set[int] = set()
    while manager_id is not None and manager_id not in seen:
        if manager_id == user.pk:
            return True
        seen.add(manager_id)
        manager_id = User.objects.filter(pk=manager_id).values_list("manager_id", flat=True).first()
    return False


def may_change_user(actor: User | None, user: User) -> bool:
    """Whether `actor` may change `user`'s profile, status, password or admin rights, as far as
    who `user` is goes (the model permission is asked apart): only a superuser changes a
    superuser; nobody else (staff, flows, the system) does."""
    if not user.is_superuser:
        return True
    return actor is not None and actor.is_active and actor.is_superuser


def may_grant_superuser(actor: User | None) -> bool:
    """Only a superuser makes someone else a superuser."""
    return actor is not None and actor.is_active and actor.is_superuser


def permission_names(
    permissions: Iterable[Permission], permission_groups: Iterable[PermissionGroup]
) -> set[str]:
    """Every permission (`app_label.codename`) given directly or through a permission group."""
    through_groups = Permission.objects.filter(group__in=list(permission_groups))
    return {
        f"{permission.content_type.app_label}.{permission.codename}"
        for permission in [*permissions, *through_groups.select_related("content_type")]
    }


def ungrantable_permissions(
    actor: User | None,
    user: User,
    permissions: Iterable[Permission],
    permission_groups: Iterable[PermissionGroup],
) -> list[str]:
    """The permissions that giving `user` these rights would add but `actor` does not hold:
    admins hand on only what they hold (superusers hold everything). Empty when allowed."""
    granted = permission_names(permissions, permission_groups)
    if user.pk:
        granted -= permission_names(
            user.user_permissions.select_related("content_type"), user.groups.all()
        )
    if not granted or (actor is not None and actor.is_active and actor.is_superuser):
        return []
    held = actor.get_all_permissions() if actor is not None and actor.is_active else set()
    return sorted(granted - held)


def active_users() -> QuerySet[User]:
    """People who may sign in."""
    return User.objects.filter(status=UserStatus.ACTIVE)


def find_user(login: str) -> User | None:
    """The person whose username or e-mail is `login`, whatever the case."""
    login = login.strip().lower()
    return (
        User.objects.filter(username__lower=login).first()
        or User.objects.filter(email__lower=login).first()
    )


def attribute_values_in_use(name: str) -> int:
    """How many people hold a value for the custom attribute `name`."""
    return User.objects.filter(profile__has_key=name).count()

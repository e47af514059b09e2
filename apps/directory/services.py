"""Domain verbs of the directory. Each runs in one transaction and writes one system log event.

No other code writes users, groups, applications, memberships or assignments: admin, API,
flows and requests all call these functions, so the system log always has the old and new values.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group as PermissionGroup
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone

from apps.audit.catalogue import EventType
from apps.audit.changes import changed_fields, old_and_new
from apps.audit.services import emit
from apps.core.hashing import hash_secret
from apps.directory import events
from apps.directory.attributes import coerce_attribute_value
from apps.directory.models import (
    USER_LIFECYCLE,
    ApiToken,
    AppAssignment,
    Application,
    GrantSource,
    Group,
    GroupMembership,
    ProfileAttribute,
    User,
)
from apps.directory.selectors import (
    attribute_values_in_use,
    creates_reporting_loop,
    may_change_user,
    may_grant_superuser,
    ungrantable_permissions,
)

logger = logging.getLogger(__name__)

PROFILE_FIELDS = (
    "username",
    "email",
    "first_name",
    "last_name",
    "title",
    "department",
    "employee_number",
    "manager",
)


def _plain(value: Any) -> Any:
    """A JSON-safe form of a field value for the system log (rows become their primary key)."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _snapshot(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    return {field: _plain(getattr(obj, field)) for field in fields}


def _validate(obj: models.Model, *, exclude: Iterable[str] = ()) -> None:
    """Run the model's validation (fields, clean, unique constraints) or raise with field errors."""
    obj.full_clean(exclude=list(exclude), validate_unique=True, validate_constraints=True)


# --- People ---------------------------------------------------------------------------------


def _check_may_change(actor: User | None, user: User) -> None:
    """The one gate every change to a person passes (admin, API, flow cards alike)."""
    if not may_change_user(actor, user):
        raise PermissionDenied("Only a superuser may change a superuser.")


@transaction.atomic
def user_create(
    *,
    actor: User | None,
    username: str,
    email: str,
    password: str | None = None,
    password_hash: str | None = None,
    manager: User | int | None = None,
    profile: Mapping[str, Any] | None = None,
    activate: bool = True,
    is_staff: bool = False,
    is_superuser: bool = False,
    **fields: Any,
) -> User:
    """Add a person to the directory, active at once unless `activate` is False (then staged)."""
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown user field." for name in sorted(unknown)})
    user = User(
        username=username,
        email=User.objects.normalize_email(email),
        manager=_resolve_manager(manager),
        status="active" if activate else "staged",
        status_changed_at=timezone.now(),
        is_staff=is_staff,
        is_superuser=is_superuser,
        **fields,
    )
    if password:
        user.set_password(password)
    elif password_hash:
        user.password = password_hash  # already hashed (imports, the demo organisation)
    else:
        user.set_unusable_password()
    user.profile = _coerced_profile(profile or {}, current={})
    _validate(user)
    user.save()
    new = _snapshot(user, (*PROFILE_FIELDS, "status", "is_staff", "is_superuser"))
    new["profile"] = dict(user.profile)
    emit(events.USER_CREATED, actor=actor, target=user, data={"old": None, "new": new})
    return user


@transaction.atomic
def user_update_profile(*, user: User, actor: User | None, changes: Mapping[str, Any]) -> User:
    """Change standard fields and custom attributes together; nothing is written on any error."""
    user = User.objects.select_for_update().get(pk=user.pk)
    _check_may_change(actor, user)
    standard = {key: value for key, value in changes.items() if key in PROFILE_FIELDS}
    custom = {key: value for key, value in changes.items() if key not in PROFILE_FIELDS}
    # full_clean() lets None through on blank-able text fields; the database would refuse it.
    nulls = {
        field: ["This field cannot be null."]
        for field, value in standard.items()
        if value is None and not User._meta.get_field(field).null
    }
    if nulls:
        raise ValidationError(nulls)
    if "email" in standard:
        standard["email"] = User.objects.normalize_email(standard["email"])
    if "manager" in standard:
        standard["manager"] = _resolve_manager(standard["manager"])
        _check_reporting_line(user, standard["manager"])

    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for field, value in standard.items():
        current = getattr(user, field)
        if current != value:
            old[field], new[field] = _plain(current), _plain(value)
            setattr(user, field, value)
    profile = _coerced_profile(custom, current=user.profile)
    for name in custom:
        if profile.get(name) != user.profile.get(name):
            old[name], new[name] = user.profile.get(name), profile.get(name)
    if not new:
        return user
    user.profile = profile
    _validate(user)
    user.save()
    emit(
        events.USER_PROFILE_UPDATED,
        actor=actor,
        target=user,
        data={"old": old, "new": new, "fields": sorted(new)},
    )
    return user


def _coerced_profile(values: Mapping[str, Any], *, current: Mapping[str, Any]) -> dict[str, Any]:
    """`current` with `values` applied, each checked against its attribute's type."""
    definitions = {a.name: a for a in ProfileAttribute.objects.filter(name__in=list(values))}
    errors: dict[str, list[str]] = {}
    profile = dict(current)
    for name, raw in values.items():
        definition = definitions.get(name)
        if definition is None:
            errors[name] = ["Unknown profile field or attribute."]
            continue
        try:
            value = coerce_attribute_value(definition.type, raw)
        except ValidationError as error:
            errors[name] = [f"{definition.label}: {message}" for message in error.messages]
            continue
        if value is None:
            profile.pop(name, None)
        else:
            profile[name] = value
    if errors:
        raise ValidationError(errors)
    return profile


def _resolve_manager(manager: User | int | str | None) -> User | None:
    if manager is None or manager == "":
        return None
    if isinstance(manager, User):
        return manager
    try:
        return User.objects.get(pk=manager)
    except (User.DoesNotExist, ValueError, TypeError):
        raise ValidationError({"manager": f"No user with id {manager!r}."}) from None


def _check_reporting_line(user: User, manager: User | None) -> None:
    """Refuse a manager who is the person or reports to them (a loop in the hierarchy)."""
    if creates_reporting_loop(user, manager):
        raise ValidationError(
            {"manager": "This manager would create a loop in the reporting line."}
        )


# Leaving (suspended, deprovisioned) ends every credential the person holds, so that coming
# back (unsuspended, reactivated) does not revive an old token or browser session.
_LEAVING_VERBS = frozenset({"suspend", "deactivate"})


@transaction.atomic
def _apply_lifecycle(*, user: User, actor: User | None, verb: str) -> User:
    user = User.objects.select_for_update().get(pk=user.pk)
    _check_may_change(actor, user)
    old_status = user.status
    user.status = USER_LIFECYCLE.target(verb, old_status, subject=f"user {user.username}")
    user.status_changed_at = timezone.now()
    fields = ["status", "status_changed_at"]
    data: dict[str, Any] = {"old": {"status": old_status}, "new": {"status": user.status}}
    if verb in _LEAVING_VERBS:
        revoked = _revoke_all_tokens(user=user, actor=actor, reason=verb)
        if revoked:
            data["tokens_revoked"] = revoked
        user.session_epoch += 1  # every session's auth hash changes: all are signed out
        fields.append("session_epoch")
    user.save(update_fields=fields)
    emit(events.USER_LIFECYCLE_EVENTS[verb], actor=actor, target=user, data=data)
    return user


def user_activate(*, user: User, actor: User | None) -> User:
    """Staged → active: the person may sign in."""
    return _apply_lifecycle(user=user, actor=actor, verb="activate")


def user_suspend(*, user: User, actor: User | None) -> User:
    """Active → suspended: sign-in is refused, tokens and sessions ended, memberships kept."""
    return _apply_lifecycle(user=user, actor=actor, verb="suspend")


def user_unsuspend(*, user: User, actor: User | None) -> User:
    """Suspended → active."""
    return _apply_lifecycle(user=user, actor=actor, verb="unsuspend")


def user_deactivate(*, user: User, actor: User | None) -> User:
    """Staged, active or suspended → deprovisioned; tokens and sessions are ended."""
    return _apply_lifecycle(user=user, actor=actor, verb="deactivate")


def user_reactivate(*, user: User, actor: User | None) -> User:
    """Deprovisioned → staged; activate again to let the person sign in."""
    return _apply_lifecycle(user=user, actor=actor, verb="reactivate")


LIFECYCLE_SERVICES = {
    "activate": user_activate,
    "suspend": user_suspend,
    "unsuspend": user_unsuspend,
    "deactivate": user_deactivate,
    "reactivate": user_reactivate,
}


@transaction.atomic
def user_set_password(*, user: User, actor: User | None, raw_password: str | None) -> User:
    """Set a new password, or make it unusable with None; the password is never logged."""
    user = User.objects.select_for_update().get(pk=user.pk)
    _check_may_change(actor, user)
    had_usable = user.has_usable_password()
    if raw_password:
        user.set_password(raw_password)
    else:
        user.set_unusable_password()
    user.save(update_fields=["password"])
    emit(
        events.USER_PASSWORD_CHANGED,
        actor=actor,
        target=user,
        data={
            "old": {"usable": had_usable},
            "new": {"usable": user.has_usable_password()},
            "usable": user.has_usable_password(),
        },
    )
    return user


@transaction.atomic
def user_set_admin_rights(
    *,
    user: User,
    actor: User | None,
    is_staff: bool,
    is_superuser: bool,
    permission_groups: Iterable[PermissionGroup] = (),
    permissions: Iterable[Permission] = (),
) -> User:
    """Set admin-site access, superuser flag, permission groups and permissions in one change."""
    user = User.objects.select_for_update().get(pk=user.pk)
    _check_may_change(actor, user)
    if is_superuser and not user.is_superuser and not may_grant_superuser(actor):
        raise PermissionDenied("Only a superuser may make someone a superuser.")
    permission_groups, permissions = list(permission_groups), list(permissions)
    refused = ungrantable_permissions(actor, user, permissions, permission_groups)
    if refused:
        raise PermissionDenied(
            f"You may only grant permissions you hold yourself; not {', '.join(refused)}."
        )

    def current() -> dict[str, Any]:
        return {
            "is_staff": user.is_staff,
            "is_superuser": user.is_superuser,
            "permission_groups": sorted(user.groups.values_list("name", flat=True)),
            "permissions": sorted(
                f"{app}.{code}"
                for app, code in user.user_permissions.values_list(
                    "content_type__app_label", "codename"
                )
            ),
        }

    before = current()
    user.is_staff, user.is_superuser = is_staff, is_superuser
    user.save(update_fields=["is_staff", "is_superuser"])
    user.groups.set(permission_groups)
    user.user_permissions.set(permissions)
    after = current()
    changed = sorted(key for key in after if after[key] != before[key])
    if changed:
        emit(
            events.USER_ADMIN_RIGHTS_CHANGED,
            actor=actor,
            target=user,
            data={"old": {k: before[k] for k in changed}, "new": {k: after[k] for k in changed}},
        )
    return user


# --- Permission groups (django.contrib.auth) -----------------------------------------------


def _permission_codes(permissions) -> list[str]:
    return sorted(
        f"{app}.{code}"
        for app, code in permissions.values_list("content_type__app_label", "codename")
    )


def _permission_group_values(group: PermissionGroup) -> dict[str, Any]:
    return {"name": group.name, "permissions": _permission_codes(group.permissions)}


@transaction.atomic
def permission_group_create(
    *, actor: User | None, name: str, permissions: Iterable[Permission] = ()
) -> PermissionGroup:
    """Make a permission group holding `permissions`."""
    group = PermissionGroup(name=name)
    _validate(group)
    group.save()
    group.permissions.set(permissions)
    emit(
        events.PERMISSION_GROUP_CREATED,
        actor=actor,
        target=group,
        data={"old": None, "new": _permission_group_values(group)},
    )
    return group


@transaction.atomic
def permission_group_update(
    *,
    group: PermissionGroup,
    actor: User | None,
    name: str,
    permissions: Iterable[Permission],
) -> PermissionGroup:
    """Rename a permission group and set its permissions; one event with what changed."""
    group = PermissionGroup.objects.select_for_update().get(pk=group.pk)
    old = _permission_group_values(group)
    group.name = name
    if name != old["name"]:
        _validate(group)
        group.save(update_fields=["name"])
    group.permissions.set(permissions)
    new = _permission_group_values(group)
    changed = changed_fields(old, new)
    if changed:
        emit(
            events.PERMISSION_GROUP_UPDATED,
            actor=actor,
            target=group,
            data=old_and_new(old, new, changed),
        )
    return group


@transaction.atomic
def permission_group_delete(*, group: PermissionGroup, actor: User | None) -> None:
    """Delete a permission group; its members lose what it gave them."""
    group = PermissionGroup.objects.select_for_update().get(pk=group.pk)
    old = _permission_group_values(group)
    old["members"] = sorted(group.user_set.values_list("username", flat=True))
    emit(events.PERMISSION_GROUP_DELETED, actor=actor, target=group, data={"old": old, "new": None})
    group.delete()


# --- API tokens -----------------------------------------------------------------------------

TOKEN_KEY_PREFIX = "gth_"


@dataclass(frozen=True)
class IssuedApiToken:
    """A new token and its secret: the only moment the secret exists outside the client."""

    token: ApiToken
    key: str


def _token_values(token: ApiToken) -> dict[str, Any]:
    return {
        "user": token.user_id,
        "name": token.name,
        "prefix": token.prefix,
        "expires_at": _plain(token.expires_at),
    }


def api_token_lifetime(expires_in_days: int | None) -> dt.timedelta:
    """The lifetime asked for, or the default; refused beyond API_TOKEN_MAX_DAYS."""
    days = settings.API_TOKEN_DEFAULT_DAYS if expires_in_days is None else expires_in_days
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise ValidationError(
            {"expires_in_days": f"Between 1 and {settings.API_TOKEN_MAX_DAYS} days."}
        )
    return dt.timedelta(days=days)


@transaction.atomic
def api_token_issue(
    *, user: User, actor: User | None, name: str, expires_in_days: int | None = None
) -> IssuedApiToken:
    """Make a token for `user`; only its hash is stored and the secret is returned once."""
    lifetime = api_token_lifetime(expires_in_days)
    key = TOKEN_KEY_PREFIX + secrets.token_urlsafe(30)
    now = timezone.now()
    token = ApiToken(
        user=user,
        name=name.strip(),
        prefix=key[: len(TOKEN_KEY_PREFIX) + 8],
        key_hash=hash_secret(key),
        created_at=now,
        expires_at=now + lifetime,
    )
    _validate(token, exclude=["key_hash"])
    token.save()
    emit(
        events.API_TOKEN_ISSUED,
        actor=actor,
        target=token,
        data={"old": None, "new": _token_values(token)},
    )
    return IssuedApiToken(token=token, key=key)


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: User | None, reason: str = "revoked") -> ApiToken:
    """End a token now; revoking one already revoked changes nothing."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        return token
    token.revoked_at, token.revoked_by, token.revoke_reason = timezone.now(), actor, reason
    token.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    emit(
        events.API_TOKEN_REVOKED,
        actor=actor,
        target=token,
        data={
            "old": {"revoked_at": None},
            "new": {"revoked_at": _plain(token.revoked_at)},
            "reason": reason,
            **_token_values(token),
        },
    )
    return token


def _revoke_all_tokens(*, user: User, actor: User | None, reason: str) -> list[str]:
    """Revoke every token `user` holds, in the caller's transaction and event; their prefixes."""
    tokens = list(user.api_tokens.select_for_update().filter(revoked_at__isnull=True))
    now = timezone.now()
    for token in tokens:
        token.revoked_at, token.revoked_by, token.revoke_reason = now, actor, reason
    ApiToken.objects.bulk_update(tokens, ["revoked_at", "revoked_by", "revoke_reason"])
    return sorted(token.prefix for token in tokens)


def api_token_record_use(*, token: ApiToken) -> None:
    """Note when a token was last used, at most once a minute (bookkeeping, not an event)."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


# --- Custom profile attributes --------------------------------------------------------------

ATTRIBUTE_FIELDS = ("name", "label", "type", "description")


@transaction.atomic
def profile_attribute_create(
    *, actor: User | None, name: str, label: str, type: str, description: str = ""
) -> ProfileAttribute:
    """Define a new typed attribute of every person's profile."""
    attribute = ProfileAttribute(name=name, label=label, type=type, description=description)
    if name in PROFILE_FIELDS or hasattr(User, name):
        raise ValidationError({"name": f"{name!r} is a standard user field."})
    _validate(attribute)
    attribute.save()
    emit(
        events.ATTRIBUTE_CREATED,
        actor=actor,
        target=attribute,
        data={"old": None, "new": _snapshot(attribute, ATTRIBUTE_FIELDS)},
    )
    return attribute


@transaction.atomic
def profile_attribute_update(
    *, attribute: ProfileAttribute, actor: User | None, **changes: Any
) -> ProfileAttribute:
    """Relabel or re-describe an attribute; its name and type are fixed once values exist."""
    attribute = ProfileAttribute.objects.select_for_update().get(pk=attribute.pk)
    unknown = set(changes) - set(ATTRIBUTE_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown attribute field." for name in sorted(unknown)})
    old = _snapshot(attribute, ATTRIBUTE_FIELDS)
    for field, value in changes.items():
        setattr(attribute, field, value)
    new = _snapshot(attribute, ATTRIBUTE_FIELDS)
    changed = changed_fields(old, new)
    if not changed:
        return attribute
    in_use = attribute_values_in_use(old["name"])
    for field in ("name", "type"):
        if field in changed and in_use:
            raise ValidationError(
                {field: f"{in_use} people have a value for {old['name']}: its {field} is fixed."}
            )
    _validate(attribute)
    attribute.save()
    emit(
        events.ATTRIBUTE_UPDATED,
        actor=actor,
        target=attribute,
        data=old_and_new(old, new, changed),
    )
    return attribute


@transaction.atomic
def profile_attribute_delete(*, attribute: ProfileAttribute, actor: User | None) -> int:
    """Remove an attribute and every stored value of it; returns how many values were cleared."""
    attribute = ProfileAttribute.objects.select_for_update().get(pk=attribute.pk)
    holders = list(User.objects.filter(profile__has_key=attribute.name).only("pk", "profile"))
    for holder in holders:
        holder.profile.pop(attribute.name, None)
    User.objects.bulk_update(holders, ["profile"], batch_size=1000)
    old = _snapshot(attribute, ATTRIBUTE_FIELDS)
    emit(
        events.ATTRIBUTE_DELETED,
        actor=actor,
        target=attribute,
        data={"old": old, "new": None, "values_cleared": len(holders)},
    )
    attribute.delete()
    return len(holders)


# --- Groups and applications ----------------------------------------------------------------


@dataclass(frozen=True)
class _ResourceKind:
    """What groups and applications share: owners, and people granted them for a while."""

    model: type[Group] | type[Application]
    grant_model: type[GroupMembership] | type[AppAssignment]
    parent_field: str
    created: EventType
    updated: EventType
    deleted: EventType
    granted: EventType
    grant_updated: EventType
    revoked: EventType

    def grant_context(self, resource: models.Model) -> dict[str, Any]:
        return {f"{self.parent_field}_id": resource.pk, f"{self.parent_field}_name": str(resource)}


GROUPS = _ResourceKind(
    Group,
    GroupMembership,
    "group",
    events.GROUP_CREATED,
    events.GROUP_UPDATED,
    events.GROUP_DELETED,
    events.USER_ADDED_TO_GROUP,
    events.GROUP_MEMBERSHIP_UPDATED,
    events.USER_REMOVED_FROM_GROUP,
)
APPLICATIONS = _ResourceKind(
    Application,
    AppAssignment,
    "application",
    events.APPLICATION_CREATED,
    events.APPLICATION_UPDATED,
    events.APPLICATION_DELETED,
    events.USER_ASSIGNED_TO_APP,
    events.APP_ASSIGNMENT_UPDATED,
    events.USER_UNASSIGNED_FROM_APP,
)
RESOURCE_FIELDS = ("name", "description")


def _resource_values(resource: Group | Application) -> dict[str, Any]:
    values = _snapshot(resource, RESOURCE_FIELDS)
    values["owners"] = sorted(resource.owners.values_list("pk", flat=True))
    return values


def _resource_create(kind, *, actor, name, description, owners):
    resource = kind.model(name=name, description=description)
    _validate(resource)
    resource.save()
    resource.owners.set(owners)
    emit(
        kind.created,
        actor=actor,
        target=resource,
        data={"old": None, "new": _resource_values(resource)},
    )
    return resource


def _resource_update(kind, resource, *, actor, changes):
    unknown = set(changes) - {*RESOURCE_FIELDS, "owners"}
    if unknown:
        raise ValidationError({name: "Unknown field." for name in sorted(unknown)})
    resource = kind.model.objects.select_for_update().get(pk=resource.pk)
    old = _resource_values(resource)
    for field in RESOURCE_FIELDS:
        if field in changes:
            setattr(resource, field, changes[field])
    _validate(resource)
    resource.save()
    if "owners" in changes:
        resource.owners.set(changes["owners"])
    new = _resource_values(resource)
    changed = changed_fields(old, new)
    if changed:
        emit(
            kind.updated,
            actor=actor,
            target=resource,
            data=old_and_new(old, new, changed),
        )
    return resource


def _resource_delete(kind, resource, *, actor):
    resource = kind.model.objects.select_for_update().get(pk=resource.pk)
    old = _resource_values(resource)
    old["holders"] = kind.grant_model.objects.filter(**{kind.parent_field: resource}).count()
    emit(kind.deleted, actor=actor, target=resource, data={"old": old, "new": None})
    resource.delete()


def _grant_values(grant) -> dict[str, Any]:
    return {"source": grant.source, "expires_at": _plain(grant.expires_at)}


def _check_grant_window(expires_at: dt.datetime | None) -> None:
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The end date must be in the future."})


def _grant_add(kind, resource, *, user, actor, source, expires_at):
    _check_source(source)
    _check_grant_window(expires_at)
    lookup = {kind.parent_field: resource, "user": user}
    grant = kind.grant_model.objects.select_for_update().filter(**lookup).first()
    if grant is not None:
        return _grant_update(kind, grant, actor=actor, source=source, expires_at=expires_at)
    grant = kind.grant_model.objects.create(
        **lookup,
        source=source,
        expires_at=expires_at,
        added_by=actor if actor and actor.pk else None,
    )
    emit(
        kind.granted,
        actor=actor,
        target=user,
        data={"old": None, "new": _grant_values(grant), **kind.grant_context(resource)},
    )
    return grant


def _check_source(source: str) -> None:
    if source not in GrantSource.values:
        raise ValidationError({"source": f"Unknown source {source!r}."})


def _grant_update(kind, grant, *, actor, source, expires_at):
    _check_source(source)
    grant = kind.grant_model.objects.select_for_update().get(pk=grant.pk)
    if (grant.source, grant.expires_at) == (source, expires_at):
        return grant  # datetimes compare as moments, whatever their time zone
    old = _grant_values(grant)
    grant.source, grant.expires_at = source, expires_at
    new = _grant_values(grant)
    _check_grant_window(expires_at)
    grant.save(update_fields=["source", "expires_at"])
    resource = getattr(grant, kind.parent_field)
    emit(
        kind.grant_updated,
        actor=actor,
        target=grant.user,
        data={"old": old, "new": new, **kind.grant_context(resource)},
    )
    return grant


def _grant_remove(kind, resource, *, user, actor, reason):
    grant = (
        kind.grant_model.objects.select_for_update()
        .filter(**{kind.parent_field: resource, "user": user})
        .first()
    )
    if grant is None:
        return False
    emit(
        kind.revoked,
        actor=actor,
        target=user,
        data={
            "old": _grant_values(grant),
            "new": None,
            "reason": reason,
            **kind.grant_context(resource),
        },
    )
    grant.delete()
    return True


@transaction.atomic
def group_create(
    *, actor: User | None, name: str, description: str = "", owners: Iterable[User] = ()
) -> Group:
    """Create a directory group."""
    return _resource_create(GROUPS, actor=actor, name=name, description=description, owners=owners)


@transaction.atomic
def group_update(*, group: Group, actor: User | None, **changes: Any) -> Group:
    """Change a group's name, description or owners (`owners=` replaces the set)."""
    return _resource_update(GROUPS, group, actor=actor, changes=changes)


@transaction.atomic
def group_delete(*, group: Group, actor: User | None) -> None:
    """Delete a group and its memberships."""
    _resource_delete(GROUPS, group, actor=actor)


@transaction.atomic
def group_add_member(
    *,
    group: Group,
    user: User,
    actor: User | None,
    source: str = GrantSource.MANUAL,
    expires_at: dt.datetime | None = None,
) -> GroupMembership:
    """Make `user` a member of `group`; for an existing member, update source and end date."""
    return _grant_add(GROUPS, group, user=user, actor=actor, source=source, expires_at=expires_at)


@transaction.atomic
def group_update_membership(
    *,
    membership: GroupMembership,
    actor: User | None,
    source: str,
    expires_at: dt.datetime | None,
) -> GroupMembership:
    """Change why a membership exists or when it ends."""
    return _grant_update(GROUPS, membership, actor=actor, source=source, expires_at=expires_at)


@transaction.atomic
def group_remove_member(
    *, group: Group, user: User, actor: User | None, reason: str = "removed"
) -> bool:
    """End `user`'s membership of `group`; False when they were not a member."""
    return _grant_remove(GROUPS, group, user=user, actor=actor, reason=reason)


@transaction.atomic
def application_create(
    *, actor: User | None, name: str, description: str = "", owners: Iterable[User] = ()
) -> Application:
    """Add an application to the directory."""
    return _resource_create(
        APPLICATIONS, actor=actor, name=name, description=description, owners=owners
    )


@transaction.atomic
def application_update(*, application: Application, actor: User | None, **changes: Any):
    """Change an application's name, description or owners (`owners=` replaces the set)."""
    return _resource_update(APPLICATIONS, application, actor=actor, changes=changes)


@transaction.atomic
def application_delete(*, application: Application, actor: User | None) -> None:
    """Remove an application and its assignments."""
    _resource_delete(APPLICATIONS, application, actor=actor)


@transaction.atomic
def application_assign(
    *,
    application: Application,
    user: User,
    actor: User | None,
    source: str = GrantSource.MANUAL,
    expires_at: dt.datetime | None = None,
) -> AppAssignment:
    """Assign `user` to `application`; for an existing assignment, update source and end date."""
    return _grant_add(
        APPLICATIONS, application, user=user, actor=actor, source=source, expires_at=expires_at
    )


@transaction.atomic
def application_update_assignment(
    *,
    assignment: AppAssignment,
    actor: User | None,
    source: str,
    expires_at: dt.datetime | None,
) -> AppAssignment:
    """Change why an assignment exists or when it ends."""
    return _grant_update(
        APPLICATIONS, assignment, actor=actor, source=source, expires_at=expires_at
    )


@transaction.atomic
def application_unassign(
    *, application: Application, user: User, actor: User | None, reason: str = "removed"
) -> bool:
    """Remove `user`'s assignment to `application`; False when there was none."""
    return _grant_remove(APPLICATIONS, application, user=user, actor=actor, reason=reason)


def revoke_expired_grants(*, now: dt.datetime | None = None) -> int:
    """Remove every membership and assignment whose end date has passed, one transaction each.

    One failing removal is logged and left for the next sweep; the others go ahead.
    """
    now = now or timezone.now()
    removed = 0
    for kind, remove in ((GROUPS, group_remove_member), (APPLICATIONS, application_unassign)):
        expired = (
            kind.grant_model.objects.filter(expires_at__lte=now)
            .select_related(kind.parent_field, "user")
            .order_by("expires_at")
        )
        for grant in expired.iterator(chunk_size=500):
            resource = getattr(grant, kind.parent_field)
            try:
                removed += remove(
                    **{kind.parent_field: resource}, user=grant.user, actor=None, reason="expired"
                )
            except Exception:
                logger.exception("Could not remove expired %s; retrying at the next sweep", grant)
    return removed

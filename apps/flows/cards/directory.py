"""Directory cards: read and change people, groups and applications.

Every change goes through apps.directory.services with the run's starter as actor (the person
who started the run, or of its root run; nobody, "system", for runs from events and schedules),
so each one writes its system log event with old and new values, exactly as an admin's change
would. The events carry the run's correlation id and its id (`flow_run` in their data).

A person is named by exactly one of `user_id`, `email` or `username` (e-mail and username match
whatever their case), and handed out as a plain object: id, username, email, first_name,
last_name, title, department, employee_number, manager_id, manager_email, status and profile
(the custom attributes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTransform

from apps.audit.context import correlation_id_var
from apps.directory import services
from apps.directory.attributes import coerce_attribute_value
from apps.directory.models import (
    AppAssignment,
    Application,
    GrantSource,
    Group,
    GroupMembership,
    ProfileAttribute,
    User,
    UserStatus,
)
from apps.flows.cards.support import describe_error, domain_errors_as_card_errors, whole_number
from apps.flows.errors import CardError
from apps.flows.registry import Field, card
from apps.flows.types import BOOLEAN, DATETIME, LIST, NUMBER, OBJECT, TEXT

CATEGORY = "Directory"
MAX_USERS = 1000
DEFAULT_LIMIT = 100

USER_INPUTS = (
    Field("user_id", NUMBER, required=False, description="the person's id"),
    Field("email", TEXT, required=False, description="or their e-mail"),
    Field("username", TEXT, required=False, description="or their username"),
)
GROUP_INPUTS = (
    Field("group_id", NUMBER, required=False, description="the group's id"),
    Field("group_name", TEXT, required=False, description="or its name"),
)
APPLICATION_INPUTS = (
    Field("application_id", NUMBER, required=False, description="the application's id"),
    Field("application_name", TEXT, required=False, description="or its name"),
)
EXPIRES_AT = Field(
    "expires_at", DATETIME, required=False, description="removed automatically at this time"
)
LIMIT = Field(
    "limit", NUMBER, required=False, default=DEFAULT_LIMIT, description=f"at most {MAX_USERS}"
)
USER_OUTPUT = Field("user", OBJECT, description="the person, as a plain object")
USERS_OUTPUTS = (
    Field("users", LIST, description="people, as plain objects, by username"),
    Field("count", NUMBER, description="how many are in 'users'"),
    Field("has_more", BOOLEAN, description="whether the limit left some out"),
)


# --- Finding people, groups and applications ------------------------------------------------


def user_object(user: User) -> dict[str, Any]:
    """A person as flows see them."""
    manager = user.manager if user.manager_id else None
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "title": user.title,
        "department": user.department,
        "employee_number": user.employee_number,
        "manager_id": user.manager_id,
        "manager_email": manager.email if manager else None,
        "status": user.status,
        "profile": dict(user.profile or {}),
        "last_login": user.last_login.isoformat() if user.last_login else None,
        "created_at": user.date_joined.isoformat() if user.date_joined else None,
    }


def _given(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value not in (None, "")}


def _only_one(kind: str, given: dict[str, Any], names: tuple[str, ...]) -> tuple[str, Any]:
    if len(given) != 1:
        named = f" (got {', '.join(given)})" if given else ""
        raise CardError(f"name the {kind} by exactly one of {', '.join(names)}{named}")
    return next(iter(given.items()))


def find_user(*, user_id=None, email=None, username=None) -> tuple[User | None, str]:
    """The person named by exactly one identifier (or None), and how they were named."""
    field, value = _only_one(
        "user",
        _given(user_id=user_id, email=email, username=username),
        ("user_id", "email", "username"),
    )
    users = User.objects.select_related("manager")
    if field == "user_id":
        user = users.filter(pk=whole_number("user_id", value)).first()
    elif field == "email":
        user = users.filter(email__lower=str(value).strip().lower()).first()
    else:
        user = users.filter(username__lower=str(value).strip().lower()).first()
    return user, f"{field} {value!r}"


def require_user(*, user_id=None, email=None, username=None) -> User:
    """The person named by exactly one identifier, or CardError."""
    user, named = find_user(user_id=user_id, email=email, username=username)
    if user is None:
        raise CardError(f"no user with {named}")
    return user


def _resource(model, kind: str, *, pk, name):
    field, value = _only_one(kind, _given(id=pk, name=name), (f"{kind}_id", f"{kind}_name"))
    if field == "id":
        found = model.objects.filter(pk=whole_number(f"{kind}_id", value)).first()
    else:
        found = model.objects.filter(name__lower=str(value).strip().lower()).first()
    if found is None:
        raise CardError(f"no {kind} with {kind}_{field} {value!r}")
    return found


def _limit(value) -> int:
    return whole_number(
        "limit", DEFAULT_LIMIT if value is None else value, minimum=1, maximum=MAX_USERS
    )


def _page(users: QuerySet[User], limit: int) -> dict[str, Any]:
    found = list(users.select_related("manager")[: limit + 1])
    page = [user_object(user) for user in found[:limit]]
    return {"users": page, "count": len(page), "has_more": len(found) > limit}


@contextmanager
def as_the_system(context) -> Iterator[None]:
    """Call directory services on the run's behalf: its correlation id on the events, and
    their ValidationError or IllegalTransition as a CardError."""
    correlation_id = getattr(getattr(context, "run", None), "correlation_id", "")
    token = correlation_id_var.set(correlation_id) if correlation_id else None
    try:
        with domain_errors_as_card_errors():
            yield
    finally:
        if token is not None:
            correlation_id_var.reset(token)


# --- People ---------------------------------------------------------------------------------


@card(
    "directory.read_user",
    "Read user",
    CATEGORY,
    inputs=[
        *USER_INPUTS,
        Field(
            "fail_if_missing",
            BOOLEAN,
            required=False,
            default=True,
            description="false: give found=false instead of failing",
        ),
    ],
    outputs=[
        Field("found", BOOLEAN),
        Field("user", OBJECT, required=False, description="the person, or null if not found"),
    ],
    idempotent=True,
)
def read_user(context, *, user_id, email, username, fail_if_missing):
    """Finds a person by id, e-mail or username (exactly one) and gives their profile."""
    user, named = find_user(user_id=user_id, email=email, username=username)
    if user is None:
        if fail_if_missing is not False:
            raise CardError(f"no user with {named}")
        return {"found": False, "user": None}
    return {"found": True, "user": user_object(user)}


@card(
    "directory.search_users",
    "Search users",
    CATEGORY,
    inputs=[
        Field("department", TEXT, required=False, description="equal to"),
        Field("status", TEXT, required=False, description=", ".join(UserStatus.values)),
        Field("title", TEXT, required=False, description="equal to"),
        Field("manager_email", TEXT, required=False, description="their manager's e-mail"),
        Field(
            "profile",
            OBJECT,
            required=False,
            description="custom attributes that must equal these values (null: not set)",
        ),
        Field(
            "not_signed_in_since",
            DATETIME,
            required=False,
            description="last sign-in before this time (or never, and created before it)",
        ),
        Field("created_before", DATETIME, required=False, description="created before this time"),
        LIMIT,
    ],
    outputs=list(USERS_OUTPUTS),
    idempotent=True,
)
def search_users(
    context,
    *,
    department,
    status,
    title,
    manager_email,
    profile,
    not_signed_in_since,
    created_before,
    limit,
):
    """Finds the people matching every filter given, by username."""
    users = User.objects.all()
    if not_signed_in_since is not None:
        users = users.filter(
            Q(last_login__lt=not_signed_in_since)
            | Q(last_login__isnull=True, date_joined__lt=not_signed_in_since)
        )
    if created_before is not None:
        users = users.filter(date_joined__lt=created_before)
    if department not in (None, ""):
        users = users.filter(department=department)
    if title not in (None, ""):
        users = users.filter(title=title)
    if status not in (None, ""):
        if status not in UserStatus.values:
            raise CardError(f"unknown status {status!r} (one of {', '.join(UserStatus.values)})")
        users = users.filter(status=status)
    if manager_email not in (None, ""):
        users = users.filter(manager__email__lower=manager_email.strip().lower())
    users = _filter_profile(users, profile or {})
    return _page(users.order_by("username", "id"), _limit(limit))


def _filter_profile(users: QuerySet[User], wanted: dict[str, Any]) -> QuerySet[User]:
    definitions = {a.name: a for a in ProfileAttribute.objects.filter(name__in=list(wanted))}
    unknown = sorted(set(wanted) - set(definitions))
    if unknown:
        raise CardError(f"no custom profile attribute {', '.join(unknown)}")
    for number, (name, raw) in enumerate(wanted.items()):
        try:
            value = coerce_attribute_value(definitions[name].type, raw)
        except ValidationError as error:
            raise CardError(f"profile.{name}: {describe_error(error)}") from None
        if value is None:
            users = users.exclude(Q(profile__has_key=name))
            continue
        alias = f"attribute_{number}"
        users = users.alias(**{alias: KeyTransform(name, "profile")}).filter(**{alias: value})
    return users


@card(
    "directory.update_profile",
    "Update user profile",
    CATEGORY,
    inputs=[
        *USER_INPUTS,
        Field(
            "changes",
            OBJECT,
            description="standard fields (manager: the manager's user id) and custom "
            "attributes to change; others keep their values; null clears an attribute",
        ),
    ],
    outputs=[USER_OUTPUT, Field("changed", LIST, description="names of the fields changed")],
)
def update_profile(context, *, user_id, email, username, changes):
    """Changes standard fields and custom attributes of a person, all or nothing."""
    user = require_user(user_id=user_id, email=email, username=username)
    before = user_object(user)
    with as_the_system(context):
        user = services.user_update_profile(user=user, actor=context.actor, changes=changes)
    after = user_object(user)
    changed = [
        field
        for field in services.PROFILE_FIELDS
        if before.get("manager_id" if field == "manager" else field)
        != after.get("manager_id" if field == "manager" else field)
    ]
    attributes = set(before["profile"]) | set(after["profile"])
    changed += sorted(n for n in attributes if before["profile"].get(n) != after["profile"].get(n))
    return {"user": after, "changed": changed}


@card(
    "directory.set_password",
    "Set or remove password",
    CATEGORY,
    inputs=[
        *USER_INPUTS,
        Field(
            "password",
            TEXT,
            required=False,
            description="the new password; empty: no password (cannot sign in until set)",
        ),
    ],
    outputs=[USER_OUTPUT, Field("usable", BOOLEAN, description="whether a password is set")],
    idempotent=True,  # setting the same password (or none) again changes nothing more
)
def set_password(context, *, user_id, email, username, password):
    """Sets a person's password (a temporary one, say), or removes it; never logged."""
    user = require_user(user_id=user_id, email=email, username=username)
    with as_the_system(context):
        user = services.user_set_password(
            user=user, actor=context.actor, raw_password=password or None
        )
    return {"user": user_object(user), "usable": user.has_usable_password()}


def _lifecycle_card(verb: str, title: str, description: str) -> None:
    service = services.LIFECYCLE_SERVICES[verb]

    def change_status(context, *, user_id, email, username):
        user = require_user(user_id=user_id, email=email, username=username)
        old_status = user.status
        with as_the_system(context):
            user = service(user=user, actor=context.actor)
        return {"user": user_object(user), "old_status": old_status}

    change_status.__doc__ = description
    change_status.__name__ = change_status.__qualname__ = verb
    card(
        f"directory.{verb}",
        title,
        CATEGORY,
        inputs=USER_INPUTS,
        outputs=[USER_OUTPUT, Field("old_status", TEXT)],
    )(change_status)


_lifecycle_card(
    "suspend", "Suspend user", "Suspends an active person: they cannot sign in; access is kept."
)
_lifecycle_card("unsuspend", "Unsuspend user", "Makes a suspended person active again.")
_lifecycle_card(
    "deactivate",
    "Deactivate user",
    "Deprovisions a person (staged, active or suspended): they cannot sign in.",
)


# --- Groups and applications ----------------------------------------------------------------


def _grant_object(grant: GroupMembership | AppAssignment, kind: str, resource) -> dict[str, Any]:
    return {
        "user_id": grant.user_id,
        f"{kind}_id": resource.pk,
        f"{kind}_name": resource.name,
        "source": grant.source,
        "expires_at": grant.expires_at.isoformat() if grant.expires_at else None,
    }


@card(
    "directory.add_to_group",
    "Add user to group",
    CATEGORY,
    inputs=[*USER_INPUTS, *GROUP_INPUTS, EXPIRES_AT],
    outputs=[Field("membership", OBJECT, description="user_id, group_id, group_name, expires_at")],
)
def add_to_group(context, *, user_id, email, username, group_id, group_name, expires_at):
    """Makes a person a member of a group, until `expires_at` if given (for a member already:
    sets the end date)."""
    user = require_user(user_id=user_id, email=email, username=username)
    group = _resource(Group, "group", pk=group_id, name=group_name)
    with as_the_system(context):
        membership = services.group_add_member(
            group=group,
            user=user,
            actor=context.actor,
            source=GrantSource.FLOW,
            expires_at=expires_at,
        )
    return {"membership": _grant_object(membership, "group", group)}


@card(
    "directory.remove_from_group",
    "Remove user from group",
    CATEGORY,
    inputs=[*USER_INPUTS, *GROUP_INPUTS],
    outputs=[Field("removed", BOOLEAN, description="false when they were not a member")],
)
def remove_from_group(context, *, user_id, email, username, group_id, group_name):
    """Ends a person's membership of a group."""
    user = require_user(user_id=user_id, email=email, username=username)
    group = _resource(Group, "group", pk=group_id, name=group_name)
    with as_the_system(context):
        removed = services.group_remove_member(group=group, user=user, actor=context.actor)
    return {"removed": removed}


@card(
    "directory.assign_application",
    "Assign application",
    CATEGORY,
    inputs=[*USER_INPUTS, *APPLICATION_INPUTS, EXPIRES_AT],
    outputs=[
        Field(
            "assignment",
            OBJECT,
            description="user_id, application_id, application_name, expires_at",
        )
    ],
)
def assign_application(
    context, *, user_id, email, username, application_id, application_name, expires_at
):
    """Assigns a person to an application, until `expires_at` if given."""
    user = require_user(user_id=user_id, email=email, username=username)
    application = _resource(Application, "application", pk=application_id, name=application_name)
    with as_the_system(context):
        assignment = services.application_assign(
            application=application,
            user=user,
            actor=context.actor,
            source=GrantSource.FLOW,
            expires_at=expires_at,
        )
    return {"assignment": _grant_object(assignment, "application", application)}


@card(
    "directory.unassign_application",
    "Unassign application",
    CATEGORY,
    inputs=[*USER_INPUTS, *APPLICATION_INPUTS],
    outputs=[Field("removed", BOOLEAN, description="false when there was no assignment")],
)
def unassign_application(context, *, user_id, email, username, application_id, application_name):
    """Removes a person's assignment to an application."""
    user = require_user(user_id=user_id, email=email, username=username)
    application = _resource(Application, "application", pk=application_id, name=application_name)
    with as_the_system(context):
        removed = services.application_unassign(
            application=application, user=user, actor=context.actor
        )
    return {"removed": removed}


@card(
    "directory.list_group_members",
    "List group members",
    CATEGORY,
    inputs=[*GROUP_INPUTS, LIMIT],
    outputs=list(USERS_OUTPUTS),
    idempotent=True,
)
def list_group_members(context, *, group_id, group_name, limit):
    """The members of a group, by username (time-bound ones included until they are removed)."""
    group = _resource(Group, "group", pk=group_id, name=group_name)
    members = User.objects.filter(group_memberships__group=group)
    return _page(members.order_by("username", "id"), _limit(limit))


@card(
    "directory.list_user_groups",
    "List user's groups",
    CATEGORY,
    inputs=USER_INPUTS,
    outputs=[
        Field("groups", LIST, description="[{id, name, expires_at}], by name"),
        Field("count", NUMBER),
    ],
    idempotent=True,
)
def list_user_groups(context, *, user_id, email, username):
    """The groups a person is a member of."""
    user = require_user(user_id=user_id, email=email, username=username)
    memberships = (
        GroupMembership.objects.filter(user=user).select_related("group").order_by("group__name")
    )
    groups = [
        {
            "id": membership.group_id,
            "name": membership.group.name,
            "expires_at": membership.expires_at.isoformat() if membership.expires_at else None,
        }
        for membership in memberships
    ]
    return {"groups": groups, "count": len(groups)}

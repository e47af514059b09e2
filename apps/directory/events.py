"""Event types written by the directory. Every event's data carries `old` and `new` values."""

from apps.audit.catalogue import register

_CHANGE = {"old": "values before the change (null when created)", "new": "values after it"}

USER_CREATED = register("directory.user.created", "A person was added to the directory.", _CHANGE)
USER_PROFILE_UPDATED = register(
    "directory.user.profile_updated",
    "Fields of a person's profile (standard or custom attributes) changed.",
    {**_CHANGE, "fields": "names of the fields that changed"},
)
USER_ADMIN_RIGHTS_CHANGED = register(
    "directory.user.admin_rights_changed",
    "A person's admin-site access, superuser flag, permission groups or permissions changed.",
    _CHANGE,
)
PERMISSION_GROUP_CREATED = register(
    "directory.permission_group.created",
    "A permission group (admin-site rights, django.contrib.auth) was created.",
    {**_CHANGE, "new": "its name and permissions (app_label.codename)"},
)
PERMISSION_GROUP_UPDATED = register(
    "directory.permission_group.updated",
    "A permission group's name or permissions changed.",
    _CHANGE,
)
PERMISSION_GROUP_DELETED = register(
    "directory.permission_group.deleted",
    "A permission group was deleted; its members lost its permissions.",
    {**_CHANGE, "old": "its name, permissions and members (usernames)"},
)
USER_PASSWORD_CHANGED = register(
    "directory.user.password_changed",
    "A person's password was set or removed (the password itself is never logged).",
    {**_CHANGE, "usable": "whether the account now has a usable password"},
)
# Every open session of the person ends too (their session epoch moves on).
_CREDENTIALS_ENDED = {"tokens_revoked": "prefixes of the API tokens revoked with it, if any"}
USER_LIFECYCLE_EVENTS = {
    verb: register(
        f"directory.user.{past}",
        f"A person's account was {past} ({description}).",
        {**_CHANGE, **_CREDENTIALS_ENDED} if verb in ("suspend", "deactivate") else _CHANGE,
    )
    for verb, past, description in (
        ("activate", "activated", "staged to active"),
        ("suspend", "suspended", "active to suspended: cannot sign in; tokens and sessions end"),
        ("unsuspend", "unsuspended", "suspended back to active"),
        ("deactivate", "deactivated", "deprovisioned: cannot sign in; tokens and sessions end"),
        ("reactivate", "reactivated", "deprovisioned back to staged"),
    )
}
USER_SESSION_STARTED = register(
    "directory.user.session.started",
    "A person signed in.",
    {
        "client_ip": "address the sign-in came from",
        "country": "country code, when a proxy sent one",
    },
)
USER_SESSION_FAILED = register(
    "directory.user.session.failed",
    "A sign-in attempt failed (wrong password, unknown or inactive account).",
    {"username": "the name that was tried", "client_ip": "address the attempt came from"},
)
USER_SESSION_ENDED = register("directory.user.session.ended", "A person signed out.")
USER_SESSION_LOCKED_OUT = register(
    "directory.user.session.locked_out",
    "A sign-in was refused because of too many failed attempts for the account or from the "
    "address (portal, admin or API token); written when the lock starts and for each attempt "
    "while it holds.",
    {
        "username": "the account the attempts counted against",
        "client_ip": "address the attempt came from",
        "failures": "failed attempts counted",
        "failure_limit": "the limit that was reached",
        "cool_off_seconds": "how long the lock holds after the last attempt",
    },
)
API_TOKEN_ISSUED = register(
    "directory.api_token.issued",
    "An API token was issued (the secret itself is never logged).",
    {**_CHANGE, "new": "the token's owner, name, prefix and expiry"},
)
API_TOKEN_REVOKED = register(
    "directory.api_token.revoked",
    "An API token was revoked by its owner or an administrator. Tokens revoked because their "
    "owner was suspended or deprovisioned are listed in that event (`tokens_revoked`).",
    {**_CHANGE, "reason": "why", "prefix": "the token's first characters"},
)

ATTRIBUTE_CREATED = register(
    "directory.profile_attribute.created", "A custom profile attribute was defined.", _CHANGE
)
ATTRIBUTE_UPDATED = register(
    "directory.profile_attribute.updated", "A custom profile attribute was changed.", _CHANGE
)
ATTRIBUTE_DELETED = register(
    "directory.profile_attribute.deleted", "A custom profile attribute was removed.", _CHANGE
)

GROUP_CREATED = register("directory.group.created", "A group was created.", _CHANGE)
GROUP_UPDATED = register(
    "directory.group.updated", "A group's name, description or owners changed.", _CHANGE
)
GROUP_DELETED = register("directory.group.deleted", "A group was deleted.", _CHANGE)
USER_ADDED_TO_GROUP = register(
    "directory.user.added_to_group",
    "A person became a member of a group.",
    {**_CHANGE, "group_id": "the group", "group_name": "its name"},
)
GROUP_MEMBERSHIP_UPDATED = register(
    "directory.user.group_membership_updated",
    "The source or end date of a person's group membership changed.",
    {**_CHANGE, "group_id": "the group", "group_name": "its name"},
)
USER_REMOVED_FROM_GROUP = register(
    "directory.user.removed_from_group",
    "A person stopped being a member of a group (removed, or the membership expired).",
    {**_CHANGE, "group_id": "the group", "group_name": "its name", "reason": "why"},
)

APPLICATION_CREATED = register(
    "directory.application.created", "An application was added.", _CHANGE
)
APPLICATION_UPDATED = register(
    "directory.application.updated",
    "An application's name, description or owners changed.",
    _CHANGE,
)
APPLICATION_DELETED = register(
    "directory.application.deleted", "An application was removed.", _CHANGE
)
USER_ASSIGNED_TO_APP = register(
    "directory.user.assigned_to_application",
    "A person was assigned to an application.",
    {**_CHANGE, "application_id": "the application", "application_name": "its name"},
)
APP_ASSIGNMENT_UPDATED = register(
    "directory.user.application_assignment_updated",
    "The source or end date of a person's application assignment changed.",
    {**_CHANGE, "application_id": "the application", "application_name": "its name"},
)
USER_UNASSIGNED_FROM_APP = register(
    "directory.user.unassigned_from_application",
    "A person's application assignment was removed (or expired).",
    {**_CHANGE, "application_id": "the application", "reason": "why"},
)

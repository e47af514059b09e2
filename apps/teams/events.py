"""Event types written by the teams app. Every event's data carries `old` and `new` values."""

from apps.audit.catalogue import register

_CHANGE = {"old": "values before the change (null when created)", "new": "values after it"}
_MEMBER = {**_CHANGE, "team_id": "the team", "team_name": "its name"}

TEAM_CREATED = register("teams.team.created", "A team was created.", _CHANGE)
TEAM_UPDATED = register(
    "teams.team.updated",
    "A team's name, description, assignment strategy or fixed member changed.",
    _CHANGE,
)
TEAM_DELETED = register("teams.team.deleted", "A team was deleted.", _CHANGE)
MEMBER_ADDED = register("teams.member.added", "A person joined a team.", _MEMBER)
MEMBER_REMOVED = register("teams.member.removed", "A person left a team.", _MEMBER)
MEMBER_AVAILABILITY_CHANGED = register(
    "teams.member.availability_changed",
    "A team member was marked available or unavailable for new work (on holiday, say).",
    _MEMBER,
)

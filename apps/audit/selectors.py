"""Named reads of the system log, shaped for a table of millions of events."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from apps.audit.models import SystemLogEvent

# How many people an actor search may stand for: a short word ("a") must not turn into an IN
# list of thousands of ids.
MAX_MATCHING_ACTORS = 100


def _starts_with(field: str, prefix: str) -> Q:
    """lower(field) starts with `prefix` (lower case), as a range the lower(field) index reads."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return Q(**{f"{field}_ci__gte": prefix, f"{field}_ci__lt": upper})


def matching_actor_ids(term: str, *, limit: int = MAX_MATCHING_ACTORS) -> list[int]:
    """Ids of the people whose username, e-mail or last name starts with `term`, any case.

    "dave okafor" (several words) is a first name then the start of a last name. Each test is a
    range on an expression index of the directory (lower(username), lower(email),
    lower(last_name)), so this reads a few index entries whatever the number of people. A lone
    first name is not matched: no index on lower(first_name) exists, and without one the test
    reads the whole table. At most `limit` people.
    """
    words = term.lower().split()
    if not words:
        return []
    people = (
        get_user_model()
        .objects.alias(
            username_ci=Lower("username"),
            email_ci=Lower("email"),
            first_name_ci=Lower("first_name"),
            last_name_ci=Lower("last_name"),
        )
        .order_by()  # any `limit` of them: sorting would walk an index through every person
    )
    if len(words) == 1:
        (word,) = words
        match = (
            _starts_with("username", word)
            | _starts_with("email", word)
            | _starts_with("last_name", word)
        )
    else:
        first, *rest = words
        match = _starts_with("last_name", " ".join(rest)) & Q(first_name_ci=first)
    return list(people.filter(match).values_list("pk", flat=True)[:limit])


def events_by_actor(events: QuerySet[SystemLogEvent], term: str) -> QuerySet[SystemLogEvent]:
    """The events done by the people `term` names (see `matching_actor_ids`), or by the system.

    People are found first (a few rows through the directory's case-insensitive indexes), then
    events by actor id through the (actor, published) index: no text match over the log.
    """
    term = term.strip()
    if not term:
        return events
    if term.lower() == "system":
        return events.filter(actor__isnull=True)
    return events.filter(actor_id__in=matching_actor_ids(term))

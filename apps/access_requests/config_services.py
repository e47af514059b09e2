"""Configuration verbs for request types that are not an edit of the type and its steps.

Kept apart from `services.py` (the request engine). Saving a type and its steps goes through
`services.request_type_record_change`; opening or closing it for requests goes through here.
"""

from __future__ import annotations

from django.db import transaction

from apps.access_requests import chain, events
from apps.access_requests.models import RequestType, RequestTypeStatus
from apps.audit.services import emit
from apps.directory.models import User


@transaction.atomic
def request_type_set_status(
    *, request_type: RequestType, actor: User | None, status: str
) -> RequestType:
    """Activate, disable (or return to draft) a request type; activating checks its chain.

    The status is not part of a request's snapshot, so the version does not change. Disabling
    never checks the chain: a type whose chain went stale must still be closable.
    """
    if status not in RequestTypeStatus.values:
        raise ValueError(f"Unknown request type status {status!r}.")
    request_type = RequestType.objects.select_for_update().get(pk=request_type.pk)
    old = request_type.status
    if old == status:
        return request_type
    if status == RequestTypeStatus.ACTIVE:
        chain.validate_step_chain(request_type, request_type.steps.all())
    request_type.status = status
    request_type.save(update_fields=["status", "updated_at"])
    emit(
        events.REQUEST_TYPE_STATUS_CHANGED,
        actor=actor,
        target=request_type,
        data={"old": {"status": old}, "new": {"status": status}},
    )
    return request_type

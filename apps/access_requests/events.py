"""Event types written by access requests. Data carries `old` and `new` where a value changed."""

from apps.audit.catalogue import register

_REQUEST = {"request_id": "the request", "request_type": "its type's name"}

REQUEST_CREATED = register(
    "access_request.created",
    "Someone submitted an access request.",
    {**_REQUEST, "new": "status, assignee and answers"},
)
REQUEST_STATUS_EVENTS = {
    verb: register(
        f"access_request.{past}",
        description,
        {**_REQUEST, "old": "the status before", "new": "the status after", "reason": "why"},
    )
    for verb, past, description in (
        ("approve", "approved", "Every approval level of a request agreed."),
        ("deny", "denied", "An approver denied a request, or its approval timed out."),
        ("cancel", "canceled", "A request was canceled by its requester or an admin."),
        ("expire", "expired", "A request expired after a long time without activity."),
        ("close", "closed", "Every step of a request is done."),
    )
}
APPROVAL_REQUESTED = register(
    "access_request.approval.requested",
    "An approval level started: its approvers were asked.",
    {**_REQUEST, "approvers": "user ids asked", "quorum": "approvals needed"},
)
APPROVAL_DECIDED = register(
    "access_request.approval.decided",
    "An approver approved or denied.",
    {**_REQUEST, "old": "pending", "new": "approved or denied", "comment": "their comment"},
)
APPROVAL_REMINDED = register(
    "access_request.approval.reminded",
    "An approval level passed its timeout: its approvers were reminded.",
    _REQUEST,
)
APPROVAL_ESCALATED = register(
    "access_request.approval.escalated",
    "An approval level stayed undecided after its reminder and went to the escalation target.",
    {**_REQUEST, "approvers": "user ids now asked"},
)
COMMENTED = register("access_request.commented", "Someone commented on a request.", _REQUEST)
TASK_CREATED = register(
    "access_request.task.created", "A task was created for the request's assignee.", _REQUEST
)
TASK_COMPLETED = register(
    "access_request.task.completed",
    "The assignee completed a task.",
    {**_REQUEST, "old": "open", "new": "completed"},
)
GRANT_CREATED = register(
    "access.grant.created",
    "A request granted a group membership or an application assignment.",
    {**_REQUEST, "resource": "what was granted", "ends_at": "when it ends, if ever"},
)
GRANT_REVOKED = register(
    "access.grant.revoked",
    "Access given by a request was removed (its end date passed, or the request was canceled).",
    {**_REQUEST, "resource": "what was removed", "reason": "why"},
)
GRANT_REVOCATION_FAILED = register(
    "access.grant.revocation_failed",
    "Removing access at its end date failed; it will be retried.",
    {**_REQUEST, "error": "what went wrong", "attempts": "tries so far"},
)
REQUEST_TYPE_SAVED = register(
    "access_request.request_type.saved",
    "An admin created or changed a request type (its version went up).",
    {"old": "version before", "new": "version after"},
)
DELEGATION_CREATED = register(
    "access_request.delegation.created",
    "An approver handed their approvals to a delegate for a period.",
    {"new": "delegate, start and end"},
)
DELEGATION_ENDED = register(
    "access_request.delegation.ended",
    "An approver ended a delegation early.",
    {"old": "the planned end", "new": "the actual end"},
)
REQUEST_TYPE_STATUS_CHANGED = register(
    "access_request.request_type.status_changed",
    "An admin opened a request type for requests, or closed it (its version is unchanged).",
    {"old": "status before", "new": "status after"},
)
DELEGATED_FLOW_STARTED = register(
    "access_request.delegated_flow.started",
    "A request's action queued a run of a delegated flow (one-way). With outcome failure the run "
    "was not started (a value did not fit, or the team may not use the flow); the request goes "
    "on either way.",
    {
        **_REQUEST,
        "flow": "the flow's name",
        "flow_id": "the flow",
        "flow_run": "the queued run, if started",
        "inputs": "the names of the inputs passed",
        "errors": "per input (or 'flow'), why it was not started",
    },
)

"""Event types written by the flow engine."""

from apps.audit.catalogue import register

_CHANGE = {"old": "before", "new": "after"}

FLOW_CREATED = register("flows.flow.created", "An admin created a flow.", _CHANGE)
FLOW_VERSION_SAVED = register(
    "flows.flow.version_saved",
    "A flow's definition was saved as a new version (or an earlier one restored).",
    {**_CHANGE, "version": "the new version number", "restored_from": "the version copied, if any"},
)
FLOW_UPDATED = register(
    "flows.flow.updated", "A flow's name, kind, switches or allowed teams changed.", _CHANGE
)
RUN_FAILED = register(
    "flows.run.failed",
    "A flow run failed: the card and the message say where and why.",
    {
        "run_id": "the run",
        "flow": "the flow's name",
        "card": "the failing card",
        "error": "why",
        "reason": "worker_lost when its worker died and it could not be run again",
    },
)
RUN_QUEUED = register(
    "flows.run.queued",
    "A person started a flow run: by hand in the admin, as a re-run, or through the API.",
    {
        "run_id": "the run",
        "flow": "the flow's name",
        "version": "the version it runs",
        "trigger": "manual, rerun, api or delegated",
        "trigger_ref": "what started it (admin, api, flow_run:N)",
        "inputs": "its inputs (secret-looking ones hidden)",
    },
)
RUN_CANCELED = register("flows.run.canceled", "A queued or running flow run was canceled.", {})
_CONNECTION_CHANGE = {
    "old": "before (the secret shown only as set or not, never its value)",
    "new": "after (likewise)",
}
CONNECTION_CREATED = register(
    "flows.connection.created", "An admin stored a connection.", _CONNECTION_CHANGE
)
CONNECTION_UPDATED = register(
    "flows.connection.updated",
    'A stored connection\'s settings or secret changed (a new secret shows as "changed").',
    _CONNECTION_CHANGE,
)
CONNECTION_DELETED = register(
    "flows.connection.deleted", "A stored connection was deleted.", _CONNECTION_CHANGE
)
ENDPOINT_TOKEN_ROTATED = register(
    "flows.endpoint.token_rotated",
    "An admin gave an API-endpoint flow a new client token (the old one stops working).",
    {"slug": "the endpoint's slug", **_CHANGE},
)

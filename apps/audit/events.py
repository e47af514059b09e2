"""Event types about the system log itself."""

from apps.audit.catalogue import register, register_family

SYSTEM_LOG_EXPORTED = register(
    "audit.system_log.exported",
    "An administrator exported a filtered list of system log events as CSV.",
    {"rows": "number of events exported", "filters": "the query string of the filtered list"},
)

# --- Events from other systems (apps.audit.ingest) ------------------------------------------
OKTA_EVENTS = register_family(
    "okta.*",
    "An Okta event (sign-in, MFA, lifecycle...) delivered by an Okta event hook: okta.<eventType>.",
    {"source": "the ingest source's slug", "event": "the Okta event as delivered"},
)
INGESTED_EVENTS = register_family(
    "ingest.*",
    "An event from a generic ingest source: ingest.<source prefix>.<type>.",
    {"source": "the ingest source's slug", "event": "the event as delivered"},
)
INGEST_SOURCE_CREATED = register(
    "audit.ingest_source.created",
    "An administrator added a source of events from another system.",
    {"old": "before", "new": "after"},
)
INGEST_SOURCE_UPDATED = register(
    "audit.ingest_source.updated",
    "An administrator changed an event ingest source (its name, header, prefix or switch).",
    {"old": "before", "new": "after"},
)
INGEST_SECRET_ROTATED = register(
    "audit.ingest_source.secret_rotated",
    "An administrator made a new shared secret for an event ingest source (the old one stops).",
    {"old": "before", "new": "after"},
)

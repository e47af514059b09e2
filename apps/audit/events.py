"""Event types about the system log itself."""

from apps.audit.catalogue import register

SYSTEM_LOG_EXPORTED = register(
    "audit.system_log.exported",
    "An administrator exported a filtered list of system log events as CSV.",
    {"rows": "number of events exported", "filters": "the query string of the filtered list"},
)

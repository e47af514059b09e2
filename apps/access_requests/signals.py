"""Hooks into lower apps: open work for team assignment, and the recurring jobs."""

from apps.access_requests.selectors import open_work_counts
from apps.core import schedules
from apps.teams.selectors import register_open_work_counter

register_open_work_counter(open_work_counts)
schedules.register(
    schedules.Recurring(
        "access requests: approval timeouts", "apps.access_requests.tasks.approval_timeouts", 5
    )
)
schedules.register(
    schedules.Recurring(
        "access requests: inactivity expiry",
        "apps.access_requests.tasks.expire_inactive_requests",
        60,
    )
)
schedules.register(
    schedules.Recurring(
        "access requests: grant warnings and revocation",
        "apps.access_requests.tasks.grant_expiry",
        1,
    )
)

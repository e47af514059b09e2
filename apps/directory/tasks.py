"""Scheduled directory work run by the task queue."""

from apps.directory.services import revoke_expired_grants


def sweep_expired_grants() -> int:
    """Remove memberships and assignments whose end date has passed (every minute)."""
    return revoke_expired_grants()

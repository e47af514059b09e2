"""Queue work for access requests: e-mail and chat notifications, and the recurring jobs."""

from apps.access_requests import chat_notifications, notifications, services


def send_notification(kind: str, ids: dict) -> int:
    """Post one notification to the chat connections that hear of it, then send its e-mails
    (queued after commit)."""
    chat_notifications.post(kind, ids)
    return notifications.send(kind, ids)


def approval_timeouts() -> int:
    """Remind, then escalate or deny, overdue approval levels."""
    return services.process_approval_timeouts()


def expire_inactive_requests() -> int:
    """Warn about, then expire, requests without activity."""
    return services.expire_inactive_requests()


def grant_expiry() -> int:
    """Warn holders of access about to end, then remove access whose end has passed."""
    return services.warn_expiring_grants() + services.revoke_expired_access()

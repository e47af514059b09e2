"""Queue work of the shared building blocks."""

from __future__ import annotations

from django.utils import timezone

from apps.core.models import IdempotencyKey


def purge_expired_idempotency_keys() -> int:
    """Forget the idempotency keys whose time is up; how many were removed."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted

"""Shared records: the answers remembered for `Idempotency-Key` headers."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class IdempotencyKey(models.Model):
    """The first answer to a creating POST sent with an `Idempotency-Key`, kept for replays.

    One row per caller and key: the unique constraint is what stops two simultaneous POSTs with
    the same key from both creating. `fingerprint` is a hash of the method, path and body, so the
    key cannot be reused for a different request.
    """

    caller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.TextField(help_text="The answer's body as JSON, in its order.")
    response_location = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["caller", "key"], name="idempotency_key_per_caller")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.caller_id})"

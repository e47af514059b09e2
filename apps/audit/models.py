"""The system log: an append-only table of everything that changed, and who changed it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from apps.audit.errors import AppendOnlyError


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    DENIED = "denied", "Denied"


class SystemLogEventQuerySet(models.QuerySet):
    """Refuses the bulk writes that would rewrite history."""

    def update(self, **kwargs):
        raise AppendOnlyError("The system log is append-only: events cannot be updated.")

    def delete(self):
        raise AppendOnlyError("The system log is append-only: events cannot be deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError("The system log is append-only: events cannot be updated.")

    def for_target(self, obj: models.Model) -> SystemLogEventQuerySet:
        """Events whose target is `obj`."""
        return self.filter(target_type=target_type_of(obj), target_id=str(obj.pk))


class SystemLogEvent(models.Model):
    """One thing that happened: who did what to which object, with the old and new values."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    published = models.DateTimeField(default=timezone.now, db_index=True)
    event_type = models.CharField(max_length=100, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,  # people are deprovisioned, never erased from history
        related_name="+",
    )
    actor_display = models.CharField(max_length=255, blank=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_display = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    message = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    correlation_id = models.CharField(max_length=64, blank=True, db_index=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)

    objects = SystemLogEventQuerySet.as_manager()

    class Meta:
        ordering = ["-published", "-id"]
        indexes = [
            models.Index(fields=["-published", "-id"], name="audit_newest_idx"),
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
            models.Index(fields=["event_type", "-published"], name="audit_type_published_idx"),
            models.Index(fields=["actor", "-published"], name="audit_actor_published_idx"),
        ]
        verbose_name = "system log event"

    def __str__(self) -> str:
        return f"{self.published:%Y-%m-%d %H:%M:%S} {self.event_type} {self.target_display}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("The system log is append-only: events cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("The system log is append-only: events cannot be deleted.")


def target_type_of(obj: models.Model) -> str:
    """The dotted `app_label.model` name under which events about `obj` are filed."""
    return obj._meta.label_lower

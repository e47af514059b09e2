"""The system log: an append-only table of everything that changed, and who changed it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
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


class IngestKind(models.TextChoices):
    OKTA = "okta", "Okta event hook"
    GENERIC = "generic", "Generic JSON events"


class IngestSource(models.Model):
    """Another system whose events are written to the system log: `POST /api/v1/ingest/{slug}/`.

    Its deliveries are authenticated by a shared secret sent in the header `auth_header` (Okta:
    the event hook's "Authentication field" and "Authentication secret"). Only the secret's
    hash is kept; the admin makes a new one and shows it once.
    """

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True, help_text="The URL: /api/v1/ingest/<slug>/")
    kind = models.CharField(max_length=16, choices=IngestKind.choices, default=IngestKind.OKTA)
    event_prefix = models.SlugField(
        max_length=40,
        blank=True,
        help_text="Generic sources: their events are written as ingest.<prefix>.<type>. "
        "Okta events are always okta.<eventType>.",
    )
    auth_header = models.CharField(
        max_length=100, default="Authorization", help_text="The header that carries the secret."
    )
    secret_hash = models.CharField(max_length=64, blank=True, editable=False)
    secret_prefix = models.CharField(max_length=16, blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = "event ingest source"
        permissions = [("rotate_ingestsource", "Can make a new secret for an event ingest source")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind == IngestKind.GENERIC and not self.event_prefix:
            raise ValidationError({"event_prefix": "A generic source needs an event prefix."})

    @property
    def type_prefix(self) -> str:
        """What every event type from this source starts with."""
        if self.kind == IngestKind.OKTA:
            return "okta."
        return f"ingest.{self.event_prefix}."


class IngestedEvent(models.Model):
    """An event a source delivered, by the id the source gave it (Okta's `uuid`, a generic
    event's `id`): a delivery sent again (Okta retries one it thinks failed) records nothing
    twice."""

    source = models.ForeignKey(IngestSource, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=100)
    # The uuid of the system log event it became (not a foreign key: nothing may stand in the
    # way of the log's own refusal of TRUNCATE).
    event_uuid = models.UUIDField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="audit_ingested_event_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.external_id}"

"""Flows: definitions and their immutable versions, runs with card-by-card history, tables."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from apps.core.statemachine import Lifecycle
from apps.core.validation import ConstraintErrorsOnFields


class FlowKind(models.TextChoices):
    EVENT = "event", "Started by a system log event"
    SCHEDULED = "scheduled", "Started on a schedule"
    API = "api", "Started by an API call"
    HELPER = "helper", "Helper (called by other flows)"
    DELEGATED = "delegated", "Delegated (run from requests or by hand)"


class InputType(models.TextChoices):
    """Types a flow input may have. Delegated flows accept only the first four."""

    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    DATETIME = "datetime", "Date and time"
    BOOLEAN = "boolean", "True / false"
    OBJECT = "object", "Object"
    LIST = "list", "List"


DELEGATED_INPUT_TYPES = (InputType.TEXT, InputType.NUMBER, InputType.DATETIME, InputType.BOOLEAN)


class Flow(ConstraintErrorsOnFields, models.Model):
    """An automation: a chain of cards, started by an event, a schedule, an API call, another
    flow, or a request (delegated)."""

    constraint_fields = {"flows_flow_name_unique": "name"}

    name = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    folder = models.CharField(max_length=100, blank=True, help_text="Groups flows for export.")
    kind = models.CharField(max_length=16, choices=FlowKind.choices, default=FlowKind.HELPER)
    enabled = models.BooleanField(default=True)
    save_history = models.BooleanField(
        default=True, help_text="Keep each run's card-by-card inputs and outputs."
    )
    current_version = models.ForeignKey(
        "FlowVersion", null=True, blank=True, on_delete=models.RESTRICT, related_name="+"
    )
    allowed_teams = models.ManyToManyField(
        "teams.Team",
        blank=True,
        related_name="delegated_flows",
        help_text="Delegated flows: teams whose request types may run this flow.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["folder", "name"]
        constraints = [models.UniqueConstraint(fields=["name"], name="flows_flow_name_unique")]
        permissions = [("run_delegated_flow", "Can run delegated flows by hand")]

    def __str__(self) -> str:
        return self.name

    @property
    def definition(self) -> dict:
        return self.current_version.definition if self.current_version_id else {"cards": []}


class FlowVersion(models.Model):
    """One saved definition of a flow. Never changed once written: a run pins its version."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField(encoder=DjangoJSONEncoder)
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["flow", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "number"], name="flows_version_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.flow} v{self.number}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("A flow version is immutable: save a new version instead.")
        super().save(*args, **kwargs)

    @property
    def inputs(self) -> list[dict]:
        return self.definition.get("inputs", [])


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


RUN_LIFECYCLE = Lifecycle(
    "flow run",
    {
        "start": (frozenset({RunStatus.QUEUED}), RunStatus.RUNNING),
        "succeed": (frozenset({RunStatus.RUNNING}), RunStatus.SUCCEEDED),
        "fail": (frozenset({RunStatus.QUEUED, RunStatus.RUNNING}), RunStatus.FAILED),
        "cancel": (frozenset({RunStatus.QUEUED, RunStatus.RUNNING}), RunStatus.CANCELED),
        # a run whose worker was lost while it was only in idempotent cards
        "requeue": (frozenset({RunStatus.RUNNING}), RunStatus.QUEUED),
    },
)


class Trigger(models.TextChoices):
    MANUAL = "manual", "By hand"
    API = "api", "API"
    DELEGATED = "delegated", "Request (delegated)"
    EVENT = "event", "Event"
    SCHEDULE = "schedule", "Schedule"
    CHILD = "child", "Parent flow"
    RERUN = "rerun", "Re-run"


class FlowRun(models.Model):
    """One execution of a flow version."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey(FlowVersion, on_delete=models.RESTRICT, related_name="runs")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    trigger_ref = models.CharField(
        max_length=255, blank=True, help_text="What started it, e.g. access_request:42."
    )
    idempotency_key = models.CharField(
        max_length=100,
        blank=True,
        help_text="What may start this flow only once (event:<uuid>, schedule:<time>): a "
        "second start with the same key finds this run instead.",
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    depth = models.PositiveSmallIntegerField(default=0)
    root = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The run that started the whole tree (empty on the root itself).",
    )
    runs_started = models.PositiveIntegerField(
        default=0, help_text="On a root run: the helper runs started under it, at any depth."
    )
    inputs = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    output = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    error = models.TextField(blank=True)
    error_card = models.CharField(max_length=255, blank=True)
    cards_executed = models.PositiveIntegerField(default=0)
    history_saved = models.BooleanField(default=True)
    correlation_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The lease of a running run: its worker renews it; once it lapses, the worker is taken
    # for lost and the run is taken up again (or failed) by the next worker or the sweep.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claims = models.PositiveSmallIntegerField(
        default=0, help_text="How many times a worker took the run (more than 1: taken up again)."
    )
    current_card = models.CharField(
        max_length=255, blank=True, help_text="The card running when the lease was last renewed."
    )
    side_effect_card = models.CharField(
        max_length=255,
        blank=True,
        help_text="The last non-idempotent card started: a run lost after it is failed.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "lease_expires_at"], name="flowrun_lease_idx"),
            models.Index(fields=["-created_at", "-id"], name="flowrun_newest_idx"),
            models.Index(fields=["flow", "-created_at"], name="flowrun_flow_newest_idx"),
            models.Index(fields=["status", "-created_at"], name="flowrun_status_newest_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["flow", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="flows_run_started_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.flow} run #{self.pk}"

    @property
    def duration_ms(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds() * 1000
        return None


class SubscriptionsVersion(models.Model):
    """One row whose token changes with every change to the flows' event subscriptions.

    Every process keeps the event subscriptions in memory and reloads them when the token
    differs, so a flow saved, enabled or disabled in one process is seen by all the others. A
    fresh random token (not a counter) per change: a rolled-back change never leaves a number
    that a later change reuses."""

    token = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"subscriptions {self.token}"


class CardRun(models.Model):
    """What one card did in one run: its inputs, outputs or error, and how long it took."""

    run = models.ForeignKey(FlowRun, on_delete=models.CASCADE, related_name="card_runs")
    sequence = models.PositiveIntegerField()
    path = models.CharField(max_length=255, help_text="Where the card sits, e.g. 3/then/1.")
    card_id = models.CharField(max_length=100)
    card_type = models.CharField(max_length=100)
    succeeded = models.BooleanField(default=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    inputs = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    outputs = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField()
    duration_ms = models.FloatField()

    class Meta:
        ordering = ["run", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "sequence"], name="flows_cardrun_sequence_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.card_id} ({self.card_type})"


class FlowTable(ConstraintErrorsOnFields, models.Model):
    """A small named table flows can keep rows in (temporary memberships, counters...)."""

    constraint_fields = {"flows_table_name_unique": "name"}

    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    columns = models.JSONField(
        default=list,
        blank=True,
        help_text='Column names and types: [{"name": "email", "type": "text"}]',
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["name"], name="flows_table_name_unique")]

    def __str__(self) -> str:
        return self.name


class FlowTableRow(models.Model):
    """One row of a flow table."""

    table = models.ForeignKey(FlowTable, on_delete=models.CASCADE, related_name="rows")
    data = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["table", "id"]

    def __str__(self) -> str:
        return f"{self.table} row {self.pk}"


class ConnectionKind(models.TextChoices):
    OAUTH2_CLIENT_CREDENTIALS = "oauth2_client_credentials", "OAuth 2.0 client credentials"
    BASIC = "basic", "Basic (user name and password)"
    BEARER = "bearer", "Bearer token"
    HEADER = "header", "Custom header (API key)"
    SLACK_WEBHOOK = "slack_webhook", "Slack incoming webhook"
    TEAMS_WEBHOOK = "teams_webhook", "Microsoft Teams incoming webhook"


CHAT_CONNECTION_KINDS = (ConnectionKind.SLACK_WEBHOOK, ConnectionKind.TEAMS_WEBHOOK)

# What the one secret of each kind is, for forms and messages.
SECRET_MEANING = {
    ConnectionKind.OAUTH2_CLIENT_CREDENTIALS: "the client secret",
    ConnectionKind.BASIC: "the password",
    ConnectionKind.BEARER: "the token",
    ConnectionKind.HEADER: "the header's value (the API key)",
    ConnectionKind.SLACK_WEBHOOK: "the webhook URL",
    ConnectionKind.TEAMS_WEBHOOK: "the webhook URL",
}


class Connection(ConstraintErrorsOnFields, models.Model):
    """Stored credentials that cards use by name: the HTTP card (OAuth 2.0 client credentials,
    basic, bearer, a custom header) and the chat card (Slack and Teams incoming webhooks).

    The one secret of each kind (client secret, password, token, API key, webhook URL) and the
    cached OAuth 2.0 access token are kept encrypted (apps.flows.encryption) and never shown.
    """

    constraint_fields = {"flows_connection_name_unique": "name"}

    name = models.CharField(max_length=100, help_text="What flows call it by, e.g. crm.")
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=32, choices=ConnectionKind.choices)
    enabled = models.BooleanField(default=True)
    token_url = models.URLField(
        max_length=500, blank=True, help_text="OAuth 2.0: the token endpoint (https)."
    )
    client_id = models.CharField(max_length=255, blank=True, help_text="OAuth 2.0: client ID.")
    scope = models.CharField(
        max_length=500, blank=True, help_text="OAuth 2.0: scopes, separated by spaces."
    )
    username = models.CharField(max_length=255, blank=True, help_text="Basic: the user name.")
    header_name = models.CharField(
        max_length=100, blank=True, help_text="Custom header: its name, e.g. X-API-Key."
    )
    test_url = models.URLField(
        max_length=500,
        blank=True,
        help_text='Called with GET by the admin\'s "test connection" (OAuth 2.0: a token is '
        "fetched when empty).",
    )
    allowed_private_hosts = models.JSONField(
        default=list,
        blank=True,
        help_text="Host names or addresses on private networks this connection may call, "
        'e.g. ["vault.internal", "10.0.0.5"]. Others stay refused.',
    )
    notify_every_request = models.BooleanField(
        default=False,
        help_text="Chat webhooks: post every request's events here (new approval, decided, "
        "closed, task assigned), as well as the e-mails.",
    )
    notify_teams = models.ManyToManyField(
        "teams.Team",
        blank=True,
        related_name="chat_connections",
        help_text="Chat webhooks: post the events of requests these teams handle.",
    )
    encrypted_secret = models.TextField(blank=True, editable=False)
    encrypted_access_token = models.TextField(blank=True, editable=False)
    access_token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name"], name="flows_connection_name_unique")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_chat(self) -> bool:
        return self.kind in CHAT_CONNECTION_KINDS

    @property
    def has_secret(self) -> bool:
        return bool(self.encrypted_secret)


class ApiEndpoint(models.Model):
    """Where an API-endpoint flow answers: `POST /api/v1/hooks/{slug}/`. Kept in step with the
    `trigger` of the flow's current version when a version is saved; the client token's hash
    is its own (rotated from the admin, the secret shown once)."""

    flow = models.OneToOneField(Flow, on_delete=models.CASCADE, related_name="endpoint")
    slug = models.SlugField(max_length=100, unique=True)
    token_hash = models.CharField(max_length=64, blank=True, editable=False)
    token_prefix = models.CharField(
        max_length=16, blank=True, help_text="The first characters of the client token."
    )
    token_rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = "API endpoint"
        permissions = [
            ("call_apiendpoint", "Can call API-endpoint flows with a personal API token"),
            ("rotate_apiendpoint", "Can rotate the client token of an API-endpoint flow"),
        ]

    def __str__(self) -> str:
        return f"/api/v1/hooks/{self.slug}/"


__all__ = [
    "CHAT_CONNECTION_KINDS",
    "DELEGATED_INPUT_TYPES",
    "RUN_LIFECYCLE",
    "ApiEndpoint",
    "CardRun",
    "Connection",
    "ConnectionKind",
    "Flow",
    "FlowKind",
    "FlowRun",
    "FlowTable",
    "FlowTableRow",
    "FlowVersion",
    "InputType",
    "RunStatus",
    "SubscriptionsVersion",
    "Trigger",
]

"""Access requests: request types and their ordered steps, requests, approvals, tasks, grants.

A request type is configured as an ordered list of steps (questions, approvals, actions, tasks).
A request keeps a snapshot of that configuration when it is submitted and runs from the
snapshot only, so editing a type never changes a request in flight.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from apps.core.statemachine import Lifecycle
from apps.core.validation import ConstraintErrorsOnFields
from apps.flows.models import CHAT_CONNECTION_KINDS

USER = settings.AUTH_USER_MODEL


# --- Configuration --------------------------------------------------------------------------


class RequestTypeStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    DISABLED = "disabled", "Disabled"


class Audience(models.TextChoices):
    EVERYONE = "everyone", "Everyone"
    RESTRICTED = "restricted", "Members of the chosen groups or teams"


# A request open for longer than ten years is a mistake; 0 would expire everything at once.
MIN_INACTIVITY_DAYS, MAX_INACTIVITY_DAYS = 1, 3650


class RequestType(ConstraintErrorsOnFields, models.Model):
    """Something people can ask for ("Badge access to a building"), and how it is handled."""

    constraint_fields = {"request_type_name_ci_unique": "name"}

    name = models.CharField(max_length=150, help_text="Unique, whatever the case.")
    description = models.TextField(blank=True)
    owning_team = models.ForeignKey(
        "teams.Team",
        on_delete=models.PROTECT,
        related_name="request_types",
        help_text="Handles the requests: its members are assigned the work and can see them.",
    )
    audience = models.CharField(max_length=16, choices=Audience.choices, default=Audience.EVERYONE)
    audience_groups = models.ManyToManyField(
        "directory.Group", blank=True, related_name="+", help_text="Restricted audience: groups."
    )
    audience_teams = models.ManyToManyField(
        "teams.Team", blank=True, related_name="+", help_text="Restricted audience: teams."
    )
    status = models.CharField(
        max_length=16, choices=RequestTypeStatus.choices, default=RequestTypeStatus.DRAFT
    )
    resource_group = models.ForeignKey(
        "directory.Group",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="request_types",
        help_text="The group this request grants (at most one resource).",
    )
    resource_application = models.ForeignKey(
        "directory.Application",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="request_types",
        help_text="The application this request grants (at most one resource).",
    )
    resource_item = models.ForeignKey(
        "catalog.ConfigListItem",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="request_types",
        help_text="An item of a configuration list this request is about (at most one resource).",
    )
    inactivity_days = models.PositiveIntegerField(
        default=60,
        validators=[
            MinValueValidator(MIN_INACTIVITY_DAYS),
            MaxValueValidator(MAX_INACTIVITY_DAYS),
        ],
        help_text=f"A request with no activity for this many days expires "
        f"({MIN_INACTIVITY_DAYS} to {MAX_INACTIVITY_DAYS}).",
    )
    deny_reason_required = models.BooleanField(
        "a denial needs a reason",
        default=True,
        help_text="Approvers must say why they deny; the requester reads it on the timeline "
        "and in the denial e-mail.",
    )
    chat_connection = models.ForeignKey(
        "flows.Connection",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="request_types",
        limit_choices_to={"kind__in": CHAT_CONNECTION_KINDS},
        help_text="A Slack or Teams webhook connection that also hears of this type's requests "
        "(new approval, decided, closed, task assigned), as well as the e-mails.",
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="request_type_name_ci_unique",
                violation_error_message="A request type with that name already exists.",
            ),
            models.CheckConstraint(
                condition=~Q(resource_group__isnull=False, resource_application__isnull=False)
                & ~Q(resource_group__isnull=False, resource_item__isnull=False)
                & ~Q(resource_application__isnull=False, resource_item__isnull=False),
                name="request_type_at_most_one_resource",
                violation_error_message="Choose at most one resource.",
            ),
            models.CheckConstraint(
                condition=Q(inactivity_days__gte=MIN_INACTIVITY_DAYS)
                & Q(inactivity_days__lte=MAX_INACTIVITY_DAYS),
                name="request_type_inactivity_days_range",
                violation_error_message=f"Inactivity days go from {MIN_INACTIVITY_DAYS} to "
                f"{MAX_INACTIVITY_DAYS}.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def resource(self):
        """The group, application or list item this type is about, if any."""
        return self.resource_group or self.resource_application or self.resource_item


class StepKind(models.TextChoices):
    QUESTION = "question", "Question"
    APPROVAL = "approval", "Approval"
    ACTION = "action", "Action"
    TASK = "task", "Task"


class ConditionOperator(models.TextChoices):
    EQUALS = "equals", "equals"
    NOT_EQUALS = "not_equals", "does not equal"
    IS_TRUE = "is_true", "is yes"
    IS_FALSE = "is_false", "is no"
    IS_SET = "is_set", "is answered"


class QuestionType(models.TextChoices):
    TEXT = "text", "Text"
    LONG_TEXT = "long_text", "Long text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    DATETIME = "datetime", "Date and time"
    BOOLEAN = "boolean", "Yes / no"
    LIST_CHOICE = "list_choice", "Choice from a configuration list"
    OPTIONS = "options", "Choice from options"
    USER = "user", "A person in the directory"


class ApproverKind(models.TextChoices):
    MANAGER = "manager", "The requester's manager"
    USER = "user", "A named person"
    TEAM = "team", "Any member of a team"
    GROUP = "group", "Any member of a group"
    RESOURCE_OWNER = "resource_owner", "An owner of the requested resource"


class TimeoutAction(models.TextChoices):
    ESCALATE = "escalate", "Escalate"
    DENY = "deny", "Deny the request"


class ActionKind(models.TextChoices):
    GRANT_RESOURCE = "grant_resource", "Grant the requested group or application"
    RUN_DELEGATED_FLOW = "run_delegated_flow", "Run a delegated flow"


class FlowInputSource(models.TextChoices):
    """Where a delegated flow input takes its value: a request attribute or an answer."""

    ATTRIBUTE = "attribute", "Request attribute"
    ANSWER = "answer", "Answer to a question"
    ANSWER_LABEL = "answer_label", "Answer as it reads (a choice's label, a person's name)"


class RequestAttribute(models.TextChoices):
    """The request attributes a delegated flow input can receive."""

    REQUESTER_EMAIL = "requester_email", "The requester's e-mail"
    SUBJECT = "subject", "The request's subject"
    ASSIGNEE_EMAIL = "assignee_email", "The assignee's e-mail"
    REQUEST_ID = "request_id", "The request's number"
    REQUEST_URL = "request_url", "The request's page in the portal"


FLOW_INPUTS_HELP = (
    "Delegated flow: each flow input and where its value comes from, as JSON, e.g. "
    '{"requesterEmail": {"source": "attribute", "value": "requester_email"}, '
    '"building": {"source": "answer", "value": "building"}}. '
    "Attributes: requester_email, subject, assignee_email (text), request_id (number), "
    "request_url (text). An answer names the key of an earlier question; answer_label gives "
    "how it reads (a choice's label, a person's name) as text."
)


class Step(models.Model):
    """One step of a request type. Which fields matter depends on `kind`."""

    request_type = models.ForeignKey(RequestType, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=StepKind.choices)
    condition_key = models.CharField(
        "only if question", max_length=64, blank=True, help_text="Key of an earlier question."
    )
    condition_operator = models.CharField(
        max_length=16, choices=ConditionOperator.choices, blank=True
    )
    condition_value = models.CharField(max_length=255, blank=True)

    # Question
    key = models.CharField(
        max_length=64, blank=True, help_text="Question: identifier, e.g. building."
    )
    label = models.CharField(max_length=255, blank=True, help_text="Question: the text shown.")
    help_text = models.CharField(max_length=500, blank=True)
    question_type = models.CharField(max_length=16, choices=QuestionType.choices, blank=True)
    required = models.BooleanField(default=True)
    future_only = models.BooleanField(
        "future only",
        default=False,
        help_text="Date question: refuse a date in the past (a date: today or later; a date and "
        "time: after now).",
    )
    config_list = models.ForeignKey(
        "catalog.ConfigList", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    options = models.TextField(
        blank=True, help_text="Question with options: one option per line, as value|label or label."
    )

    # Approval
    approver_kind = models.CharField(max_length=16, choices=ApproverKind.choices, blank=True)
    approver_user = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approver_team = models.ForeignKey(
        "teams.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approver_group = models.ForeignKey(
        "directory.Group", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    quorum = models.PositiveSmallIntegerField(
        default=1, help_text="Approval: how many approvals settle this level."
    )
    timeout_hours = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Approval: remind after this many hours, then act on timeout after as many more.",
    )
    on_timeout = models.CharField(max_length=16, choices=TimeoutAction.choices, blank=True)
    escalation_user = models.ForeignKey(
        USER,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Approval: who decides after escalation (empty: the approvers' manager).",
    )

    # Action
    action_kind = models.CharField(max_length=32, choices=ActionKind.choices, blank=True)
    duration_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Grant: remove the access after this many days."
    )
    end_date_key = models.CharField(
        max_length=64, blank=True, help_text="Grant: key of an earlier date question for the end."
    )
    flow = models.ForeignKey(
        "flows.Flow",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="request_steps",
        limit_choices_to={"kind": "delegated"},
        help_text="Delegated flow: the flow to run (one-way: the request does not wait for it).",
    )
    flow_inputs = models.JSONField(default=dict, blank=True, help_text=FLOW_INPUTS_HELP)

    # Task
    title = models.CharField(max_length=255, blank=True, help_text="Task: what the assignee does.")
    instructions = models.TextField(blank=True)

    class Meta:
        ordering = ["request_type", "position", "id"]

    def __str__(self) -> str:
        detail = self.key or self.title or self.approver_kind or self.action_kind
        if self.action_kind == ActionKind.RUN_DELEGATED_FLOW and self.flow_id:
            detail = f"run {self.flow}"
        return f"{self.position}. {self.get_kind_display()}: {detail}"


class ApproverDelegation(models.Model):
    """While away, an approver hands their approvals to a delegate for a date range."""

    approver = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="delegations")
    delegate = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="delegated_to_me")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="delegation_ends_after_start",
                violation_error_message="The end must come after the start.",
            ),
            models.CheckConstraint(
                condition=~Q(approver=models.F("delegate")),
                name="delegation_not_to_self",
                violation_error_message="Choose someone else as delegate.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.approver} → {self.delegate}"


# --- Requests -------------------------------------------------------------------------------


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Pending approval"
    APPROVED = "approved", "Approved, in progress"
    DENIED = "denied", "Denied"
    CANCELED = "canceled", "Canceled"
    EXPIRED = "expired", "Expired"
    CLOSED = "closed", "Closed"


OPEN_STATUSES = (RequestStatus.PENDING, RequestStatus.APPROVED)

REQUEST_LIFECYCLE = Lifecycle(
    "request",
    {
        "approve": (frozenset({RequestStatus.PENDING}), RequestStatus.APPROVED),
        "deny": (frozenset({RequestStatus.PENDING}), RequestStatus.DENIED),
        "cancel": (frozenset(OPEN_STATUSES), RequestStatus.CANCELED),
        "expire": (frozenset(OPEN_STATUSES), RequestStatus.EXPIRED),
        "close": (frozenset({RequestStatus.APPROVED}), RequestStatus.CLOSED),
    },
)


class AccessRequest(models.Model):
    """One person's request, running the steps of the type snapshot it was submitted with."""

    request_type = models.ForeignKey(RequestType, on_delete=models.PROTECT, related_name="requests")
    type_version = models.PositiveIntegerField()
    snapshot = models.JSONField(
        encoder=DjangoJSONEncoder, help_text="The request type's configuration when submitted."
    )
    requester = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="access_requests")
    owning_team = models.ForeignKey(
        "teams.Team",
        on_delete=models.PROTECT,
        related_name="access_requests",
        help_text="The team that owned the type at submission: it handles the request.",
    )
    subject = models.CharField(max_length=255)
    status = models.CharField(
        max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    assignee = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_requests"
    )
    answers = models.JSONField(default=dict, blank=True)
    next_step = models.PositiveIntegerField(default=0, help_text="Index of the next step to run.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    last_activity_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="When it expires without further activity (while open)."
    )
    expiry_warnings_sent = models.JSONField(default=list, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="request_newest_idx"),
            models.Index(fields=["status", "-created_at"], name="request_status_newest_idx"),
            models.Index(fields=["owning_team", "-created_at"], name="request_team_newest_idx"),
            models.Index(fields=["requester", "-created_at"], name="request_requester_idx"),
            models.Index(fields=["assignee", "status"], name="request_assignee_idx"),
            models.Index(
                fields=["expires_at"],
                condition=Q(status__in=["pending", "approved"]),
                name="request_open_expiry_idx",
            ),
            models.Index(fields=["request_type", "status"], name="request_type_status_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def steps(self) -> list[dict]:
        return self.snapshot["steps"]

    @property
    def deny_reason_required(self) -> bool:
        """Whether an approver must say why they deny (older snapshots: yes)."""
        return self.snapshot.get("deny_reason_required", True)

    @property
    def denial_reason(self) -> str:
        """What the approver who denied this request said (empty when not denied by someone)."""
        if self.status != RequestStatus.DENIED:
            return ""
        comment = (
            self.approvals.filter(status=ApprovalStatus.DENIED)
            .order_by("-decided_at", "-id")
            .values_list("comment", flat=True)
            .first()
        )
        return comment or ""


class LevelStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    CANCELED = "canceled", "Canceled"


class ApprovalLevel(models.Model):
    """One approval step of one request: who may decide, how many must agree, by when."""

    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="levels")
    step_index = models.PositiveIntegerField()
    quorum = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(
        max_length=16, choices=LevelStatus.choices, default=LevelStatus.PENDING
    )
    started_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["request", "step_index"]
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=Q(status="pending", due_at__isnull=False),
                name="level_pending_due_idx",
            )
        ]

    def __str__(self) -> str:
        return f"level {self.step_index} of {self.request}"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    SUPERSEDED = "superseded", "No longer needed"


class Approval(models.Model):
    """One approver's say on one level; the inbox lists their pending ones."""

    level = models.ForeignKey(ApprovalLevel, on_delete=models.CASCADE, related_name="approvals")
    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="approvals")
    delegated_from = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    escalated = models.BooleanField(default=False)
    status = models.CharField(
        max_length=16, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING
    )
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["level", "approver"], name="approval_once_per_level")
        ]
        indexes = [models.Index(fields=["approver", "status"], name="approval_inbox_idx")]

    def __str__(self) -> str:
        return f"{self.approver} on {self.request}"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    COMPLETED = "completed", "Completed"
    CANCELED = "canceled", "Canceled"


class Task(models.Model):
    """Manual work for the request's assignee ("perform the badge change, then close")."""

    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="tasks")
    step_index = models.PositiveIntegerField()
    assignee = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    team = models.ForeignKey(
        "teams.Team",
        on_delete=models.PROTECT,
        related_name="tasks",
        help_text="The request's owning team: its members may take the task.",
    )
    title = models.CharField(max_length=255)
    instructions = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["assignee", "status"], name="task_assignee_idx"),
            models.Index(fields=["status", "-created_at", "-id"], name="task_status_newest_idx"),
            models.Index(
                fields=["team", "status"],
                condition=Q(assignee__isnull=True),
                name="task_unassigned_team_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class GrantStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"


class AccessGrant(models.Model):
    """Access a request gave: a group membership or an application assignment, maybe ending."""

    request = models.ForeignKey(AccessRequest, on_delete=models.PROTECT, related_name="grants")
    user = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="access_grants")
    group = models.ForeignKey(
        "directory.Group", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    application = models.ForeignKey(
        "directory.Application", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=GrantStatus.choices, default=GrantStatus.ACTIVE
    )
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True)
    warnings_sent = models.JSONField(default=list, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [
            models.Index(
                fields=["ends_at"],
                condition=Q(status="active", ends_at__isnull=False),
                name="grant_active_end_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.group or self.application}"

    @property
    def resource(self):
        return self.group or self.application


class TimelineKind(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    STEP_SKIPPED = "step_skipped", "Step skipped"
    APPROVAL_REQUESTED = "approval_requested", "Approval requested"
    DECISION = "decision", "Decision"
    LEVEL_SETTLED = "level_settled", "Approval level settled"
    REMINDER = "reminder", "Reminder"
    ESCALATION = "escalation", "Escalation"
    ACTION = "action", "Action"
    GRANT = "grant", "Access granted"
    REVOCATION = "revocation", "Access removed"
    GRANT_WARNING = "grant_warning", "Access ending soon"
    TASK_CREATED = "task_created", "Task created"
    TASK_COMPLETED = "task_completed", "Task completed"
    COMMENT = "comment", "Comment"
    STATUS = "status", "Status changed"
    EXPIRY_WARNING = "expiry_warning", "Expiry warning"
    ERROR = "error", "Error"


class TimelineEntry(models.Model):
    """A line of a request's history: who did what, when, with its data."""

    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="timeline")
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=32, choices=TimelineKind.choices)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "timeline entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.kind}: {self.message[:60]}"

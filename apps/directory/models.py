"""The identity directory: people, groups, applications and who holds which."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac

from apps.core.statemachine import Lifecycle
from apps.core.validation import ConstraintErrorsOnFields

models.CharField.register_lookup(Lower)  # `email__lower=...` uses the case-insensitive indexes


class UserStatus(models.TextChoices):
    STAGED = "staged", "Staged"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    DEPROVISIONED = "deprovisioned", "Deprovisioned"


# Reactivation returns an account to staged, as in Okta: it must be activated again before use.
USER_LIFECYCLE = Lifecycle(
    "user",
    {
        "activate": (frozenset({UserStatus.STAGED}), UserStatus.ACTIVE),
        "suspend": (frozenset({UserStatus.ACTIVE}), UserStatus.SUSPENDED),
        "unsuspend": (frozenset({UserStatus.SUSPENDED}), UserStatus.ACTIVE),
        "deactivate": (
            frozenset({UserStatus.STAGED, UserStatus.ACTIVE, UserStatus.SUSPENDED}),
            UserStatus.DEPROVISIONED,
        ),
        "reactivate": (frozenset({UserStatus.DEPROVISIONED}), UserStatus.STAGED),
    },
)


class UserManager(BaseUserManager):
    """`create_user` and `create_superuser` go through the directory service, so they are logged."""

    use_in_migrations = True

    def get_by_natural_key(self, username):
        return self.get(username__lower=str(username).lower())

    def create_user(self, username, email="", password=None, **fields):
        from apps.directory.services import user_create

        return user_create(actor=None, username=username, email=email, password=password, **fields)

    def create_superuser(self, username, email="", password=None, **fields):
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(username, email, password, **fields)


class User(ConstraintErrorsOnFields, AbstractBaseUser, PermissionsMixin):
    """A person in the directory; signs in with e-mail or username."""

    constraint_fields = {
        "directory_user_username_ci_unique": "username",
        "directory_user_email_ci_unique": "email",
        "directory_user_employee_number_unique": "employee_number",
    }

    username = models.CharField(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="Letters, digits and @/./+/-/_ only. Unique, whatever the case.",
    )
    email = models.EmailField("e-mail", max_length=254, help_text="Unique, whatever the case.")
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    title = models.CharField(max_length=150, blank=True)
    department = models.CharField(max_length=150, blank=True, db_index=True)
    employee_number = models.CharField(max_length=64, blank=True)
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    status = models.CharField(
        max_length=16, choices=UserStatus.choices, default=UserStatus.STAGED, db_index=True
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    is_staff = models.BooleanField(
        "staff status", default=False, help_text="May sign in to the admin site."
    )
    date_joined = models.DateTimeField(default=timezone.now)
    profile = models.JSONField(
        default=dict, blank=True, help_text="Values of the custom profile attributes, by name."
    )
    session_epoch = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="Raised to end every open session of the person (suspension, deprovisioning).",
    )

    objects = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(
                Lower("username"),
                name="directory_user_username_ci_unique",
                violation_error_message="A user with that username already exists.",
            ),
            models.UniqueConstraint(
                Lower("email"),
                name="directory_user_email_ci_unique",
                violation_error_message="A user with that e-mail already exists.",
            ),
            models.UniqueConstraint(
                fields=["employee_number"],
                condition=~Q(employee_number=""),
                name="directory_user_employee_number_unique",
                violation_error_message="A user with that employee number already exists.",
            ),
        ]
        indexes = [
            models.Index(fields=["username"], name="directory_user_username_idx"),
            models.Index(fields=["last_name", "first_name"], name="directory_user_name_idx"),
            models.Index(Lower("last_name"), name="directory_user_lastname_ci"),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def is_active(self) -> bool:  # Django's auth reads this to let people sign in
        return self.status == UserStatus.ACTIVE

    # Sessions hold this hash and die when it changes. Django's hash covers the password only;
    # the session epoch is mixed in too, so the directory can end every session of a person
    # (sessions are not indexed by user). At epoch 0 the hash is Django's own.
    def get_session_auth_hash(self) -> str:
        return self._session_hash(secret=None)

    def get_session_auth_fallback_hash(self):
        for fallback_secret in settings.SECRET_KEY_FALLBACKS:
            yield self._session_hash(secret=fallback_secret)

    def _session_hash(self, *, secret: str | None) -> str:
        value = f"{self.password}:{self.session_epoch}" if self.session_epoch else self.password
        return salted_hmac(
            "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
            value,
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.username

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email)
        if self.manager_id and self.manager_id == self.pk:
            raise ValidationError({"manager": "A person cannot be their own manager."})


class AttributeType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Boolean"
    DATETIME = "datetime", "Date and time"


ATTRIBUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


class ProfileAttribute(models.Model):
    """An admin-defined field of the user profile, such as `isMemberOfGroup` (boolean)."""

    name = models.CharField(
        max_length=64,
        unique=True,
        validators=[
            RegexValidator(
                ATTRIBUTE_NAME,
                "Start with a letter; then letters, digits or underscores (at most 64).",
            )
        ],
        help_text="The key used in flows and the API, e.g. isMemberOfGroup.",
    )
    label = models.CharField(max_length=150)
    type = models.CharField(max_length=16, choices=AttributeType.choices)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.label} ({self.name}: {self.type})"


class GrantSource(models.TextChoices):
    """Why someone holds a group membership or an application assignment."""

    MANUAL = "manual", "Manual"
    REQUEST = "request", "Access request"
    RULE = "rule", "Rule"
    SCIM = "scim", "SCIM"
    FLOW = "flow", "Flow"


class Group(ConstraintErrorsOnFields, models.Model):
    """A directory group; requests and flows grant its membership."""

    constraint_fields = {"directory_group_name_ci_unique": "name"}

    name = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    owners = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="owned_groups"
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="GroupMembership",
        through_fields=("group", "user"),
        related_name="directory_groups",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="directory_group_name_ci_unique",
                violation_error_message="A group with that name already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class TimeBoundGrant(models.Model):
    """What a membership and an assignment share: why it exists and until when."""

    source = models.CharField(
        max_length=16, choices=GrantSource.choices, default=GrantSource.MANUAL
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Removed automatically at this time; empty for no end."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        abstract = True

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class GroupMembership(TimeBoundGrant):
    """One person in one group."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="group_memberships"
    )

    class Meta:
        ordering = ["group__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="directory_membership_unique")
        ]
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=Q(expires_at__isnull=False),
                name="directory_membership_expiry",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.group}"


class Application(ConstraintErrorsOnFields, models.Model):
    """An application people can be assigned to (the CRM, the VPN...)."""

    constraint_fields = {"directory_application_name_ci_unique": "name"}

    name = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    owners = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="owned_applications"
    )
    assignees = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="AppAssignment",
        through_fields=("application", "user"),
        related_name="applications",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="directory_application_name_ci_unique",
                violation_error_message="An application with that name already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class AppAssignment(TimeBoundGrant):
    """One person assigned to one application."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="assignments"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="app_assignments"
    )

    class Meta:
        ordering = ["application__name", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "user"], name="directory_assignment_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=Q(expires_at__isnull=False),
                name="directory_assignment_expiry",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} assigned to {self.application}"


class ApiTokenQuerySet(models.QuerySet):
    def usable(self) -> ApiTokenQuerySet:
        """Tokens that sign API calls in: neither revoked nor expired."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class ApiToken(models.Model):
    """A person's API token. Only its hash is kept; the secret is shown once, when issued."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. CI export.")
    prefix = models.CharField(
        max_length=16, help_text="The first characters of the token, to recognise it."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoke_reason = models.CharField(max_length=32, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="directory_apitoken_user_idx")]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and not self.is_expired

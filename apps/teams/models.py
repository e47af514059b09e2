"""Teams of people who work on requests, and who in a team is available to take the next one."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from apps.core.validation import ConstraintErrorsOnFields


class AssignmentStrategy(models.TextChoices):
    ROUND_ROBIN = "round_robin", "Round robin"
    LEAST_OPEN_WORK = "least_open_work", "Least open work"
    FIXED_MEMBER = "fixed_member", "Fixed member"


class Team(ConstraintErrorsOnFields, models.Model):
    """A group of people that requests are assigned to, one member at a time."""

    constraint_fields = {"teams_team_name_ci_unique": "name"}

    name = models.CharField(max_length=150, help_text="Unique, whatever the case.")
    description = models.TextField(blank=True)
    assignment_strategy = models.CharField(
        max_length=32,
        choices=AssignmentStrategy.choices,
        default=AssignmentStrategy.ROUND_ROBIN,
        help_text=(
            "Round robin: each available member in turn. Least open work: the available member "
            "with the fewest open items. Fixed member: always the fixed member, or round robin "
            "while they are unavailable."
        ),
    )
    fixed_member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Only with the fixed member strategy; must be a member of the team.",
    )
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The member picked last: round robin continues after them.",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMembership", related_name="teams"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="teams_team_name_ci_unique",
                violation_error_message="A team with that name already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class TeamMembership(ConstraintErrorsOnFields, models.Model):
    """One person in one team; an unavailable member (on holiday, say) is skipped by assignment."""

    constraint_fields = {"teams_membership_unique": "user"}

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    is_available = models.BooleanField(
        "available",
        default=True,
        help_text="Unavailable members (on holiday, say) are not assigned new work.",
    )
    joined_at = models.DateTimeField(auto_now_add=True)
    # Breaks ties in least-open-work: the member who waited longest gets the next item.
    last_assigned_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["team", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "user"],
                name="teams_membership_unique",
                violation_error_message="This person is already a member of the team.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"

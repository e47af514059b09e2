"""Configuration lists: admin-maintained choices (Buildings, Cost centres...) for request types."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower

from apps.core.validation import ConstraintErrorsOnFields
from apps.teams.models import Team


class ConfigList(ConstraintErrorsOnFields, models.Model):
    """A named list of choices that the request types of some teams may offer."""

    constraint_fields = {"catalog_configlist_name_ci_unique": "name"}

    name = models.CharField(max_length=150, help_text="Unique, whatever the case.")
    key = models.SlugField(
        max_length=64,
        unique=True,
        validators=[
            RegexValidator(
                r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$",
                "Lowercase letters and digits, separated by single hyphens or underscores.",
            )
        ],
        help_text="The name used in flows and the API, e.g. buildings.",
    )
    description = models.TextField(blank=True)
    teams = models.ManyToManyField(
        Team,
        blank=True,
        related_name="config_lists",
        help_text=(
            "Teams whose request types may use this list. Empty means no team may: "
            "only administrators can use it."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "configuration list"
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="catalog_configlist_name_ci_unique",
                violation_error_message="A configuration list with that name already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ConfigListItem(ConstraintErrorsOnFields, models.Model):
    """One choice of a configuration list; inactive ones stay for old requests, not offered."""

    constraint_fields = {"catalog_item_value_unique": "value"}

    config_list = models.ForeignKey(ConfigList, on_delete=models.CASCADE, related_name="items")
    value = models.CharField(
        max_length=150, help_text="Stored in requests and passed to flows; unique in the list."
    )
    label = models.CharField(
        max_length=150, blank=True, help_text="Shown to people; the value if empty."
    )
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True, help_text="Inactive items are no longer offered.")

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "configuration list item"
        constraints = [
            models.UniqueConstraint(
                fields=["config_list", "value"],
                name="catalog_item_value_unique",
                violation_error_message="This list already has an item with that value.",
            )
        ]

    def __str__(self) -> str:
        return self.label or self.value

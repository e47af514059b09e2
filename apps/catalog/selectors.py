"""Named reads of the catalog."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.catalog.models import ConfigList, ConfigListItem
from apps.teams.models import Team


def config_lists_for_team(team: Team) -> QuerySet[ConfigList]:
    """The configuration lists that `team`'s request types may use, by name."""
    return ConfigList.objects.filter(teams=team).order_by("name")


def active_items(config_list: ConfigList) -> QuerySet[ConfigListItem]:
    """The items of `config_list` that are still offered, in their order."""
    return ConfigListItem.objects.filter(config_list=config_list, active=True).order_by(
        "position", "pk"
    )

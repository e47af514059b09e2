"""Domain verbs of the catalog. Each runs in one transaction and writes one system log event.

Item events are filed under the list (the target), so a list's history shows its items too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from apps.audit.changes import changed_fields, old_and_new
from apps.audit.services import emit
from apps.catalog import events
from apps.catalog.models import ConfigList, ConfigListItem
from apps.directory.models import User
from apps.teams.models import Team

CONFIG_LIST_FIELDS = ("name", "key", "description", "teams")
ITEM_FIELDS = ("value", "label", "position", "active")


def _list_values(config_list: ConfigList) -> dict[str, Any]:
    """The logged values of a list (its teams as sorted ids)."""
    return {
        "name": config_list.name,
        "key": config_list.key,
        "description": config_list.description,
        "teams": sorted(config_list.teams.values_list("pk", flat=True)),
    }


def _item_values(item: ConfigListItem) -> dict[str, Any]:
    """The logged values of an item."""
    return {field: getattr(item, field) for field in ITEM_FIELDS}


def _item_context(item: ConfigListItem, config_list: ConfigList) -> dict[str, Any]:
    """What every item event says besides old and new, so flows can filter on it."""
    return {"item_id": item.pk, "config_list_key": config_list.key}


def _reject_unknown(changes: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = set(changes) - set(allowed)
    if unknown:
        raise ValidationError({name: "Unknown field." for name in sorted(unknown)})


@transaction.atomic
def config_list_create(
    *,
    actor: User | None,
    name: str,
    key: str,
    description: str = "",
    teams: Iterable[Team] = (),
) -> ConfigList:
    """Create a configuration list, usable by the request types of `teams`."""
    config_list = ConfigList(name=name, key=key, description=description)
    config_list.full_clean()
    config_list.save()
    config_list.teams.set(teams)
    emit(
        events.CONFIG_LIST_CREATED,
        actor=actor,
        target=config_list,
        data={"old": None, "new": _list_values(config_list)},
    )
    return config_list


@transaction.atomic
def config_list_update(
    *, config_list: ConfigList, actor: User | None, **changes: Any
) -> ConfigList:
    """Change a list's name, key, description or teams (`teams=` replaces the set)."""
    _reject_unknown(changes, CONFIG_LIST_FIELDS)
    config_list = ConfigList.objects.select_for_update().get(pk=config_list.pk)
    old = _list_values(config_list)
    teams = changes.pop("teams", None)
    new_teams = None if teams is None else list(teams)
    for field, value in changes.items():
        setattr(config_list, field, value)
    new = {field: getattr(config_list, field) for field in ("name", "key", "description")}
    new["teams"] = old["teams"] if new_teams is None else sorted(team.pk for team in new_teams)
    changed = changed_fields(old, new)
    if not changed:
        return config_list
    config_list.full_clean()
    config_list.save()
    if "teams" in changed:
        config_list.teams.set(new_teams)
    emit(
        events.CONFIG_LIST_UPDATED,
        actor=actor,
        target=config_list,
        data=old_and_new(old, new, changed),
    )
    return config_list


@transaction.atomic
def config_list_delete(*, config_list: ConfigList, actor: User | None) -> None:
    """Delete a configuration list and its items."""
    config_list = ConfigList.objects.select_for_update().get(pk=config_list.pk)
    old = _list_values(config_list)
    old["items"] = list(config_list.items.values_list("value", flat=True))
    emit(
        events.CONFIG_LIST_DELETED, actor=actor, target=config_list, data={"old": old, "new": None}
    )
    config_list.delete()


@transaction.atomic
def config_list_add_item(
    *,
    config_list: ConfigList,
    actor: User | None,
    value: str,
    label: str = "",
    position: int | None = None,
    active: bool = True,
) -> ConfigListItem:
    """Add an item; without a position it goes after the last one."""
    # The lock keeps two items added at once from taking the same "last" position.
    config_list = ConfigList.objects.select_for_update().get(pk=config_list.pk)
    if position is None:
        last = config_list.items.aggregate(last=Max("position"))["last"]
        position = 1 if last is None else last + 1
    item = ConfigListItem(
        config_list=config_list, value=value, label=label, position=position, active=active
    )
    item.full_clean()
    item.save()
    emit(
        events.ITEM_ADDED,
        actor=actor,
        target=config_list,
        data={"old": None, "new": _item_values(item), **_item_context(item, config_list)},
    )
    return item


@transaction.atomic
def config_list_update_item(
    *, item: ConfigListItem, actor: User | None, **changes: Any
) -> ConfigListItem:
    """Change an item's value, label, position or active flag."""
    _reject_unknown(changes, ITEM_FIELDS)
    item = ConfigListItem.objects.select_for_update().select_related("config_list").get(pk=item.pk)
    old = _item_values(item)
    for field, value in changes.items():
        setattr(item, field, value)
    new = _item_values(item)
    changed = changed_fields(old, new)
    if not changed:
        return item
    item.full_clean()
    item.save()
    emit(
        events.ITEM_UPDATED,
        actor=actor,
        target=item.config_list,
        data={
            **old_and_new(old, new, changed),
            **_item_context(item, item.config_list),
        },
    )
    return item


@transaction.atomic
def config_list_remove_item(*, item: ConfigListItem, actor: User | None) -> None:
    """Remove an item from its list (to keep it for old requests, make it inactive instead)."""
    item = ConfigListItem.objects.select_for_update().select_related("config_list").get(pk=item.pk)
    emit(
        events.ITEM_REMOVED,
        actor=actor,
        target=item.config_list,
        data={"old": _item_values(item), "new": None, **_item_context(item, item.config_list)},
    )
    item.delete()


@transaction.atomic
def config_list_reorder(
    *, config_list: ConfigList, actor: User | None, values_in_order: Sequence[str]
) -> list[ConfigListItem]:
    """Put every item of the list in the given order of values (positions become 1, 2, 3...)."""
    config_list = ConfigList.objects.select_for_update().get(pk=config_list.pk)
    items = list(config_list.items.order_by("position", "pk"))
    by_value = {item.value: item for item in items}
    if len(values_in_order) != len(set(values_in_order)) or set(values_in_order) != set(by_value):
        raise ValidationError(
            {"values_in_order": "List every value of the list exactly once, in the new order."}
        )
    old_order = [item.value for item in items]
    if old_order == list(values_in_order):
        return items
    reordered = [by_value[value] for value in values_in_order]
    for position, item in enumerate(reordered, start=1):
        item.position = position
    ConfigListItem.objects.bulk_update(reordered, ["position"])
    emit(
        events.ITEMS_REORDERED,
        actor=actor,
        target=config_list,
        data={
            "old": {"order": old_order},
            "new": {"order": list(values_in_order)},
            "config_list_key": config_list.key,
        },
    )
    return reordered

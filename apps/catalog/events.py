"""Event types written by the catalog. Every event's data carries `old` and `new` values."""

from apps.audit.catalogue import register

_CHANGE = {"old": "values before the change (null when created)", "new": "values after it"}
_ITEM = {**_CHANGE, "item_id": "the item", "config_list_key": "the key of its list"}

CONFIG_LIST_CREATED = register(
    "catalog.config_list.created", "A configuration list was created.", _CHANGE
)
CONFIG_LIST_UPDATED = register(
    "catalog.config_list.updated",
    "A configuration list's name, key, description or allowed teams changed.",
    _CHANGE,
)
CONFIG_LIST_DELETED = register(
    "catalog.config_list.deleted", "A configuration list and its items were deleted.", _CHANGE
)
ITEM_ADDED = register(
    "catalog.config_list.item_added", "An item was added to a configuration list.", _ITEM
)
ITEM_UPDATED = register(
    "catalog.config_list.item_updated",
    "An item's value, label, position or active flag changed.",
    _ITEM,
)
ITEM_REMOVED = register(
    "catalog.config_list.item_removed", "An item was removed from a configuration list.", _ITEM
)
ITEMS_REORDERED = register(
    "catalog.config_list.items_reordered",
    "The items of a configuration list were put in a new order.",
    {**_CHANGE, "config_list_key": "the key of the list"},
)

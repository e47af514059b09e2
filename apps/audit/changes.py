"""The `old` / `new` shape every change event carries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Keys of `new` whose value differs from `old`, in `new`'s order."""
    return [field for field in new if new[field] != old.get(field)]


def old_and_new(
    old: Mapping[str, Any], new: Mapping[str, Any], fields: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Event data holding only `fields`, before and after."""
    fields = list(fields)
    return {"old": {f: old.get(f) for f in fields}, "new": {f: new.get(f) for f in fields}}

"""Helpers for admin pages whose writes go through services instead of `obj.save()`."""

from __future__ import annotations

from django.db import models


def copy_saved_fields(target: models.Model, source: models.Model) -> None:
    """Make the admin's unsaved instance mirror the row a service saved, so the admin carries on."""
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db

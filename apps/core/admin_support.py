"""Helpers for admin pages whose writes go through services instead of `obj.save()`."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db import connections, models
from django.utils.functional import cached_property


def copy_saved_fields(target: models.Model, source: models.Model) -> None:
    """Make the admin's unsaved instance mirror the row a service saved, so the admin carries on."""
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db


class LargeTablePaginator(Paginator):
    """The admin's paginator for tables of millions of rows.

    An unfiltered list on PostgreSQL takes its count from the planner's statistics instead of
    counting every row (which costs seconds at a million rows); filtered lists count exactly.
    """

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if (
            isinstance(queryset, models.QuerySet)
            and not queryset.query.where
            and connections[queryset.db].vendor == "postgresql"
        ):
            with connections[queryset.db].cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [queryset.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] > 100_000:
                return int(row[0])
        return super().count

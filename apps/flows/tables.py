"""Rows of flow tables: the small named tables flows keep data in.

Every write goes through one of these functions, each in one transaction. A table that declares
`columns` only takes values for those columns, each converted to the column's type; a table
with no declared columns takes any values. A row is handed out as one object: its `id` and its
values. Row writes are not system log events: tables are a flow's scratch space (counters,
temporary memberships), written far more often than anything worth auditing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models.fields.json import KeyTransform

from apps.flows import types
from apps.flows.models import FlowTable, FlowTableRow

MAX_ROWS_PER_SEARCH = 1000
ROW_ID = "id"  # the key a row's own id has in the object a card sees


def table_by_name(name: str) -> FlowTable:
    """The table called `name`, or ValidationError."""
    table = FlowTable.objects.filter(name=name).first()
    if table is None:
        raise ValidationError({"table": f"No table named '{name}'."})
    return table


def declared_columns(table: FlowTable) -> dict[str, str]:
    """The table's columns and their types (`any` when a column names no type)."""
    columns: dict[str, str] = {}
    for column in table.columns or []:
        if isinstance(column, str):
            columns[column] = types.ANY
        elif isinstance(column, dict) and column.get("name"):
            column_type = column.get("type") or types.ANY
            columns[str(column["name"])] = (
                column_type if column_type in types.ALL_TYPES else types.ANY
            )
    return columns


def row_as_object(row: FlowTableRow) -> dict[str, Any]:
    """The row as a card sees it: its values and its `id`."""
    return {**row.data, ROW_ID: row.pk}


def _checked(table: FlowTable, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` converted to their columns' types, stored form (dates as ISO text)."""
    if not isinstance(values, Mapping):
        raise ValidationError({"values": "Expected an object of column names and values."})
    if ROW_ID in values:
        raise ValidationError({ROW_ID: "'id' is the row's own key, not a column."})
    columns = declared_columns(table)
    if columns:
        unknown = sorted(set(values) - set(columns))
        if unknown:
            raise ValidationError(
                {
                    name: f"Table '{table.name}' has no column '{name}' "
                    f"(columns: {', '.join(columns)})."
                    for name in unknown
                }
            )
    errors: dict[str, str] = {}
    checked: dict[str, Any] = {}
    for name, value in values.items():
        try:
            checked[name] = types.coerce(columns.get(name, types.ANY), value)
        except types.TypeMismatch as error:
            errors[name] = f"Column '{name}': {error}."
    if errors:
        raise ValidationError(errors)
    return json.loads(json.dumps(checked, cls=DjangoJSONEncoder))


def _locked_row(table: FlowTable, row_id: int) -> FlowTableRow:
    row = FlowTableRow.objects.select_for_update().filter(table=table, pk=row_id).first()
    if row is None:
        raise ValidationError({"row_id": f"Table '{table.name}' has no row {row_id}."})
    return row


@transaction.atomic
def row_create(*, table: FlowTable, values: Mapping[str, Any]) -> FlowTableRow:
    """Add a row with `values`."""
    return FlowTableRow.objects.create(table=table, data=_checked(table, values))


@transaction.atomic
def row_update(*, table: FlowTable, row_id: int, values: Mapping[str, Any]) -> FlowTableRow:
    """Merge `values` into the row (other columns keep their values)."""
    changes = _checked(table, values)
    row = _locked_row(table, row_id)
    row.data = {**row.data, **changes}
    row.save(update_fields=["data", "updated_at"])
    return row


@transaction.atomic
def row_delete(*, table: FlowTable, row_id: int) -> bool:
    """Remove the row; False when the table has no such row."""
    deleted, _ = FlowTableRow.objects.filter(table=table, pk=row_id).delete()
    return bool(deleted)


def rows_matching(
    *, table: FlowTable, where: Mapping[str, Any] | None = None, limit: int = 100
) -> list[FlowTableRow]:
    """The table's rows (oldest first) whose columns equal every value of `where`."""
    if not 1 <= limit <= MAX_ROWS_PER_SEARCH:
        raise ValidationError({"limit": f"Give a limit between 1 and {MAX_ROWS_PER_SEARCH}."})
    conditions = _checked(table, where or {})
    rows = FlowTableRow.objects.filter(table=table)
    # Each column through its own annotation, so a column name is only ever a JSON key (a
    # name with "__" in it is not read as a lookup).
    for number, (name, value) in enumerate(conditions.items()):
        alias = f"where_{number}"
        rows = rows.alias(**{alias: KeyTransform(name, "data")}).filter(**{alias: value})
    return list(rows.order_by("id")[:limit])


def table_ensure(*, name: str, description: str = "", columns: list | None = None) -> FlowTable:
    """The table called `name`, created (with these columns) when there is none yet."""
    table = FlowTable.objects.filter(name=name).first()
    if table is not None:
        return table
    table = FlowTable(name=name, description=description, columns=list(columns or []))
    table.full_clean()
    table.save()
    return table

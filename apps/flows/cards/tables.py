"""Table cards: keep rows in the small named tables flows share (apps.flows.tables writes)."""

from __future__ import annotations

from apps.flows import tables
from apps.flows.cards.support import domain_errors_as_card_errors, whole_number
from apps.flows.registry import Field, card
from apps.flows.types import BOOLEAN, LIST, NUMBER, OBJECT, TEXT

CATEGORY = "Tables"
TABLE = Field("table", TEXT, description="the table's name")
ROW_ID = Field("row_id", NUMBER, description="the row's id")


@card(
    "table.create_row",
    "Create row",
    CATEGORY,
    inputs=[TABLE, Field("values", OBJECT, description="column names and values")],
    outputs=[Field("row", OBJECT, description="the new row's values and its id")],
)
def create_row(context, *, table, values):
    """Adds a row to a table; values only for the table's columns, when it declares them."""
    with domain_errors_as_card_errors():
        row = tables.row_create(table=tables.table_by_name(table), values=values)
    return {"row": tables.row_as_object(row)}


@card(
    "table.search_rows",
    "Search rows",
    CATEGORY,
    inputs=[
        TABLE,
        Field("where", OBJECT, required=False, description="column: value, all must be equal"),
        Field(
            "limit",
            NUMBER,
            required=False,
            default=100,
            description=f"at most {tables.MAX_ROWS_PER_SEARCH}",
        ),
    ],
    outputs=[
        Field("rows", LIST, description="the matching rows, oldest first"),
        Field("count", NUMBER),
    ],
    idempotent=True,
)
def search_rows(context, *, table, where, limit):
    """Finds the rows whose columns equal every value given in 'where' (no 'where': all)."""
    with domain_errors_as_card_errors():
        rows = tables.rows_matching(
            table=tables.table_by_name(table),
            where=where or {},
            limit=whole_number("limit", limit if limit is not None else 100),
        )
    found = [tables.row_as_object(row) for row in rows]
    return {"rows": found, "count": len(found)}


@card(
    "table.update_row",
    "Update row",
    CATEGORY,
    inputs=[TABLE, ROW_ID, Field("values", OBJECT, description="the columns to change")],
    outputs=[Field("row", OBJECT, description="the whole row after the change")],
)
def update_row(context, *, table, row_id, values):
    """Changes some columns of a row; the others keep their values."""
    with domain_errors_as_card_errors():
        row = tables.row_update(
            table=tables.table_by_name(table), row_id=whole_number("row_id", row_id), values=values
        )
    return {"row": tables.row_as_object(row)}


@card(
    "table.delete_row",
    "Delete row",
    CATEGORY,
    inputs=[TABLE, ROW_ID],
    outputs=[Field("deleted", BOOLEAN, description="false when there was no such row")],
)
def delete_row(context, *, table, row_id):
    """Removes a row from a table."""
    with domain_errors_as_card_errors():
        deleted = tables.row_delete(
            table=tables.table_by_name(table), row_id=whole_number("row_id", row_id)
        )
    return {"deleted": deleted}

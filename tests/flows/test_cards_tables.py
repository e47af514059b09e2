"""Table cards: rows created, searched, merged and deleted through apps.flows.tables."""

import pytest

from apps.flows.models import FlowTable, FlowTableRow
from tests.flows.cards_helpers import error, outputs, run_flow

pytestmark = pytest.mark.django_db


@pytest.fixture
def grants():
    return FlowTable.objects.create(
        name="Temporary grants",
        columns=[
            {"name": "email", "type": "text"},
            {"name": "group", "type": "text"},
            {"name": "days", "type": "number"},
            {"name": "active", "type": "boolean"},
            {"name": "until", "type": "datetime"},
        ],
    )


@pytest.fixture
def scratch():
    return FlowTable.objects.create(name="Scratch")  # no declared columns: any values


def create(table, **values):
    return outputs("table.create_row", {"table": table, "values": values})["row"]


def test_create_row_converts_values_to_their_column_types(grants):
    row = create(
        "Temporary grants", email="ann@example.com", days="30", active="yes", until="2030-01-31"
    )
    stored = FlowTableRow.objects.get(table=grants)
    assert row == {
        "id": stored.pk,
        "email": "ann@example.com",
        "days": 30,
        "active": True,
        "until": "2030-01-31T00:00:00Z",
    }
    assert stored.data == {k: v for k, v in row.items() if k != "id"}


def test_search_rows_matches_every_condition_oldest_first(grants):
    first = create("Temporary grants", email="ann@example.com", group="VPN", days=7, active=True)
    create("Temporary grants", email="bob@example.com", group="VPN", days=7, active=False)
    third = create("Temporary grants", email="ann@example.com", group="CRM", days=1, active=True)

    found = outputs(
        "table.search_rows",
        {"table": "Temporary grants", "where": {"email": "ann@example.com", "active": "true"}},
    )
    assert found["count"] == 2
    assert [r["id"] for r in found["rows"]] == [first["id"], third["id"]]

    seven = outputs("table.search_rows", {"table": "Temporary grants", "where": {"days": "7"}})
    assert seven["count"] == 2
    everything = outputs("table.search_rows", {"table": "Temporary grants", "limit": 2})
    assert everything["count"] == 2
    none = outputs(
        "table.search_rows", {"table": "Temporary grants", "where": {"group": "Payroll"}}
    )
    assert none == {"rows": [], "count": 0}


def test_search_rows_reads_odd_column_names_as_keys_only(scratch):
    create("Scratch", **{"first name": "Ann", "a__b": 1})
    create("Scratch", **{"first name": "Bob", "a__b": 2})
    found = outputs("table.search_rows", {"table": "Scratch", "where": {"a__b": 2}})
    assert [r["first name"] for r in found["rows"]] == ["Bob"]
    spaced = outputs("table.search_rows", {"table": "Scratch", "where": {"first name": "Ann"}})
    assert spaced["count"] == 1


def test_update_row_merges_values_into_the_row(grants):
    row = create("Temporary grants", email="ann@example.com", days=7, active=True)
    updated = outputs(
        "table.update_row",
        {"table": "Temporary grants", "row_id": row["id"], "values": {"days": 14}},
    )["row"]
    assert updated == {"id": row["id"], "email": "ann@example.com", "days": 14, "active": True}
    assert FlowTableRow.objects.get(pk=row["id"]).data["days"] == 14


def test_delete_row_says_whether_there_was_a_row(grants):
    row = create("Temporary grants", email="ann@example.com")
    delete = {"table": "Temporary grants", "row_id": row["id"]}
    assert outputs("table.delete_row", delete) == {"deleted": True}
    assert not FlowTableRow.objects.exists()
    assert outputs("table.delete_row", delete) == {"deleted": False}


def test_values_for_undeclared_columns_are_refused_naming_them(grants):
    message = error(
        "table.create_row",
        {"table": "Temporary grants", "values": {"email": "a@example.com", "colour": "red"}},
    )
    assert message.startswith("colour: Table 'Temporary grants' has no column 'colour'")
    assert "(columns: email, group, days, active, until)" in message
    assert "no column 'nope'" in error(
        "table.search_rows", {"table": "Temporary grants", "where": {"nope": 1}}
    )
    assert not FlowTableRow.objects.exists()


def test_values_of_the_wrong_type_are_refused_naming_the_column(grants):
    message = error("table.create_row", {"table": "Temporary grants", "values": {"days": "many"}})
    assert message == "days: Column 'days': expected a number, got 'many'."


def test_unknown_tables_rows_and_the_id_key_are_refused(grants):
    assert error("table.create_row", {"table": "Nope", "values": {}}) == (
        "table: No table named 'Nope'."
    )
    assert error(
        "table.update_row", {"table": "Temporary grants", "row_id": 999_999, "values": {}}
    ) == ("row_id: Table 'Temporary grants' has no row 999999.")
    assert "'id' is the row's own key" in error(
        "table.create_row", {"table": "Temporary grants", "values": {"id": 5}}
    )
    assert "between 1 and 1000" in error(
        "table.search_rows", {"table": "Temporary grants", "limit": 5000}
    )


def test_a_flow_counts_in_a_table(scratch):
    """Find-or-create, then update: the usual shape of a counter kept by a flow."""
    cards = [
        {
            "id": "find",
            "card": "table.search_rows",
            "inputs": {"table": "Scratch", "where": {"key": "runs"}},
        },
        {
            "id": "branch",
            "card": "control.if",
            "branches": [
                {
                    "condition": "{{ find.count == 0 }}",
                    "cards": [
                        {
                            "id": "new",
                            "card": "table.create_row",
                            "inputs": {"table": "Scratch", "values": {"key": "runs", "n": 1}},
                        }
                    ],
                }
            ],
            "else": [
                {
                    "id": "bump",
                    "card": "table.update_row",
                    "inputs": {
                        "table": "Scratch",
                        "row_id": "{{ find.rows[0].id }}",
                        "values": {"n": "{{ find.rows[0].n + 1 }}"},
                    },
                }
            ],
        },
    ]
    for _ in range(3):
        run = run_flow(cards)
        assert run.status == "succeeded", run.error
    assert FlowTableRow.objects.get(table=scratch).data == {"key": "runs", "n": 3}

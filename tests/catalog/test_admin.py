"""The configuration list admin writes only through the services, so every change is logged."""

import pytest
from django.urls import reverse

from apps.audit.models import SystemLogEvent
from apps.catalog.models import ConfigList
from tests.factories import ConfigListFactory, ConfigListItemFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def catalog_events():
    return list(SystemLogEvent.objects.filter(event_type__startswith="catalog.").order_by("id"))


def form_data(*, rows=(), initial_rows=0, teams=(), **list_values):
    """POST data for the configuration list form and its item inline."""
    data = {
        "name": "",
        "key": "",
        "description": "",
        "teams": [team.pk for team in teams],
        "items-TOTAL_FORMS": str(len(rows)),
        "items-INITIAL_FORMS": str(initial_rows),
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
        "_save": "Save",
        **list_values,
    }
    for index, row in enumerate(rows):
        for field, value in row.items():
            data[f"items-{index}-{field}"] = value
    return data


def existing_row(item, **changes):
    row = {
        "id": item.pk,
        "config_list": item.config_list_id,
        "value": item.value,
        "label": item.label,
        "position": item.position,
    }
    if item.active:
        row["active"] = "on"
    row.update(changes)
    return row


def test_admin_add_creates_list_teams_and_items_through_services(admin_client, admin_user):
    team = TeamFactory()
    rows = [
        {"value": "hq", "label": "Headquarters", "position": "", "active": "on"},
        {"value": "lab", "label": "", "position": "", "active": "on"},
    ]

    response = admin_client.post(
        reverse("admin:catalog_configlist_add"),
        form_data(name="Buildings", key="buildings", teams=[team], rows=rows),
    )

    assert response.status_code == 302, response.context["errors"]
    config_list = ConfigList.objects.get(key="buildings")
    assert list(config_list.teams.all()) == [team]
    assert list(config_list.items.values_list("value", "position")) == [("hq", 1), ("lab", 2)]
    events = catalog_events()
    assert [event.event_type for event in events] == [
        "catalog.config_list.created",
        "catalog.config_list.item_added",
        "catalog.config_list.item_added",
    ]
    assert events[0].data["new"]["teams"] == [team.pk]  # teams are in the one created event
    assert {event.actor_id for event in events} == {admin_user.pk}


def test_admin_change_updates_list_and_items_through_services(admin_client):
    old_team, new_team = TeamFactory(), TeamFactory()
    config_list = ConfigListFactory(name="Buildings", key="buildings")
    config_list.teams.set([old_team])
    removed = ConfigListItemFactory(config_list=config_list, value="hq", position=1)
    renamed = ConfigListItemFactory(config_list=config_list, value="lab", position=2)
    rows = [
        existing_row(removed, DELETE="on"),
        existing_row(renamed, value="hq"),  # takes the value of the removed item
        {"value": "depot", "label": "", "position": "", "active": "on"},
    ]

    response = admin_client.post(
        reverse("admin:catalog_configlist_change", args=[config_list.pk]),
        form_data(name="Sites", key="buildings", teams=[new_team], rows=rows, initial_rows=2),
    )

    assert response.status_code == 302, response.context["errors"]
    config_list.refresh_from_db()
    assert config_list.name == "Sites"
    assert list(config_list.teams.all()) == [new_team]
    assert list(config_list.items.values_list("value", "position")) == [("hq", 2), ("depot", 3)]
    assert [event.event_type for event in catalog_events()] == [
        "catalog.config_list.updated",
        "catalog.config_list.item_removed",
        "catalog.config_list.item_updated",
        "catalog.config_list.item_added",
    ]


def test_admin_save_without_changes_writes_no_event(admin_client):
    team = TeamFactory()
    config_list = ConfigListFactory(name="Buildings", key="buildings")
    config_list.teams.set([team])
    item = ConfigListItemFactory(config_list=config_list, value="hq", position=1)

    response = admin_client.post(
        reverse("admin:catalog_configlist_change", args=[config_list.pk]),
        form_data(
            name="Buildings",
            key="buildings",
            teams=[team],
            rows=[existing_row(item)],
            initial_rows=1,
        ),
    )

    assert response.status_code == 302, response.context["errors"]
    assert catalog_events() == []


def test_admin_refuses_a_repeated_item_value(admin_client):
    rows = [{"value": "hq", "position": "", "active": "on"}] * 2

    response = admin_client.post(
        reverse("admin:catalog_configlist_add"),
        form_data(name="Buildings", key="buildings", rows=rows),
    )

    assert response.status_code == 200
    assert not ConfigList.objects.exists()
    assert catalog_events() == []


def test_admin_delete_goes_through_the_service(admin_client):
    config_list = ConfigListFactory()
    ConfigListItemFactory(config_list=config_list)

    response = admin_client.post(
        reverse("admin:catalog_configlist_delete", args=[config_list.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not ConfigList.objects.exists()
    assert [event.event_type for event in catalog_events()] == ["catalog.config_list.deleted"]


def test_admin_pages_render(admin_client):
    config_list = ConfigListFactory()
    ConfigListItemFactory(config_list=config_list)
    config_list.teams.set([TeamFactory()])

    assert admin_client.get(reverse("admin:catalog_configlist_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:catalog_configlist_add")).status_code == 200
    change_url = reverse("admin:catalog_configlist_change", args=[config_list.pk])
    assert admin_client.get(change_url).status_code == 200


def test_admin_reports_a_taken_name_on_the_name_field(admin_client):
    ConfigListFactory(name="Buildings")

    response = admin_client.post(
        reverse("admin:catalog_configlist_add"), form_data(name="BUILDINGS", key="sites")
    )

    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    assert catalog_events() == []

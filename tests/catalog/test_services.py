"""Services of the catalog: one transaction, one event per real change, nothing on error."""

import pytest
from django.core.exceptions import ValidationError

from apps.audit.models import SystemLogEvent
from apps.catalog import services
from apps.catalog.models import ConfigList, ConfigListItem
from tests.factories import ConfigListFactory, ConfigListItemFactory, TeamFactory

pytestmark = pytest.mark.django_db


def catalog_events():
    return list(SystemLogEvent.objects.filter(event_type__startswith="catalog.").order_by("id"))


def values_in_order(config_list):
    return list(config_list.items.order_by("position", "pk").values_list("value", flat=True))


SERVICE_CALLS = {
    "catalog.config_list.created": lambda actor, config_list, item: services.config_list_create(
        actor=actor, name="Buildings", key="buildings"
    ),
    "catalog.config_list.updated": lambda actor, config_list, item: services.config_list_update(
        config_list=config_list, actor=actor, description="Where badges open doors"
    ),
    "catalog.config_list.deleted": lambda actor, config_list, item: services.config_list_delete(
        config_list=config_list, actor=actor
    ),
    "catalog.config_list.item_added": (
        lambda actor, config_list, item: services.config_list_add_item(
            config_list=config_list, actor=actor, value="hq"
        )
    ),
    "catalog.config_list.item_updated": (
        lambda actor, config_list, item: services.config_list_update_item(
            item=item, actor=actor, label="Headquarters"
        )
    ),
    "catalog.config_list.item_removed": (
        lambda actor, config_list, item: services.config_list_remove_item(item=item, actor=actor)
    ),
    "catalog.config_list.items_reordered": (
        lambda actor, config_list, item: services.config_list_reorder(
            config_list=config_list, actor=actor, values_in_order=["b", "a"]
        )
    ),
}


@pytest.mark.parametrize("event_type", SERVICE_CALLS)
def test_every_service_writes_one_event_with_old_and_new(event_type, admin_user):
    config_list = ConfigListFactory()
    item = ConfigListItemFactory(config_list=config_list, value="a")
    ConfigListItemFactory(config_list=config_list, value="b")

    SERVICE_CALLS[event_type](admin_user, config_list, item)

    [event] = catalog_events()
    assert event.event_type == event_type
    assert "old" in event.data and "new" in event.data
    assert event.actor == admin_user


def test_config_list_create_logs_its_teams():
    teams = TeamFactory.create_batch(2)

    config_list = services.config_list_create(
        actor=None, name="Buildings", key="buildings", teams=teams
    )

    assert set(config_list.teams.all()) == set(teams)
    [event] = catalog_events()
    assert event.data == {
        "old": None,
        "new": {
            "name": "Buildings",
            "key": "buildings",
            "description": "",
            "teams": sorted(team.pk for team in teams),
        },
    }


def test_config_list_update_replaces_teams_and_logs_only_changed_fields():
    old_team, new_team = TeamFactory(), TeamFactory()
    config_list = ConfigListFactory(name="Buildings")
    config_list.teams.set([old_team])

    services.config_list_update(
        config_list=config_list, actor=None, name="Buildings", teams=[new_team]
    )

    assert list(config_list.teams.all()) == [new_team]
    [event] = catalog_events()
    assert event.data == {"old": {"teams": [old_team.pk]}, "new": {"teams": [new_team.pk]}}


def test_config_list_delete_logs_its_items():
    config_list = ConfigListFactory()
    ConfigListItemFactory(config_list=config_list, value="hq")

    services.config_list_delete(config_list=config_list, actor=None)

    assert not ConfigList.objects.exists()
    assert not ConfigListItem.objects.exists()
    assert catalog_events()[0].data["old"]["items"] == ["hq"]


def test_new_item_goes_after_the_last_by_default():
    config_list = ConfigListFactory()
    first = services.config_list_add_item(config_list=config_list, actor=None, value="hq")
    ConfigListItemFactory(config_list=config_list, value="lab", position=7)

    added = services.config_list_add_item(config_list=config_list, actor=None, value="depot")

    assert first.position == 1
    assert added.position == 8
    assert values_in_order(config_list) == ["hq", "lab", "depot"]


def test_item_events_are_filed_under_the_list():
    config_list = ConfigListFactory(key="buildings")

    item = services.config_list_add_item(
        config_list=config_list, actor=None, value="hq", label="Headquarters"
    )

    [event] = catalog_events()
    assert event.target_type == "catalog.configlist"
    assert event.target_id == str(config_list.pk)
    assert event.data == {
        "old": None,
        "new": {"value": "hq", "label": "Headquarters", "position": 1, "active": True},
        "item_id": item.pk,
        "config_list_key": "buildings",
    }


def test_item_update_logs_only_the_changed_fields():
    item = ConfigListItemFactory(value="hq", active=True)

    services.config_list_update_item(item=item, actor=None, value="hq", active=False)

    item.refresh_from_db()
    assert item.active is False
    assert catalog_events()[0].data["old"] == {"active": True}
    assert catalog_events()[0].data["new"] == {"active": False}


def test_reorder_numbers_positions_in_the_given_order():
    config_list = ConfigListFactory()
    for value in ["a", "b", "c"]:
        ConfigListItemFactory(config_list=config_list, value=value)

    services.config_list_reorder(
        config_list=config_list, actor=None, values_in_order=["c", "a", "b"]
    )

    assert list(config_list.items.order_by("position").values_list("value", "position")) == [
        ("c", 1),
        ("a", 2),
        ("b", 3),
    ]
    [event] = catalog_events()
    assert event.data["old"] == {"order": ["a", "b", "c"]}
    assert event.data["new"] == {"order": ["c", "a", "b"]}


@pytest.mark.parametrize(
    "no_op",
    [
        lambda config_list, item: services.config_list_update(
            config_list=config_list, actor=None, name=config_list.name, teams=[]
        ),
        lambda config_list, item: services.config_list_update_item(
            item=item, actor=None, value=item.value
        ),
        lambda config_list, item: services.config_list_reorder(
            config_list=config_list, actor=None, values_in_order=["a", "b"]
        ),
    ],
    ids=["update-same-values", "update-item-same-values", "reorder-same-order"],
)
def test_no_op_writes_no_event(no_op):
    config_list = ConfigListFactory()
    item = ConfigListItemFactory(config_list=config_list, value="a")
    ConfigListItemFactory(config_list=config_list, value="b")

    no_op(config_list, item)

    assert catalog_events() == []


INVALID_CALLS = {
    "name-taken-whatever-the-case": (
        "name",
        lambda config_list, item: services.config_list_create(
            actor=None, name="BUILDINGS", key="other"
        ),
    ),
    "key-taken": (
        "key",
        lambda config_list, item: services.config_list_create(
            actor=None, name="Sites", key="buildings"
        ),
    ),
    "key-not-lowercase-slug": (
        "key",
        lambda config_list, item: services.config_list_update(
            config_list=config_list, actor=None, key="Buildings!"
        ),
    ),
    "unknown-list-field": (
        "colour",
        lambda config_list, item: services.config_list_update(
            config_list=config_list, actor=None, colour="red"
        ),
    ),
    "item-value-taken": (
        "value",
        lambda config_list, item: services.config_list_add_item(
            config_list=config_list, actor=None, value="hq"
        ),
    ),
    "item-value-blank": (
        "value",
        lambda config_list, item: services.config_list_add_item(
            config_list=config_list, actor=None, value=""
        ),
    ),
    "item-renamed-to-taken-value": (
        "value",
        lambda config_list, item: services.config_list_update_item(
            item=item, actor=None, value="lab"
        ),
    ),
    "reorder-missing-value": (
        "values_in_order",
        lambda config_list, item: services.config_list_reorder(
            config_list=config_list, actor=None, values_in_order=["lab"]
        ),
    ),
    "reorder-repeated-value": (
        "values_in_order",
        lambda config_list, item: services.config_list_reorder(
            config_list=config_list, actor=None, values_in_order=["lab", "hq", "lab"]
        ),
    ),
    "reorder-unknown-value": (
        "values_in_order",
        lambda config_list, item: services.config_list_reorder(
            config_list=config_list, actor=None, values_in_order=["lab", "mars"]
        ),
    ),
}


@pytest.mark.parametrize("case", INVALID_CALLS)
def test_invalid_input_writes_nothing(case):
    field, call = INVALID_CALLS[case]
    config_list = ConfigListFactory(name="Buildings", key="buildings")
    item = ConfigListItemFactory(config_list=config_list, value="hq", position=1)
    ConfigListItemFactory(config_list=config_list, value="lab", position=2)

    with pytest.raises(ValidationError) as raised:
        call(config_list, item)

    assert field in raised.value.message_dict
    assert catalog_events() == []
    assert list(ConfigList.objects.values_list("name", "key")) == [("Buildings", "buildings")]
    assert list(ConfigListItem.objects.values_list("value", "position")) == [("hq", 1), ("lab", 2)]

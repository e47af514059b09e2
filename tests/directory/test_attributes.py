"""Custom profile attributes: typed values, refused bad values, and changes to definitions."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_datetime

from apps.directory import services
from apps.directory.models import ProfileAttribute, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DEFINITIONS = [
    ("costCentre", "Cost centre", "text"),
    ("badgeNumber", "Badge number", "number"),
    ("isContractor", "Contractor", "boolean"),
    ("contractEnds", "Contract ends", "datetime"),
]


@pytest.fixture
def attributes(actor):
    return {
        name: services.profile_attribute_create(actor=actor, name=name, label=label, type=type_)
        for name, label, type_ in DEFINITIONS
    }


@pytest.fixture
def person(attributes):
    return UserFactory(title="Engineer", profile={"costCentre": "CC-1", "badgeNumber": 7})


def stored_profile(user: User) -> dict:
    return User.objects.values_list("profile", flat=True).get(pk=user.pk)


@pytest.mark.parametrize(("name", "label", "type_"), DEFINITIONS)
def test_defining_an_attribute_logs_its_definition(name, label, type_, actor, system_log):
    attribute = services.profile_attribute_create(
        actor=actor, name=name, label=label, type=type_, description="Shown in flows."
    )

    event = system_log.one()
    assert event.event_type == "directory.profile_attribute.created"
    assert event.target_type == "directory.profileattribute"
    assert event.target_id == str(attribute.pk)
    assert event.actor == actor
    assert event.data == {
        "old": None,
        "new": {"name": name, "label": label, "type": type_, "description": "Shown in flows."},
    }


@pytest.mark.parametrize("name", ["title", "manager", "1stDay", "has space", "is_active"])
def test_attribute_name_must_be_new_and_well_formed(name, actor, system_log):
    with pytest.raises(ValidationError) as refused:
        services.profile_attribute_create(actor=actor, name=name, label="X", type="text")

    assert "name" in refused.value.message_dict
    assert not ProfileAttribute.objects.filter(name=name).exists()
    assert system_log.new() == []


@pytest.mark.parametrize(
    ("name", "raw", "stored"),
    [
        ("costCentre", "CC-9", "CC-9"),
        ("costCentre", 1234, "1234"),
        ("badgeNumber", "42", 42),
        ("badgeNumber", 42, 42),
        ("badgeNumber", " 1e3 ", 1000),
        ("badgeNumber", "3.5", 3.5),
        ("isContractor", "yes", True),
        ("isContractor", "OFF", False),
        ("isContractor", True, True),
        ("contractEnds", "2026-03-01T09:00:00Z", "2026-03-01T09:00:00+00:00"),
        ("contractEnds", "2026-03-01T09:00:00+01:00", "2026-03-01T09:00:00+01:00"),
        ("contractEnds", "2026-03-01T09:00:00", "2026-03-01T09:00:00+00:00"),  # TIME_ZONE
        (
            "contractEnds",
            dt.datetime(2026, 3, 1, 9, tzinfo=ZoneInfo("Europe/Zurich")),
            "2026-03-01T09:00:00+01:00",
        ),
    ],
)
def test_good_value_is_stored_as_typed_json(name, raw, stored, person, actor):
    services.user_update_profile(user=person, actor=actor, changes={name: raw})

    value = stored_profile(person)[name]
    assert value == stored
    assert type(value) is type(stored)  # a number stays a number, a boolean a bool


def test_stored_datetime_is_iso_8601_with_a_time_zone(person, actor):
    services.user_update_profile(
        user=person, actor=actor, changes={"contractEnds": "2026-03-01T09:00:00Z"}
    )

    moment = parse_datetime(stored_profile(person)["contractEnds"])
    assert moment == dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
    assert moment.tzinfo is not None


def test_good_values_are_logged_with_old_and_new(person, actor, system_log):
    services.user_update_profile(
        user=person,
        actor=actor,
        changes={"title": "Lead", "badgeNumber": "8", "isContractor": "true"},
    )

    event = system_log.one()
    assert event.event_type == "directory.user.profile_updated"
    assert event.data["old"] == {"title": "Engineer", "badgeNumber": 7, "isContractor": None}
    assert event.data["new"] == {"title": "Lead", "badgeNumber": 8, "isContractor": True}
    assert event.data["fields"] == ["badgeNumber", "isContractor", "title"]


def test_empty_value_clears_an_attribute(person, actor, system_log):
    services.user_update_profile(user=person, actor=actor, changes={"badgeNumber": ""})

    assert "badgeNumber" not in stored_profile(person)
    assert system_log.one().data == {
        "old": {"badgeNumber": 7},
        "new": {"badgeNumber": None},
        "fields": ["badgeNumber"],
    }


GOOD_CHANGES = {"costCentre": "CC-2", "badgeNumber": 99, "isContractor": True}


@pytest.mark.parametrize(
    ("name", "bad", "message"),
    [
        ("badgeNumber", "abc", "Badge number: Expected a number, got 'abc'."),
        ("badgeNumber", "NaN", "Badge number: Expected a finite number."),
        ("badgeNumber", True, "Badge number: Expected a number."),
        ("isContractor", "maybe", "Contractor: Expected true or false, got 'maybe'."),
        ("contractEnds", "not a date", "Contract ends: Expected a date and time in ISO 8601"),
        ("contractEnds", "2026-02-30T09:00:00Z", "Contract ends: Expected a date and time"),
        ("costCentre", ["CC-1"], "Cost centre: Expected text."),
        ("nickname", "Al", "Unknown profile field or attribute."),
    ],
)
def test_bad_value_is_refused_by_name_and_nothing_is_written(
    name, bad, message, person, actor, system_log
):
    before = stored_profile(person)
    changes = {
        "title": "Lead",
        **{key: value for key, value in GOOD_CHANGES.items() if key != name},
        name: bad,
    }

    with pytest.raises(ValidationError) as refused:
        services.user_update_profile(user=person, actor=actor, changes=changes)

    assert list(refused.value.message_dict) == [name]
    assert refused.value.message_dict[name][0].startswith(message)
    person.refresh_from_db()
    assert person.title == "Engineer"
    assert stored_profile(person) == before
    assert system_log.new() == []


def test_every_bad_value_of_one_change_is_named(person, actor):
    with pytest.raises(ValidationError) as refused:
        services.user_update_profile(
            user=person, actor=actor, changes={"badgeNumber": "abc", "isContractor": "maybe"}
        )

    assert set(refused.value.message_dict) == {"badgeNumber", "isContractor"}


def test_bad_value_is_refused_when_creating_a_person(attributes, actor, system_log):
    with pytest.raises(ValidationError) as refused:
        services.user_create(
            actor=actor, username="bob", email="bob@example.com", profile={"badgeNumber": "x"}
        )

    assert "badgeNumber" in refused.value.message_dict
    assert not User.objects.filter(username="bob").exists()
    assert system_log.new() == []


def test_changing_the_type_of_an_attribute_with_values_is_refused(
    attributes, person, actor, system_log
):
    with pytest.raises(ValidationError) as refused:
        services.profile_attribute_update(
            attribute=attributes["badgeNumber"], actor=actor, type="text"
        )

    assert refused.value.message_dict["type"] == [
        "1 people have a value for badgeNumber: its type is fixed."
    ]
    assert ProfileAttribute.objects.get(name="badgeNumber").type == "number"
    assert system_log.new() == []


def test_renaming_an_attribute_with_values_is_refused(attributes, person, actor, system_log):
    with pytest.raises(ValidationError) as refused:
        services.profile_attribute_update(
            attribute=attributes["badgeNumber"], actor=actor, name="badge"
        )

    assert "name" in refused.value.message_dict
    assert ProfileAttribute.objects.filter(name="badgeNumber").exists()
    assert system_log.new() == []


def test_type_of_an_attribute_without_values_may_change(attributes, person, actor, system_log):
    attribute = services.profile_attribute_update(
        attribute=attributes["contractEnds"], actor=actor, type="text", label="Contract end"
    )

    assert attribute.type == "text"
    event = system_log.one()
    assert event.event_type == "directory.profile_attribute.updated"
    assert event.target_id == str(attribute.pk)
    assert event.data == {
        "old": {"label": "Contract ends", "type": "datetime"},
        "new": {"label": "Contract end", "type": "text"},
    }


def test_updating_an_attribute_with_the_same_values_logs_nothing(attributes, actor, system_log):
    services.profile_attribute_update(
        attribute=attributes["costCentre"], actor=actor, label="Cost centre", type="text"
    )

    assert system_log.new() == []


def test_deleting_an_attribute_clears_its_values_and_logs_one_event(
    attributes, person, actor, system_log
):
    other = UserFactory(profile={"badgeNumber": 12, "isContractor": True})
    bystander = UserFactory(profile={"costCentre": "CC-3"})
    attribute = attributes["badgeNumber"]
    system_log.mark()

    cleared = services.profile_attribute_delete(attribute=attribute, actor=actor)

    assert cleared == 2
    assert stored_profile(person) == {"costCentre": "CC-1"}
    assert stored_profile(other) == {"isContractor": True}
    assert stored_profile(bystander) == {"costCentre": "CC-3"}
    assert not ProfileAttribute.objects.filter(name="badgeNumber").exists()
    event = system_log.one()
    assert event.event_type == "directory.profile_attribute.deleted"
    assert event.target_id == str(attribute.pk)
    assert event.actor == actor
    assert event.data == {
        "old": {
            "name": "badgeNumber",
            "label": "Badge number",
            "type": "number",
            "description": "",
        },
        "new": None,
        "values_cleared": 2,
    }

"""Directory services: each change writes exactly one system log event with old and new values."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group as PermissionGroup
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.directory import services
from apps.directory.models import (
    AppAssignment,
    Application,
    Group,
    GroupMembership,
    User,
    UserStatus,
)
from tests.factories import ApplicationFactory, GroupFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Brand-new-Passphrase-42"


# --- People ---------------------------------------------------------------------------------


def test_user_create_logs_created_event_with_the_new_values(actor, system_log):
    manager = UserFactory()
    system_log.mark()

    user = services.user_create(
        actor=actor,
        username="alice",
        email="alice@Example.COM",
        password=NEW_PASSWORD,
        first_name="Alice",
        title="Engineer",
        manager=manager,
    )

    assert user.status == UserStatus.ACTIVE
    assert user.check_password(NEW_PASSWORD)
    event = system_log.one()
    assert event.event_type == "directory.user.created"
    assert (event.target_type, event.target_id) == ("directory.user", str(user.pk))
    assert event.actor == actor
    assert event.data == {
        "old": None,
        "new": {
            "username": "alice",
            "email": "alice@example.com",
            "first_name": "Alice",
            "last_name": "",
            "title": "Engineer",
            "department": "",
            "employee_number": "",
            "manager": manager.pk,
            "status": "active",
            "is_staff": False,
            "is_superuser": False,
            "profile": {},
        },
    }
    assert NEW_PASSWORD not in json.dumps(event.data)
    assert user.password not in json.dumps(event.data)


def test_user_create_without_activation_stages_the_person(actor):
    user = services.user_create(
        actor=actor, username="bob", email="bob@example.com", activate=False
    )

    assert user.status == UserStatus.STAGED
    assert not user.has_usable_password()


def test_create_user_through_the_manager_is_logged_too(system_log):
    user = User.objects.create_superuser("root", "root@example.com", NEW_PASSWORD)

    event = system_log.one()
    assert event.event_type == "directory.user.created"
    assert event.actor is None
    assert event.actor_display == "system"
    assert event.data["new"]["is_superuser"] is True
    assert user.is_staff


def test_user_create_refuses_an_unknown_field(actor, system_log):
    with pytest.raises(ValidationError) as refused:
        services.user_create(actor=actor, username="bob", email="bob@example.com", shoe_size=44)

    assert "shoe_size" in refused.value.message_dict
    assert not User.objects.filter(username="bob").exists()
    assert system_log.new() == []


@pytest.mark.parametrize(
    ("username", "email", "fields"),
    [
        ("ALICE", "other@example.com", {"username"}),
        ("other", "ALICE@EXAMPLE.COM", {"email"}),
        ("Alice", "Alice@example.com", {"username", "email"}),
    ],
)
def test_username_and_email_are_unique_whatever_the_case(
    username, email, fields, actor, system_log
):
    UserFactory(username="alice", email="alice@example.com")
    system_log.mark()

    with pytest.raises(ValidationError) as refused:
        services.user_create(actor=actor, username=username, email=email)

    assert set(refused.value.message_dict) == fields
    for field in fields:
        assert "already exists" in refused.value.message_dict[field][0]
    assert User.objects.filter(username__iexact="other").count() == 0
    assert User.objects.filter(username__iexact="alice").count() == 1
    assert system_log.new() == []


def test_changing_email_to_one_taken_whatever_the_case_is_refused(actor, system_log):
    UserFactory(username="alice", email="alice@example.com")
    bob = UserFactory(username="bob", email="bob@example.com")
    system_log.mark()

    with pytest.raises(ValidationError) as refused:
        services.user_update_profile(
            user=bob, actor=actor, changes={"email": "Alice@Example.com", "title": "CTO"}
        )

    assert list(refused.value.message_dict) == ["email"]

    bob.refresh_from_db()
    assert (bob.email, bob.title) == ("bob@example.com", "")
    assert system_log.new() == []


def test_logged_new_email_is_the_address_that_was_stored(actor, system_log):
    bob = UserFactory(username="bob", email="bob@example.com")
    system_log.mark()

    services.user_update_profile(user=bob, actor=actor, changes={"email": "Bob.New@EXAMPLE.com"})

    bob.refresh_from_db()
    assert bob.email == "Bob.New@example.com"  # the domain is normalised, as on creation
    assert system_log.one().data["new"] == {"email": bob.email}


def test_email_differing_only_in_the_case_of_its_domain_is_no_change(actor, system_log):
    bob = UserFactory(username="bob", email="bob@example.com")
    system_log.mark()

    services.user_update_profile(user=bob, actor=actor, changes={"email": "bob@EXAMPLE.com"})

    bob.refresh_from_db()
    assert bob.email == "bob@example.com"
    assert system_log.new() == []


def test_user_update_profile_logs_only_the_changed_fields(actor, system_log):
    manager = UserFactory()
    user = UserFactory(title="Engineer", department="R&D", manager=None)
    system_log.mark()

    updated = services.user_update_profile(
        user=user,
        actor=actor,
        changes={"title": "Lead", "department": "R&D", "manager": manager.pk},
    )

    assert (updated.title, updated.manager) == ("Lead", manager)
    user.refresh_from_db()
    assert (user.title, user.manager_id) == ("Lead", manager.pk)
    event = system_log.one()
    assert event.event_type == "directory.user.profile_updated"
    assert (event.target_type, event.target_id) == ("directory.user", str(user.pk))
    assert event.actor == actor
    assert event.data == {
        "old": {"title": "Engineer", "manager": None},
        "new": {"title": "Lead", "manager": manager.pk},
        "fields": ["manager", "title"],
    }


def test_user_update_profile_with_the_same_values_logs_nothing(actor, system_log):
    manager = UserFactory()
    user = UserFactory(title="Engineer", manager=manager)
    system_log.mark()

    services.user_update_profile(
        user=user, actor=actor, changes={"title": "Engineer", "manager": manager}
    )

    assert system_log.new() == []


@pytest.mark.parametrize("field", ["status", "is_superuser", "password", "profile"])
def test_status_rights_and_password_cannot_be_changed_as_profile_fields(field, actor, system_log):
    user = UserFactory()
    before = User.objects.values().get(pk=user.pk)

    with pytest.raises(ValidationError) as refused:
        services.user_update_profile(user=user, actor=actor, changes={field: "x"})

    assert list(refused.value.message_dict) == [field]
    assert User.objects.values().get(pk=user.pk) == before
    assert system_log.new() == []


def test_manager_must_exist(actor, system_log):
    user = UserFactory()

    with pytest.raises(ValidationError) as refused:
        services.user_update_profile(user=user, actor=actor, changes={"manager": 999_999})

    assert "manager" in refused.value.message_dict
    assert system_log.new() == []


@pytest.mark.parametrize("depth", [0, 1, 2], ids=["self", "direct report", "report of report"])
def test_reporting_loop_is_refused_on_manager(depth, actor, system_log):
    boss = UserFactory(title="Boss")
    chain = [boss]
    for _ in range(depth):
        chain.append(UserFactory(manager=chain[-1]))
    system_log.mark()

    with pytest.raises(ValidationError) as refused:
        services.user_update_profile(
            user=boss, actor=actor, changes={"manager": chain[-1], "title": "CEO"}
        )

    assert list(refused.value.message_dict) == ["manager"]
    assert "loop" in refused.value.message_dict["manager"][0]
    boss.refresh_from_db()
    assert (boss.manager_id, boss.title) == (None, "Boss")
    assert system_log.new() == []


def test_a_manager_outside_the_reporting_line_is_accepted(actor):
    boss = UserFactory()
    report = UserFactory(manager=boss)
    peer = UserFactory(manager=boss)

    services.user_update_profile(user=report, actor=actor, changes={"manager": peer})

    report.refresh_from_db()
    assert report.manager == peer


def test_user_set_password_logs_the_change_but_never_the_password(actor, system_log):
    user = UserFactory()
    system_log.mark()

    services.user_set_password(user=user, actor=actor, raw_password=NEW_PASSWORD)

    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    event = system_log.one()
    assert event.event_type == "directory.user.password_changed"
    assert (event.target_type, event.target_id) == ("directory.user", str(user.pk))
    assert event.actor == actor
    assert event.data == {"old": {"usable": True}, "new": {"usable": True}, "usable": True}
    logged = json.dumps(event.data) + event.message
    assert NEW_PASSWORD not in logged
    assert user.password not in logged


def test_user_set_password_to_none_makes_it_unusable(actor, system_log):
    user = UserFactory()
    system_log.mark()

    services.user_set_password(user=user, actor=actor, raw_password=None)

    user.refresh_from_db()
    assert not user.has_usable_password()
    assert system_log.one().data == {
        "old": {"usable": True},
        "new": {"usable": False},
        "usable": False,
    }


def test_user_set_admin_rights_logs_old_and_new_rights(actor, system_log):
    user = UserFactory()
    helpdesk = PermissionGroup.objects.create(name="Helpdesk")
    permission = Permission.objects.get(content_type__app_label="directory", codename="view_user")
    system_log.mark()

    services.user_set_admin_rights(
        user=user,
        actor=actor,
        is_staff=True,
        is_superuser=False,
        permission_groups=[helpdesk],
        permissions=[permission],
    )

    user.refresh_from_db()
    assert user.is_staff
    assert list(user.groups.all()) == [helpdesk]
    event = system_log.one()
    assert event.event_type == "directory.user.admin_rights_changed"
    assert event.target_id == str(user.pk)
    assert event.actor == actor
    assert event.data == {
        "old": {"is_staff": False, "permission_groups": [], "permissions": []},
        "new": {
            "is_staff": True,
            "permission_groups": ["Helpdesk"],
            "permissions": ["directory.view_user"],
        },
    }


def test_user_set_admin_rights_with_the_same_rights_logs_nothing(actor, system_log):
    user = UserFactory(is_staff=True)
    system_log.mark()

    services.user_set_admin_rights(user=user, actor=actor, is_staff=True, is_superuser=False)

    assert system_log.new() == []


# --- Groups and applications ----------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """The services and event names of groups or of applications, to test both the same way."""

    name: str
    model: type
    grant_model: type
    grant_key: str
    target_type: str
    create: Callable
    update: Callable
    delete: Callable
    grant: Callable
    update_grant: Callable
    revoke: Callable
    factory: Callable
    events: dict[str, str]

    def __str__(self) -> str:
        return self.name


GROUPS = Kind(
    name="group",
    model=Group,
    grant_model=GroupMembership,
    grant_key="membership",
    target_type="directory.group",
    create=services.group_create,
    update=services.group_update,
    delete=services.group_delete,
    grant=services.group_add_member,
    update_grant=services.group_update_membership,
    revoke=services.group_remove_member,
    factory=GroupFactory,
    events={
        "created": "directory.group.created",
        "updated": "directory.group.updated",
        "deleted": "directory.group.deleted",
        "granted": "directory.user.added_to_group",
        "grant_updated": "directory.user.group_membership_updated",
        "revoked": "directory.user.removed_from_group",
    },
)
APPLICATIONS = Kind(
    name="application",
    model=Application,
    grant_model=AppAssignment,
    grant_key="assignment",
    target_type="directory.application",
    create=services.application_create,
    update=services.application_update,
    delete=services.application_delete,
    grant=services.application_assign,
    update_grant=services.application_update_assignment,
    revoke=services.application_unassign,
    factory=ApplicationFactory,
    events={
        "created": "directory.application.created",
        "updated": "directory.application.updated",
        "deleted": "directory.application.deleted",
        "granted": "directory.user.assigned_to_application",
        "grant_updated": "directory.user.application_assignment_updated",
        "revoked": "directory.user.unassigned_from_application",
    },
)
KINDS = pytest.mark.parametrize("kind", [GROUPS, APPLICATIONS], ids=str)


def in_days(days: int) -> dt.datetime:
    return (timezone.now() + dt.timedelta(days=days)).replace(microsecond=0)


@KINDS
def test_create_logs_the_new_values(kind, actor, system_log):
    owner = UserFactory()
    system_log.mark()

    resource = kind.create(actor=actor, name="VPN", description="Remote access", owners=[owner])

    assert list(resource.owners.all()) == [owner]
    event = system_log.one()
    assert event.event_type == kind.events["created"]
    assert (event.target_type, event.target_id) == (kind.target_type, str(resource.pk))
    assert event.actor == actor
    assert event.data == {
        "old": None,
        "new": {"name": "VPN", "description": "Remote access", "owners": [owner.pk]},
    }


@KINDS
def test_name_is_unique_whatever_the_case(kind, actor, system_log):
    kind.factory(name="VPN")
    system_log.mark()

    with pytest.raises(ValidationError) as refused:
        kind.create(actor=actor, name="vpn")

    assert "already exists" in refused.value.message_dict["name"][0]
    assert kind.model.objects.count() == 1
    assert system_log.new() == []


@KINDS
def test_update_logs_only_the_changed_values(kind, actor, system_log):
    first, second = UserFactory(), UserFactory()
    resource = kind.factory(name="VPN", description="Remote access")
    resource.owners.set([first])
    system_log.mark()

    kind.update(**{kind.name: resource}, actor=actor, name="VPN EU", owners=[second, first])

    resource.refresh_from_db()
    assert resource.name == "VPN EU"
    event = system_log.one()
    assert event.event_type == kind.events["updated"]
    assert (event.target_type, event.target_id) == (kind.target_type, str(resource.pk))
    assert event.actor == actor
    assert event.data == {
        "old": {"name": "VPN", "owners": [first.pk]},
        "new": {"name": "VPN EU", "owners": sorted([first.pk, second.pk])},
    }


@KINDS
def test_update_with_the_same_values_logs_nothing(kind, actor, system_log):
    owner = UserFactory()
    resource = kind.factory(name="VPN", description="Remote access")
    resource.owners.set([owner])
    system_log.mark()

    kind.update(
        **{kind.name: resource},
        actor=actor,
        name="VPN",
        description="Remote access",
        owners=[owner],
    )

    assert system_log.new() == []


@KINDS
def test_delete_logs_the_old_values_and_how_many_held_it(kind, actor, system_log):
    resource = kind.factory(name="VPN")
    for person in (UserFactory(), UserFactory()):
        kind.grant_model.objects.create(**{kind.name: resource}, user=person)
    system_log.mark()

    kind.delete(**{kind.name: resource}, actor=actor)

    assert not kind.model.objects.filter(pk=resource.pk).exists()
    assert kind.grant_model.objects.count() == 0
    event = system_log.one()
    assert event.event_type == kind.events["deleted"]
    assert (event.target_type, event.target_id) == (kind.target_type, str(resource.pk))
    assert event.actor == actor
    assert event.data == {
        "old": {"name": "VPN", "description": "", "owners": [], "holders": 2},
        "new": None,
    }


@KINDS
def test_grant_logs_the_new_grant_against_the_person(kind, actor, system_log):
    resource, person = kind.factory(name="VPN"), UserFactory()
    ends = in_days(30)
    system_log.mark()

    grant = kind.grant(
        **{kind.name: resource}, user=person, actor=actor, source="request", expires_at=ends
    )

    assert (grant.source, grant.expires_at, grant.added_by) == ("request", ends, actor)
    event = system_log.one()
    assert event.event_type == kind.events["granted"]
    assert (event.target_type, event.target_id) == ("directory.user", str(person.pk))
    assert event.actor == actor
    assert event.data == {
        "old": None,
        "new": {"source": "request", "expires_at": ends.isoformat()},
        f"{kind.name}_id": resource.pk,
        f"{kind.name}_name": "VPN",
    }


@KINDS
def test_granting_again_with_the_same_values_logs_nothing(kind, actor, system_log):
    resource, person = kind.factory(), UserFactory()
    kind.grant_model.objects.create(**{kind.name: resource}, user=person)
    system_log.mark()

    kind.grant(**{kind.name: resource}, user=person, actor=actor)

    assert kind.grant_model.objects.count() == 1
    assert system_log.new() == []


@KINDS
def test_granting_again_with_new_values_updates_the_grant(kind, actor, system_log):
    resource, person = kind.factory(), UserFactory()
    kind.grant_model.objects.create(**{kind.name: resource}, user=person)
    ends = in_days(7)
    system_log.mark()

    kind.grant(**{kind.name: resource}, user=person, actor=actor, expires_at=ends)

    assert kind.grant_model.objects.get().expires_at == ends
    event = system_log.one()
    assert event.event_type == kind.events["grant_updated"]
    assert event.data["old"] == {"source": "manual", "expires_at": None}
    assert event.data["new"] == {"source": "manual", "expires_at": ends.isoformat()}


@KINDS
@pytest.mark.parametrize(
    ("source", "days", "field"), [("manual", -1, "expires_at"), ("whim", 1, "source")]
)
def test_grant_refuses_an_end_in_the_past_or_an_unknown_source(
    kind, source, days, field, actor, system_log
):
    resource, person = kind.factory(), UserFactory()

    with pytest.raises(ValidationError) as refused:
        kind.grant(
            **{kind.name: resource},
            user=person,
            actor=actor,
            source=source,
            expires_at=in_days(days),
        )

    assert field in refused.value.message_dict
    assert kind.grant_model.objects.count() == 0
    assert system_log.new() == []


@KINDS
def test_update_grant_logs_old_and_new_source_and_end(kind, actor, system_log):
    resource, person = kind.factory(name="VPN"), UserFactory()
    ends = in_days(3)
    grant = kind.grant_model.objects.create(**{kind.name: resource}, user=person, expires_at=ends)
    system_log.mark()

    kind.update_grant(**{kind.grant_key: grant}, actor=actor, source="rule", expires_at=None)

    grant.refresh_from_db()
    assert (grant.source, grant.expires_at) == ("rule", None)
    event = system_log.one()
    assert event.event_type == kind.events["grant_updated"]
    assert (event.target_type, event.target_id) == ("directory.user", str(person.pk))
    assert event.actor == actor
    assert event.data == {
        "old": {"source": "manual", "expires_at": ends.isoformat()},
        "new": {"source": "rule", "expires_at": None},
        f"{kind.name}_id": resource.pk,
        f"{kind.name}_name": "VPN",
    }


@KINDS
@pytest.mark.parametrize(
    ("source", "days", "field"), [("whim", 3, "source"), ("manual", -1, "expires_at")]
)
def test_update_grant_refuses_an_unknown_source_or_a_past_end(
    kind, source, days, field, actor, system_log
):
    grant = kind.grant_model.objects.create(**{kind.name: kind.factory()}, user=UserFactory())
    system_log.mark()

    with pytest.raises(ValidationError) as refused:
        kind.update_grant(
            **{kind.grant_key: grant}, actor=actor, source=source, expires_at=in_days(days)
        )

    assert field in refused.value.message_dict
    grant.refresh_from_db()
    assert (grant.source, grant.expires_at) == ("manual", None)
    assert system_log.new() == []


@KINDS
def test_update_grant_with_the_same_values_logs_nothing(kind, actor, system_log):
    ends = in_days(3)
    grant = kind.grant_model.objects.create(
        **{kind.name: kind.factory()}, user=UserFactory(), expires_at=ends
    )
    system_log.mark()

    kind.update_grant(**{kind.grant_key: grant}, actor=actor, source="manual", expires_at=ends)

    assert system_log.new() == []


@KINDS
def test_update_grant_with_the_same_end_in_another_time_zone_logs_nothing(kind, actor, system_log):
    ends = in_days(3)
    grant = kind.grant_model.objects.create(
        **{kind.name: kind.factory()}, user=UserFactory(), expires_at=ends
    )
    system_log.mark()

    kind.update_grant(
        **{kind.grant_key: grant},
        actor=actor,
        source="manual",
        expires_at=ends.astimezone(ZoneInfo("Europe/Zurich")),  # the same instant
    )

    assert system_log.new() == []


@KINDS
def test_revoke_logs_the_old_grant_and_the_reason(kind, actor, system_log):
    resource, person = kind.factory(name="VPN"), UserFactory()
    kind.grant_model.objects.create(**{kind.name: resource}, user=person, source="request")
    system_log.mark()

    removed = kind.revoke(**{kind.name: resource}, user=person, actor=actor)

    assert removed is True
    assert kind.grant_model.objects.count() == 0
    event = system_log.one()
    assert event.event_type == kind.events["revoked"]
    assert (event.target_type, event.target_id) == ("directory.user", str(person.pk))
    assert event.actor == actor
    assert event.data == {
        "old": {"source": "request", "expires_at": None},
        "new": None,
        "reason": "removed",
        f"{kind.name}_id": resource.pk,
        f"{kind.name}_name": "VPN",
    }


@KINDS
def test_revoking_from_someone_who_does_not_hold_it_logs_nothing(kind, actor, system_log):
    resource, person = kind.factory(), UserFactory()

    assert kind.revoke(**{kind.name: resource}, user=person, actor=actor) is False
    assert system_log.new() == []


# --- Only a superuser changes a superuser -----------------------------------------------------


def _editor() -> User:
    """Staff holding every directory permission, but no superuser."""
    editor = UserFactory(is_staff=True)
    editor.user_permissions.set(Permission.objects.filter(content_type__app_label="directory"))
    return editor


SUPERUSER_CHANGES = {
    "profile": lambda user, actor: services.user_update_profile(
        user=user, actor=actor, changes={"last_name": "Renamed"}
    ),
    "suspend": lambda user, actor: services.user_suspend(user=user, actor=actor),
    "deactivate": lambda user, actor: services.user_deactivate(user=user, actor=actor),
    "password": lambda user, actor: services.user_set_password(
        user=user, actor=actor, raw_password=NEW_PASSWORD
    ),
    "admin rights": lambda user, actor: services.user_set_admin_rights(
        user=user, actor=actor, is_staff=True, is_superuser=False
    ),
}


@pytest.mark.parametrize("change", SUPERUSER_CHANGES)
@pytest.mark.parametrize("who", ["staff with every permission", "the system (a flow)"])
def test_nobody_but_a_superuser_changes_a_superuser(change, who, system_log):
    root = UserFactory(is_staff=True, is_superuser=True, last_name="Root")
    actor = _editor() if who.startswith("staff") else None
    system_log.mark()

    with pytest.raises(PermissionDenied, match="Only a superuser may change a superuser"):
        SUPERUSER_CHANGES[change](root, actor)

    root.refresh_from_db()
    assert (root.last_name, root.status, root.is_superuser) == ("Root", UserStatus.ACTIVE, True)
    assert root.check_password("pass-word-123")
    assert system_log.new() == []


@pytest.mark.parametrize("change", SUPERUSER_CHANGES)
def test_a_superuser_changes_a_superuser(change, system_log):
    root = UserFactory(is_staff=True, is_superuser=True)
    other_root = UserFactory(is_staff=True, is_superuser=True)
    system_log.mark()

    SUPERUSER_CHANGES[change](root, other_root)

    assert len(system_log.new()) == 1


def test_only_a_superuser_makes_someone_a_superuser(system_log):
    editor, person = _editor(), UserFactory()
    system_log.mark()

    with pytest.raises(PermissionDenied, match="Only a superuser may make someone a superuser"):
        services.user_set_admin_rights(user=person, actor=editor, is_staff=True, is_superuser=True)

    person.refresh_from_db()
    assert (person.is_staff, person.is_superuser) == (False, False)
    assert system_log.new() == []
    root = UserFactory(is_staff=True, is_superuser=True)
    services.user_set_admin_rights(user=person, actor=root, is_staff=True, is_superuser=True)
    person.refresh_from_db()
    assert person.is_superuser


def test_staff_change_ordinary_people(system_log):
    person = UserFactory()
    services.user_update_profile(user=person, actor=_editor(), changes={"title": "Clerk"})
    services.user_suspend(user=person, actor=None)
    person.refresh_from_db()
    assert (person.title, person.status) == ("Clerk", UserStatus.SUSPENDED)


def test_staff_grant_only_the_permissions_they_hold(system_log):
    editor, person = _editor(), UserFactory()
    cancel = Permission.objects.get(codename="change_accessrequest")
    admins = PermissionGroup.objects.create(name="Request admins")
    admins.permissions.add(cancel)
    view_user = Permission.objects.get(codename="view_user")
    system_log.mark()

    for rights in ({"permissions": [view_user, cancel]}, {"permission_groups": [admins]}):
        with pytest.raises(PermissionDenied, match=r"access_requests\.change_accessrequest"):
            services.user_set_admin_rights(
                user=person, actor=editor, is_staff=True, is_superuser=False, **rights
            )
    assert system_log.new() == []
    assert not person.user_permissions.exists()

    services.user_set_admin_rights(
        user=person, actor=editor, is_staff=True, is_superuser=False, permissions=[view_user]
    )
    assert list(person.user_permissions.all()) == [view_user]
    # What the person already holds may stay, whoever saves the page.
    root = UserFactory(is_superuser=True, is_staff=True)
    services.user_set_admin_rights(
        user=person, actor=root, is_staff=True, is_superuser=False, permissions=[view_user, cancel]
    )
    services.user_set_admin_rights(
        user=person,
        actor=editor,
        is_staff=False,
        is_superuser=False,
        permissions=[view_user, cancel],
    )
    person.refresh_from_db()
    assert person.is_staff is False and person.user_permissions.count() == 2

"""Permission groups (django.contrib.auth) and a person's admin rights: every admin change is
logged once, with the old and new values and the actor."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group as PermissionGroup
from django.contrib.auth.models import Permission

from tests.directory.test_admin import change_form_data, user_url
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GROUPS = "/admin/auth/group/"


def _permission(code: str) -> Permission:
    app_label, codename = code.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@pytest.fixture
def helpdesk(db):
    group = PermissionGroup.objects.create(name="Helpdesk")
    group.permissions.add(_permission("directory.view_user"))
    return group


def test_creating_a_permission_group_is_logged_once(admin_client, admin_user, system_log):
    response = admin_client.post(
        f"{GROUPS}add/",
        {
            "name": "Auditors",
            "permissions": [
                _permission("audit.view_systemlogevent").pk,
                _permission("directory.view_user").pk,
            ],
        },
    )

    assert response.status_code == 302
    group = PermissionGroup.objects.get(name="Auditors")
    assert group.permissions.count() == 2
    event = system_log.one()
    assert event.event_type == "directory.permission_group.created"
    assert event.actor == admin_user
    assert (event.target_type, event.target_id) == ("auth.group", str(group.pk))
    assert event.data == {
        "old": None,
        "new": {
            "name": "Auditors",
            "permissions": ["audit.view_systemlogevent", "directory.view_user"],
        },
    }


def test_changing_a_permission_groups_permissions_is_logged_once_with_old_and_new(
    admin_client, admin_user, helpdesk, system_log
):
    response = admin_client.post(
        f"{GROUPS}{helpdesk.pk}/change/",
        {
            "name": "Helpdesk",
            "permissions": [
                _permission("directory.view_user").pk,
                _permission("directory.change_user").pk,
            ],
        },
    )

    assert response.status_code == 302
    event = system_log.one()
    assert event.event_type == "directory.permission_group.updated"
    assert event.actor == admin_user
    assert event.data == {
        "old": {"permissions": ["directory.view_user"]},
        "new": {"permissions": ["directory.change_user", "directory.view_user"]},
    }


def test_renaming_a_permission_group_is_logged(admin_client, helpdesk, system_log):
    admin_client.post(
        f"{GROUPS}{helpdesk.pk}/change/",
        {"name": "Service desk", "permissions": [_permission("directory.view_user").pk]},
    )

    event = system_log.one()
    assert event.data == {"old": {"name": "Helpdesk"}, "new": {"name": "Service desk"}}


def test_saving_a_permission_group_unchanged_writes_nothing(admin_client, helpdesk, system_log):
    admin_client.post(
        f"{GROUPS}{helpdesk.pk}/change/",
        {"name": "Helpdesk", "permissions": [_permission("directory.view_user").pk]},
    )

    assert system_log.new() == []


def test_deleting_a_permission_group_is_logged_with_who_lost_it(
    admin_client, admin_user, helpdesk, system_log
):
    member = UserFactory(username="hank")
    member.groups.add(helpdesk)

    response = admin_client.post(f"{GROUPS}{helpdesk.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not PermissionGroup.objects.filter(pk=helpdesk.pk).exists()
    event = system_log.one()
    assert event.event_type == "directory.permission_group.deleted"
    assert event.actor == admin_user
    assert event.data == {
        "old": {"name": "Helpdesk", "permissions": ["directory.view_user"], "members": ["hank"]},
        "new": None,
    }


def test_a_persons_groups_permissions_and_superuser_flag_in_one_save_are_one_event(
    admin_client, admin_user, helpdesk, system_log
):
    person = UserFactory(username="pat")
    data = change_form_data(admin_client.get(user_url(person)))
    data["is_superuser"] = "on"
    data["groups"] = [str(helpdesk.pk)]
    data["user_permissions"] = [str(_permission("audit.view_systemlogevent").pk)]

    response = admin_client.post(user_url(person), data)

    assert response.status_code == 302
    event = system_log.one()
    assert event.event_type == "directory.user.admin_rights_changed"
    assert event.actor == admin_user
    assert event.data == {
        "old": {"is_superuser": False, "permission_groups": [], "permissions": []},
        "new": {
            "is_superuser": True,
            "permission_groups": ["Helpdesk"],
            "permissions": ["audit.view_systemlogevent"],
        },
    }

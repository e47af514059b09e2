"""The directory admin: every save, action and inline goes through the services and is logged."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.contrib.auth.models import Permission
from django.contrib.messages import constants as message_levels
from django.db import connection
from django.forms import CheckboxInput, SplitDateTimeWidget
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.directory.models import (
    AppAssignment,
    GroupMembership,
    ProfileAttribute,
    User,
    UserStatus,
)
from tests.directory.conftest import PASSWORD
from tests.factories import ApplicationFactory, GroupFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Correct-Horse-Battery-9"
USERS = "/admin/directory/user/"


def user_url(user: User, page: str = "change") -> str:
    return f"{USERS}{user.pk}/{page}/"


def form_post_data(form) -> dict:
    """What a browser would send back for `form` as rendered, untouched."""
    data: dict = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        bound = form[name]
        value = bound.value()
        widget = field.widget
        if isinstance(widget, RelatedFieldWidgetWrapper):
            widget = widget.widget
        if isinstance(widget, CheckboxInput):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(widget, SplitDateTimeWidget):
            for index, part in enumerate(widget.decompress(value)):
                data[f"{bound.html_name}_{index}"] = "" if part is None else str(part)
        elif isinstance(value, list | tuple):
            data[bound.html_name] = [str(item) for item in value]
        else:
            data[bound.html_name] = "" if value is None else str(value)
    return data


def change_form_data(response) -> dict:
    """The POST data of an admin change page as rendered: the form and every inline formset."""
    data = form_post_data(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        data.update(form_post_data(inline.formset.management_form))
        for form in inline.formset.forms:
            data.update(form_post_data(form))
    return data


def empty_inlines() -> dict:
    data = {}
    for prefix in ("group_memberships", "app_assignments"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    return data


def messages_of(response) -> list[tuple[int, str]]:
    return [(message.level, message.message) for message in response.context["messages"]]


@pytest.fixture
def admin_client(client, admin_user, system_log):
    """A client signed in as the superuser; the sign-in event is left out of `system_log`."""
    client.force_login(admin_user)
    system_log.mark()
    return client


# --- Adding and changing people -------------------------------------------------------------


def test_adding_a_user_goes_through_the_service(admin_client, admin_user, system_log):
    response = admin_client.post(
        f"{USERS}add/",
        {
            "username": "carol",
            "email": "carol@example.com",
            "first_name": "Carol",
            "last_name": "Jones",
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            **empty_inlines(),
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    carol = User.objects.get(username="carol")
    assert carol.status == UserStatus.ACTIVE
    assert carol.check_password(NEW_PASSWORD)
    event = system_log.one()
    assert event.event_type == "directory.user.created"
    assert event.target_id == str(carol.pk)
    assert event.actor == admin_user
    assert event.data["new"]["email"] == "carol@example.com"
    assert NEW_PASSWORD not in json.dumps(event.data)


def test_adding_a_user_with_a_membership_logs_both(admin_client, admin_user, system_log):
    group = GroupFactory(name="Finance")
    data = {
        "username": "dave",
        "email": "dave@example.com",
        "usable_password": "false",
        **empty_inlines(),
        "group_memberships-TOTAL_FORMS": "1",
        "group_memberships-0-group": str(group.pk),
        "group_memberships-0-source": "manual",
        "group_memberships-0-expires_at_0": "",
        "group_memberships-0-expires_at_1": "",
    }

    response = admin_client.post(f"{USERS}add/", data)

    assert response.status_code == 302
    dave = User.objects.get(username="dave")
    assert not dave.has_usable_password()
    assert GroupMembership.objects.filter(group=group, user=dave).exists()
    assert [event.event_type for event in system_log.new()] == [
        "directory.user.created",
        "directory.user.added_to_group",
    ]


def test_adding_a_user_with_an_email_taken_whatever_the_case_is_refused(admin_client, system_log):
    UserFactory(username="carol", email="carol@example.com")
    response = admin_client.post(
        f"{USERS}add/",
        {
            "username": "carol2",
            "email": "CAROL@example.com",
            "usable_password": "false",
            **empty_inlines(),
        },
    )

    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    assert not User.objects.filter(username="carol2").exists()
    assert system_log.new() == []


@pytest.fixture
def person(db):
    ProfileAttribute.objects.create(name="badgeNumber", label="Badge number", type="number")
    ProfileAttribute.objects.create(name="costCentre", label="Cost centre", type="text")
    return UserFactory(title="Engineer", profile={"badgeNumber": 7})


def test_changing_title_and_custom_attribute_writes_one_profile_updated_event(
    admin_client, admin_user, person, system_log
):
    data = change_form_data(admin_client.get(user_url(person)))
    data |= {"title": "Lead", "attribute__badgeNumber": "8", "attribute__costCentre": "CC-4"}

    response = admin_client.post(user_url(person), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    person.refresh_from_db()
    assert person.title == "Lead"
    assert person.profile == {"badgeNumber": 8, "costCentre": "CC-4"}
    event = system_log.one()
    assert event.event_type == "directory.user.profile_updated"
    assert event.target_id == str(person.pk)
    assert event.actor == admin_user
    assert event.data["old"] == {"title": "Engineer", "badgeNumber": 7, "costCentre": None}
    assert event.data["new"] == {"title": "Lead", "badgeNumber": 8, "costCentre": "CC-4"}


def test_saving_the_change_page_unchanged_writes_nothing(admin_client, person, system_log):
    data = change_form_data(admin_client.get(user_url(person)))

    response = admin_client.post(user_url(person), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert system_log.new() == []


def test_manager_loop_is_refused_on_the_change_page(admin_client, person, system_log):
    report = UserFactory(manager=person)
    data = change_form_data(admin_client.get(user_url(person)))
    data["manager"] = str(report.pk)

    response = admin_client.post(user_url(person), data)

    assert response.status_code == 200
    assert "manager" in response.context["adminform"].form.errors
    assert system_log.new() == []


def test_granting_admin_rights_on_the_change_page_is_logged(
    admin_client, admin_user, person, system_log
):
    data = change_form_data(admin_client.get(user_url(person)))
    data["is_staff"] = "on"

    admin_client.post(user_url(person), data)

    event = system_log.one()
    assert event.event_type == "directory.user.admin_rights_changed"
    assert event.actor == admin_user
    assert event.data == {"old": {"is_staff": False}, "new": {"is_staff": True}}


# --- Memberships through the user page ------------------------------------------------------


def test_adding_a_membership_inline_writes_added_to_group(
    admin_client, admin_user, person, system_log
):
    group = GroupFactory(name="Finance")
    data = change_form_data(admin_client.get(user_url(person)))
    data |= {
        "group_memberships-TOTAL_FORMS": "1",
        "group_memberships-0-id": "",
        "group_memberships-0-user": str(person.pk),
        "group_memberships-0-group": str(group.pk),
        "group_memberships-0-source": "manual",
        "group_memberships-0-expires_at_0": "2099-01-31",
        "group_memberships-0-expires_at_1": "09:00:00",
    }

    response = admin_client.post(user_url(person), data)

    assert response.status_code == 302
    membership = GroupMembership.objects.get(group=group, user=person)
    assert membership.added_by == admin_user
    event = system_log.one()
    assert event.event_type == "directory.user.added_to_group"
    assert event.target_id == str(person.pk)
    assert event.actor == admin_user
    assert event.data["group_id"] == group.pk
    assert event.data["new"] == {"source": "manual", "expires_at": "2099-01-31T09:00:00+00:00"}


def test_membership_ending_in_the_past_is_refused_inline(admin_client, person, system_log):
    group = GroupFactory()
    data = change_form_data(admin_client.get(user_url(person)))
    data |= {
        "group_memberships-TOTAL_FORMS": "1",
        "group_memberships-0-user": str(person.pk),
        "group_memberships-0-group": str(group.pk),
        "group_memberships-0-source": "manual",
        "group_memberships-0-expires_at_0": "2001-01-31",
        "group_memberships-0-expires_at_1": "09:00:00",
    }

    response = admin_client.post(user_url(person), data)

    assert response.status_code == 200
    assert not GroupMembership.objects.exists()
    assert system_log.new() == []


def test_removing_a_membership_inline_writes_removed_from_group(
    admin_client, admin_user, person, system_log
):
    group = GroupFactory()
    GroupMembership.objects.create(group=group, user=person)
    data = change_form_data(admin_client.get(user_url(person)))
    data["group_memberships-0-DELETE"] = "on"

    admin_client.post(user_url(person), data)

    assert not GroupMembership.objects.exists()
    event = system_log.one()
    assert event.event_type == "directory.user.removed_from_group"
    assert event.actor == admin_user
    assert event.data["reason"] == "removed"


# --- Lifecycle actions ----------------------------------------------------------------------


def run_action(client, action: str, users: list[User]):
    return client.post(
        USERS,
        {"action": action, "_selected_action": [str(u.pk) for u in users], "index": "0"},
        follow=True,
    )


def test_suspend_action_suspends_through_the_service(admin_client, admin_user, system_log):
    first, second = UserFactory(), UserFactory()

    response = run_action(admin_client, "suspend_users", [first, second])

    assert response.status_code == 200
    for person in (first, second):
        person.refresh_from_db()
        assert person.status == UserStatus.SUSPENDED
    events = system_log.new()
    assert [event.event_type for event in events] == ["directory.user.suspended"] * 2
    assert {event.actor for event in events} == {admin_user}
    successes = [text for level, text in messages_of(response) if level == message_levels.SUCCESS]
    assert len(successes) == 1
    assert "2 user(s)" in successes[0]


def test_illegal_action_shows_a_warning_instead_of_failing(admin_client, system_log):
    active = UserFactory()
    staged = UserFactory(status=UserStatus.STAGED)

    response = run_action(admin_client, "suspend_users", [active, staged])

    assert response.status_code == 200
    active.refresh_from_db()
    staged.refresh_from_db()
    assert (active.status, staged.status) == (UserStatus.SUSPENDED, UserStatus.STAGED)
    assert len(system_log.new()) == 1
    warnings = [text for level, text in messages_of(response) if level == message_levels.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"Cannot suspend user {staged.username}: it is staged")


# --- What the admin does not allow ----------------------------------------------------------


def test_deleting_a_person_is_not_offered(admin_client, person):
    assert admin_client.get(user_url(person, "delete")).status_code == 403
    assert admin_client.post(user_url(person, "delete"), {"post": "yes"}).status_code == 403
    actions = dict(admin_client.get(USERS).context["action_form"].fields["action"].choices)
    assert "delete_selected" not in actions
    assert User.objects.filter(pk=person.pk).exists()


# --- Superusers: only a superuser changes one ----------------------------------------------


@pytest.fixture
def editor_client(client, system_log):
    """Staff holding every directory permission, but no superuser."""
    editor = UserFactory(is_staff=True)
    editor.user_permissions.set(Permission.objects.filter(content_type__app_label="directory"))
    client.force_login(editor)
    system_log.mark()
    return client


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True, last_name="Root")


def test_a_superusers_page_opens_read_only_for_other_staff(editor_client, root, system_log):
    page = editor_client.get(user_url(root))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False

    data = {"username": "root", "email": root.email, "last_name": "Renamed", **empty_inlines()}
    assert editor_client.post(user_url(root), data).status_code == 403
    password = {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    assert editor_client.post(user_url(root, "password"), password).status_code == 403

    root.refresh_from_db()
    assert root.last_name == "Root" and root.check_password(PASSWORD)
    assert system_log.new() == []


def test_a_lifecycle_action_leaves_superusers_alone_for_other_staff(editor_client, root):
    person = UserFactory()

    response = run_action(editor_client, "suspend_users", [person, root])

    person.refresh_from_db()
    root.refresh_from_db()
    assert (person.status, root.status) == (UserStatus.SUSPENDED, UserStatus.ACTIVE)
    warnings = [text for level, text in messages_of(response) if level == message_levels.WARNING]
    assert warnings == ["root: Only a superuser may change a superuser."]


def test_the_superuser_box_is_read_only_for_other_staff(editor_client, admin_user, person):
    editor_form = editor_client.get(user_url(person)).context["adminform"].form
    assert "is_superuser" not in editor_form.fields and "is_staff" in editor_form.fields
    root_client = Client()
    root_client.force_login(admin_user)
    assert "is_superuser" in root_client.get(user_url(person)).context["adminform"].form.fields


def test_a_person_page_opens_read_only_with_the_view_permission(client, person):
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_user"))
    client.force_login(viewer)
    page = client.get(user_url(person))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False


def test_staff_hand_on_only_the_permissions_they_hold(editor_client, person, system_log):
    data = change_form_data(editor_client.get(user_url(person)))
    held = Permission.objects.get(codename="view_user")
    lacking = Permission.objects.get(codename="change_accessrequest")
    data["user_permissions"] = [str(held.pk), str(lacking.pk)]

    response = editor_client.post(user_url(person), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "You may only grant permissions you hold yourself; not "
        "access_requests.change_accessrequest."
    ]
    assert not person.user_permissions.exists() and system_log.new() == []
    data["user_permissions"] = [str(held.pk)]
    assert editor_client.post(user_url(person), data).status_code == 302
    assert list(person.user_permissions.all()) == [held]


# --- Passwords ------------------------------------------------------------------------------


def test_changing_a_password_in_the_admin_is_logged_with_the_admin_as_actor(
    admin_client, admin_user, person, system_log
):
    response = admin_client.post(
        user_url(person, "password"),
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    person.refresh_from_db()
    assert person.check_password(NEW_PASSWORD)
    event = system_log.one()
    assert event.event_type == "directory.user.password_changed"
    assert event.target_id == str(person.pk)
    assert event.actor == admin_user
    assert NEW_PASSWORD not in json.dumps(event.data)


def test_admin_who_changes_their_own_password_stays_signed_in(admin_client, admin_user):
    response = admin_client.post(
        user_url(admin_user, "password"),
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302

    assert admin_client.get("/admin/").status_code == 200
    admin_user.refresh_from_db()
    assert admin_user.check_password(NEW_PASSWORD)
    assert not admin_user.check_password(PASSWORD)


# --- Groups and grants pages ----------------------------------------------------------------


def test_adding_a_group_in_the_admin_goes_through_the_service(admin_client, admin_user, system_log):
    owner = UserFactory()

    response = admin_client.post(
        "/admin/directory/group/add/",
        {"name": "Finance", "description": "Money", "owners": [str(owner.pk)]},
    )

    assert response.status_code == 302
    event = system_log.one()
    assert event.event_type == "directory.group.created"
    assert event.actor == admin_user
    assert event.data["new"] == {"name": "Finance", "description": "Money", "owners": [owner.pk]}


def test_adding_a_membership_on_its_own_page_goes_through_the_service(
    admin_client, admin_user, person, system_log
):
    group = GroupFactory()

    response = admin_client.post(
        "/admin/directory/groupmembership/add/",
        {
            "group": str(group.pk),
            "user": str(person.pk),
            "source": "request",
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )

    assert response.status_code == 302
    event = system_log.one()
    assert event.event_type == "directory.user.added_to_group"
    assert event.actor == admin_user
    assert event.data["new"] == {"source": "request", "expires_at": None}


def test_deleting_memberships_from_their_list_logs_each_removal(
    admin_client, admin_user, system_log
):
    group = GroupFactory()
    memberships = [
        GroupMembership.objects.create(group=group, user=UserFactory()) for _ in range(2)
    ]

    response = admin_client.post(
        "/admin/directory/groupmembership/",
        {
            "action": "delete_selected",
            "_selected_action": [str(m.pk) for m in memberships],
            "index": "0",
            "post": "yes",
        },
    )

    assert response.status_code == 302
    assert not GroupMembership.objects.exists()
    events = system_log.new()
    assert [event.event_type for event in events] == ["directory.user.removed_from_group"] * 2
    assert {event.actor for event in events} == {admin_user}


def _users(count: int, admin_user: User) -> None:
    manager = UserFactory()
    UserFactory.create_batch(count, manager=manager, department="Ops")


def _groups(count: int, admin_user: User) -> None:
    for group in GroupFactory.create_batch(count):
        GroupMembership.objects.create(group=group, user=admin_user)


def _applications(count: int, admin_user: User) -> None:
    for application in ApplicationFactory.create_batch(count):
        AppAssignment.objects.create(application=application, user=admin_user)


def _memberships(count: int, admin_user: User) -> None:
    groups = GroupFactory.create_batch(3)
    for index, person in enumerate(UserFactory.create_batch(count)):
        GroupMembership.objects.create(
            group=groups[index % 3], user=person, added_by=admin_user, source="request"
        )


def _assignments(count: int, admin_user: User) -> None:
    applications = ApplicationFactory.create_batch(3)
    for index, person in enumerate(UserFactory.create_batch(count)):
        AppAssignment.objects.create(
            application=applications[index % 3], user=person, added_by=admin_user
        )


@pytest.mark.parametrize(
    ("url", "make_rows"),
    [
        (USERS, _users),
        ("/admin/directory/group/", _groups),
        ("/admin/directory/application/", _applications),
        ("/admin/directory/groupmembership/", _memberships),
        ("/admin/directory/appassignment/", _assignments),
    ],
    ids=["users", "groups", "applications", "memberships", "assignments"],
)
def test_changelist_uses_as_many_queries_for_45_rows_as_for_5(
    url, make_rows, admin_client, admin_user
):
    def queries_to_list() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(url)
        assert response.status_code == 200
        return len(queries), len(response.context["cl"].result_list)

    make_rows(5, admin_user)
    few, rows_few = queries_to_list()
    make_rows(45, admin_user)
    many, rows_many = queries_to_list()

    assert rows_many >= rows_few + 40  # one page (50 rows) holds them all
    assert many == few

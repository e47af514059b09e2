"""Directory cards: they read people, groups and applications, and change them only through the
directory's services, so every change writes its system log event."""

import datetime as dt

import pytest
from django.utils import timezone

from apps.audit.models import SystemLogEvent
from apps.directory import services as directory
from apps.directory.models import AppAssignment, GroupMembership, User, UserStatus
from apps.flows.models import FlowRun
from tests.factories import ApplicationFactory, GroupFactory, UserFactory
from tests.flows.cards_helpers import card_run, error, outputs, run_card, run_flow

pytestmark = pytest.mark.django_db


def events(event_type):
    return list(SystemLogEvent.objects.filter(event_type=event_type).order_by("id"))


@pytest.fixture
def boss():
    return UserFactory(username="boss", email="boss@example.com", department="IT")


@pytest.fixture
def ann(boss):
    return UserFactory(
        username="ann",
        email="Ann.Lee@example.com",
        first_name="Ann",
        last_name="Lee",
        title="Engineer",
        department="IT",
        employee_number="E1",
        manager=boss,
    )


@pytest.fixture
def member_attribute():
    return directory.profile_attribute_create(
        actor=None, name="isMemberOfGroup", label="Member of the group", type="boolean"
    )


# --- The classic: read a person by e-mail, set a custom attribute ---------------------------


def test_a_flow_reads_a_user_by_email_and_sets_a_custom_attribute_with_an_event(
    ann, member_attribute
):
    run = run_flow(
        [
            {
                "id": "read",
                "card": "directory.read_user",
                "inputs": {"email": "{{ inputs.email }}"},
            },
            {
                "id": "mark",
                "card": "directory.update_profile",
                "inputs": {"user_id": "{{ read.user.id }}", "changes": {"isMemberOfGroup": True}},
            },
        ],
        inputs=[{"name": "email", "type": "text"}],
        output="{{ mark.changed }}",
        email="ann.lee@EXAMPLE.com",
    )

    assert run.status == "succeeded", run.error
    assert run.output == ["isMemberOfGroup"]
    ann.refresh_from_db()
    assert ann.profile == {"isMemberOfGroup": True}
    [event] = events("directory.user.profile_updated")
    assert event.target_id == str(ann.pk)
    assert event.actor is None and event.actor_display == "system"
    assert event.data["old"] == {"isMemberOfGroup": None}
    assert event.data["new"] == {"isMemberOfGroup": True}
    assert event.correlation_id == run.correlation_id  # the event is tied to the run


# --- read_user ------------------------------------------------------------------------------


def test_read_user_gives_a_plain_object_by_id_email_or_username(ann, boss, member_attribute):
    directory.user_update_profile(user=ann, actor=None, changes={"isMemberOfGroup": "yes"})
    expected = {
        "id": ann.pk,
        "username": "ann",
        "email": "Ann.Lee@example.com",
        "first_name": "Ann",
        "last_name": "Lee",
        "title": "Engineer",
        "department": "IT",
        "employee_number": "E1",
        "manager_id": boss.pk,
        "manager_email": "boss@example.com",
        "status": "active",
        "profile": {"isMemberOfGroup": True},
        "last_login": None,
        "created_at": ann.date_joined.isoformat(),
    }
    for named in ({"user_id": ann.pk}, {"email": "ANN.LEE@example.com"}, {"username": "Ann"}):
        assert outputs("directory.read_user", named) == {"found": True, "user": expected}


def test_read_user_of_nobody_fails_unless_told_not_to(ann):
    assert error("directory.read_user", {"email": "ghost@example.com"}) == (
        "no user with email 'ghost@example.com'"
    )
    assert outputs(
        "directory.read_user", {"email": "ghost@example.com", "fail_if_missing": False}
    ) == {"found": False, "user": None}


@pytest.mark.parametrize(
    "inputs, message",
    [
        ({}, "name the user by exactly one of user_id, email, username"),
        ({"email": "", "username": ""}, "name the user by exactly one of"),
        ({"user_id": 1, "email": "a@example.com"}, "(got user_id, email)"),
        ({"user_id": 1.5}, "input 'user_id' must be a whole number"),
    ],
)
def test_read_user_needs_exactly_one_identifier(inputs, message):
    assert message in error("directory.read_user", inputs)


# --- search_users ---------------------------------------------------------------------------


def test_search_users_combines_filters_and_custom_attributes(ann, boss, member_attribute):
    other = UserFactory(username="bob", department="IT", title="Engineer", manager=boss)
    UserFactory(username="carol", department="Sales", title="Engineer")
    directory.user_update_profile(user=ann, actor=None, changes={"isMemberOfGroup": True})
    directory.user_update_profile(user=other, actor=None, changes={"isMemberOfGroup": False})

    found = outputs("directory.search_users", {"department": "IT", "title": "Engineer"})
    assert [u["username"] for u in found["users"]] == ["ann", "bob"]
    assert found["count"] == 2 and found["has_more"] is False

    by_manager = outputs("directory.search_users", {"manager_email": "BOSS@example.com"})
    assert [u["username"] for u in by_manager["users"]] == ["ann", "bob"]

    members = outputs("directory.search_users", {"profile": {"isMemberOfGroup": "true"}})
    assert [u["username"] for u in members["users"]] == ["ann"]
    not_members = outputs("directory.search_users", {"profile": {"isMemberOfGroup": False}})
    assert [u["username"] for u in not_members["users"]] == ["bob"]
    unset = outputs("directory.search_users", {"profile": {"isMemberOfGroup": None}})
    assert [u["username"] for u in unset["users"]] == ["boss", "carol"]

    directory.user_suspend(user=other, actor=None)
    suspended = outputs("directory.search_users", {"status": "suspended"})
    assert [u["username"] for u in suspended["users"]] == ["bob"]


def test_search_users_stops_at_the_limit_and_says_so(ann, boss):
    page = outputs("directory.search_users", {"limit": 1})
    assert page["count"] == 1 and page["has_more"] is True
    assert page["users"][0]["username"] == "ann"


@pytest.mark.parametrize(
    "inputs, message",
    [
        ({"limit": 1001}, "input 'limit' must be from 1 to 1000"),
        ({"limit": 0}, "input 'limit' must be from 1 to 1000"),
        ({"status": "asleep"}, "unknown status 'asleep'"),
        ({"profile": {"shoeSize": 42}}, "no custom profile attribute shoeSize"),
        ({"profile": {"isMemberOfGroup": "perhaps"}}, "profile.isMemberOfGroup: "),
    ],
)
def test_search_users_refuses_bad_filters(member_attribute, inputs, message):
    assert message in error("directory.search_users", inputs)


# --- update_profile -------------------------------------------------------------------------


def test_update_profile_changes_standard_fields_and_attributes_partially(ann, member_attribute):
    new_boss = UserFactory(username="newboss", email="new.boss@example.com")
    result = outputs(
        "directory.update_profile",
        {
            "email": "ann.lee@example.com",
            "changes": {"title": "Lead", "manager": new_boss.pk, "isMemberOfGroup": "yes"},
        },
    )
    assert result["changed"] == ["title", "manager", "isMemberOfGroup"]
    assert result["user"]["title"] == "Lead"
    assert result["user"]["department"] == "IT"  # untouched
    assert result["user"]["manager_email"] == "new.boss@example.com"
    [event] = events("directory.user.profile_updated")
    assert event.data["old"]["title"] == "Engineer" and event.data["new"]["title"] == "Lead"
    assert event.data["new"]["manager"] == new_boss.pk


def test_update_profile_refuses_bad_changes_naming_the_fields_and_writes_nothing(
    ann, member_attribute
):
    message = error(
        "directory.update_profile",
        {
            "username": "ann",
            "changes": {"title": "Lead", "shoeSize": 42, "isMemberOfGroup": "perhaps"},
        },
    )
    assert "shoeSize: Unknown profile field or attribute." in message
    assert "isMemberOfGroup: Member of the group: Expected true or false" in message
    ann.refresh_from_db()
    assert ann.title == "Engineer" and ann.profile == {}
    assert not events("directory.user.profile_updated")


def test_update_profile_refuses_a_taken_email(ann, boss):
    message = error(
        "directory.update_profile", {"user_id": ann.pk, "changes": {"email": "BOSS@example.com"}}
    )
    assert message.startswith("email: ")


def test_update_profile_of_an_unknown_user_fails():
    assert error("directory.update_profile", {"user_id": 999_999, "changes": {"title": "x"}}) == (
        "no user with user_id 999999"
    )


# --- Lifecycle ------------------------------------------------------------------------------


def test_suspend_unsuspend_and_deactivate_write_their_events(ann):
    suspended = outputs("directory.suspend", {"email": ann.email})
    assert suspended["user"]["status"] == "suspended" and suspended["old_status"] == "active"
    assert outputs("directory.unsuspend", {"user_id": ann.pk})["user"]["status"] == "active"
    assert outputs("directory.deactivate", {"username": "ann"})["user"]["status"] == (
        "deprovisioned"
    )
    assert User.objects.get(pk=ann.pk).status == UserStatus.DEPROVISIONED
    for event_type, old, new in (
        ("directory.user.suspended", "active", "suspended"),
        ("directory.user.unsuspended", "suspended", "active"),
        ("directory.user.deactivated", "active", "deprovisioned"),
    ):
        [event] = events(event_type)
        assert event.data == {
            "old": {"status": old},
            "new": {"status": new},
            "flow_run": event.data["flow_run"],  # the run that made the change
        }
        assert FlowRun.objects.filter(pk=event.data["flow_run"]).exists()
        assert event.target_id == str(ann.pk) and event.actor is None


def test_an_illegal_transition_fails_the_card_with_its_message(ann):
    message = error("directory.unsuspend", {"user_id": ann.pk})
    assert message == (
        "Cannot unsuspend user ann: it is active; unsuspend is allowed only from suspended."
    )
    assert not events("directory.user.unsuspended")


# --- Groups ---------------------------------------------------------------------------------


def test_a_flow_may_not_change_a_superuser(admin_user):
    for card, inputs in (
        ("directory.suspend", {"user_id": admin_user.pk}),
        ("directory.update_profile", {"user_id": admin_user.pk, "changes": {"last_name": "X"}}),
    ):
        assert error(card, inputs) == "Only a superuser may change a superuser."
    admin_user.refresh_from_db()
    assert admin_user.status == UserStatus.ACTIVE and admin_user.last_name != "X"
    assert not events("directory.user.suspended")


def test_add_to_group_by_name_until_a_date_then_remove(ann):
    group = GroupFactory(name="VPN users")
    until = (timezone.now() + dt.timedelta(days=7)).replace(microsecond=0)
    added = outputs(
        "directory.add_to_group",
        {"email": ann.email, "group_name": "vpn USERS", "expires_at": until.isoformat()},
    )
    assert added["membership"] == {
        "user_id": ann.pk,
        "group_id": group.pk,
        "group_name": "VPN users",
        "source": "flow",
        "expires_at": until.isoformat(),
    }
    membership = GroupMembership.objects.get(group=group, user=ann)
    assert membership.expires_at == until and membership.source == "flow"
    [event] = events("directory.user.added_to_group")
    assert event.data["group_name"] == "VPN users" and event.data["new"]["source"] == "flow"

    assert outputs("directory.remove_from_group", {"user_id": ann.pk, "group_id": group.pk}) == {
        "removed": True
    }
    assert not GroupMembership.objects.filter(group=group, user=ann).exists()
    [removed] = events("directory.user.removed_from_group")
    assert removed.data["reason"] == "removed"
    assert outputs("directory.remove_from_group", {"user_id": ann.pk, "group_id": group.pk}) == {
        "removed": False
    }


def test_group_cards_refuse_unknown_groups_and_past_end_dates(ann):
    group = GroupFactory()
    assert error("directory.add_to_group", {"user_id": ann.pk, "group_name": "Nope"}) == (
        "no group with group_name 'Nope'"
    )
    assert "name the group by exactly one of group_id, group_name" in error(
        "directory.add_to_group", {"user_id": ann.pk}
    )
    past = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert error(
        "directory.add_to_group", {"user_id": ann.pk, "group_id": group.pk, "expires_at": past}
    ) == ("expires_at: The end date must be in the future.")
    assert not GroupMembership.objects.exists()


def test_list_group_members_and_list_user_groups(ann, boss):
    admins, vpn = GroupFactory(name="Admins"), GroupFactory(name="VPN")
    until = timezone.now() + dt.timedelta(days=1)
    directory.group_add_member(group=vpn, user=ann, actor=None, expires_at=until)
    directory.group_add_member(group=vpn, user=boss, actor=None)
    directory.group_add_member(group=admins, user=ann, actor=None)

    members = outputs("directory.list_group_members", {"group_name": "VPN"})
    assert [u["username"] for u in members["users"]] == ["ann", "boss"]
    assert members["users"][0]["manager_email"] == "boss@example.com"
    first = outputs("directory.list_group_members", {"group_id": vpn.pk, "limit": 1})
    assert first["count"] == 1 and first["has_more"] is True

    groups = outputs("directory.list_user_groups", {"username": "ann"})
    assert groups == {
        "groups": [
            {"id": admins.pk, "name": "Admins", "expires_at": None},
            {"id": vpn.pk, "name": "VPN", "expires_at": until.isoformat()},
        ],
        "count": 2,
    }
    assert outputs("directory.list_user_groups", {"user_id": boss.pk})["count"] == 1


# --- Applications ---------------------------------------------------------------------------


def test_assign_and_unassign_an_application_with_events(ann):
    crm = ApplicationFactory(name="CRM")
    assigned = outputs(
        "directory.assign_application", {"username": "ann", "application_name": "crm"}
    )
    assert assigned["assignment"]["application_id"] == crm.pk
    assert assigned["assignment"]["expires_at"] is None
    assert AppAssignment.objects.filter(application=crm, user=ann, source="flow").exists()
    [event] = events("directory.user.assigned_to_application")
    assert event.data["application_name"] == "CRM"

    assert outputs(
        "directory.unassign_application", {"username": "ann", "application_id": crm.pk}
    ) == {"removed": True}
    assert events("directory.user.unassigned_from_application")
    assert error(
        "directory.assign_application", {"username": "ann", "application_name": "ERP"}
    ) == ("no application with application_name 'ERP'")


def test_a_card_failing_inside_a_flow_stops_it_before_the_next_change(ann):
    group = GroupFactory(name="VPN")
    run = run_flow(
        [
            {"id": "bad", "card": "directory.suspend", "inputs": {"email": "ghost@example.com"}},
            {
                "id": "add",
                "card": "directory.add_to_group",
                "inputs": {"user_id": ann.pk, "group_id": group.pk},
            },
        ]
    )
    assert run.status == "failed" and run.error_card == "bad"
    assert card_run(run, "bad").error == "no user with email 'ghost@example.com'"
    assert not GroupMembership.objects.exists()


def test_retry_policy_does_not_retry_a_directory_card_that_fails_for_good(ann):
    run, record = run_card(
        "directory.unsuspend",
        {"user_id": ann.pk},
        on_error={"policy": "retry", "retries": 3, "backoff_seconds": 0.01},
    )
    assert run.status == "failed" and record.attempts == 1


def test_search_users_finds_who_has_not_signed_in_since_and_who_was_created_before(boss):
    now = timezone.now()
    User.objects.filter(pk=boss.pk).update(last_login=now - dt.timedelta(days=1))
    stale = UserFactory(username="stale")
    User.objects.filter(pk=stale.pk).update(
        last_login=now - dt.timedelta(days=120), date_joined=now - dt.timedelta(days=400)
    )
    never = UserFactory(username="never")
    User.objects.filter(pk=never.pk).update(date_joined=now - dt.timedelta(days=100))
    UserFactory(username="newcomer")  # never signed in, but created today

    since = (now - dt.timedelta(days=90)).isoformat()
    found = outputs("directory.search_users", {"not_signed_in_since": since})
    assert [user["username"] for user in found["users"]] == ["never", "stale"]
    assert found["users"][1]["last_login"] == (now - dt.timedelta(days=120)).isoformat()

    day_ago = (now - dt.timedelta(hours=24)).isoformat()
    created = outputs("directory.search_users", {"created_before": day_ago})
    assert [user["username"] for user in created["users"]] == ["never", "stale"]


def test_set_password_sets_a_password_or_removes_it_and_logs_no_secret(ann):
    result = outputs("directory.set_password", {"username": "ann", "password": "Temp-pass-2026!"})
    assert result["usable"] is True
    assert User.objects.get(pk=ann.pk).check_password("Temp-pass-2026!")

    assert outputs("directory.set_password", {"username": "ann"})["usable"] is False
    assert not User.objects.get(pk=ann.pk).has_usable_password()
    events = SystemLogEvent.objects.filter(event_type="directory.user.password_changed")
    assert events.count() == 2
    assert "Temp-pass" not in str([event.data for event in events])

"""Rules found in review: existing access is kept, viewing is not acting, one e-mail per change."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from apps.access_requests import services
from apps.access_requests.models import AccessGrant, RequestStatus
from apps.directory import services as directory
from apps.directory.models import GroupMembership
from tests.factories import (
    ApprovalStepFactory,
    GrantStepFactory,
    GroupFactory,
    RequestTypeFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def grant_type(group, **grant_fields):
    request_type = RequestTypeFactory(resource_group=group)
    GrantStepFactory(request_type=request_type, **grant_fields)
    return request_type


def test_a_time_bound_grant_leaves_a_permanent_membership_alone():
    vpn, alice = GroupFactory(), UserFactory()
    directory.group_add_member(group=vpn, user=alice, actor=None)

    request = services.request_submit(
        request_type=grant_type(vpn, duration_days=30), requester=alice, answers={}
    )

    membership = GroupMembership.objects.get(group=vpn, user=alice)
    assert membership.expires_at is None and membership.source == "manual"
    assert not AccessGrant.objects.filter(request=request).exists()
    assert "already holds" in request.timeline.get(kind="action").message
    assert services.revoke_expired_access(now=timezone.now() + timedelta(days=31)) == 0
    assert GroupMembership.objects.filter(group=vpn, user=alice).exists()


def test_a_grant_extends_a_shorter_membership_and_is_revoked_at_the_new_end():
    vpn, alice = GroupFactory(), UserFactory()
    directory.group_add_member(
        group=vpn, user=alice, actor=None, expires_at=timezone.now() + timedelta(days=2)
    )

    request = services.request_submit(
        request_type=grant_type(vpn, duration_days=30), requester=alice, answers={}
    )

    grant = AccessGrant.objects.get(request=request)
    assert GroupMembership.objects.get(group=vpn, user=alice).expires_at == grant.ends_at
    assert services.revoke_expired_access(now=grant.ends_at + timedelta(minutes=1)) == 1
    assert not GroupMembership.objects.filter(group=vpn, user=alice).exists()


def test_staff_who_may_only_view_requests_cannot_cancel_them():
    boss = UserFactory()
    alice = UserFactory(manager=boss)
    request_type = RequestTypeFactory()
    ApprovalStepFactory(request_type=request_type)
    request = services.request_submit(request_type=request_type, requester=alice, answers={})
    auditor = UserFactory(is_staff=True)
    auditor.user_permissions.add(Permission.objects.get(codename="view_accessrequest"))

    with pytest.raises(PermissionDenied):
        services.request_cancel(request=request, actor=auditor)

    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING
    operator = UserFactory(is_staff=True)
    operator.user_permissions.add(Permission.objects.get(codename="change_accessrequest"))
    services.request_cancel(request=request, actor=operator)
    request.refresh_from_db()
    assert request.status == RequestStatus.CANCELED


def test_approved_then_closed_in_one_change_sends_the_requester_one_e_mail(
    django_capture_on_commit_callbacks, mailoutbox
):
    vpn, alice = GroupFactory(), UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_submit(
            request_type=grant_type(vpn, duration_days=3), requester=alice, answers={}
        )

    assert request.status == RequestStatus.CLOSED
    to_alice = [m for m in mailoutbox if m.to == [alice.email]]
    assert len(to_alice) == 1
    assert "closed" in to_alice[0].subject.lower() or "closed" in to_alice[0].body.lower()

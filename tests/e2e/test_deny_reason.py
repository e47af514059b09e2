"""Denying in a real browser: the page asks for a reason first, and the requester reads it."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from apps.access_requests.models import AccessRequest, RequestStatus

pytestmark = pytest.mark.e2e


@pytest.fixture
def demo_org(transactional_db):
    call_command("seed_demo", stdout=io.StringIO())


def test_a_denial_needs_a_reason_that_alice_then_reads(sign_in, demo_org, screenshot, trouble):
    from playwright.sync_api import expect

    waiting = AccessRequest.objects.get(requester__username="alice", status=RequestStatus.PENDING)
    bob = sign_in("bob")
    bob.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    row = bob.get_by_role("row").filter(has_text=f"#{waiting.pk} ")
    comment = row.get_by_placeholder("Comment (optional)")
    expect(comment).to_have_attribute(
        "placeholder", "Comment (optional) · a reason is required to deny"
    )

    row.get_by_role("button", name="Deny").click()  # no reason: the browser holds it back
    assert comment.evaluate("element => element.validationMessage")
    assert AccessRequest.objects.get(pk=waiting.pk).status == RequestStatus.PENDING
    screenshot(bob, "1-bob-deny-needs-reason")

    comment.fill("The data center needs a safety briefing first.")
    row.get_by_role("button", name="Deny").click()
    expect(bob.locator(".messages")).to_contain_text(f"You denied request #{waiting.pk}.")
    assert AccessRequest.objects.get(pk=waiting.pk).status == RequestStatus.DENIED

    alice = sign_in("alice")
    alice.goto(f"/requests/{waiting.pk}/")
    expect(alice.locator("#timeline")).to_contain_text("The data center needs a safety briefing")
    screenshot(alice, "2-alice-denied")
    assert trouble.page_errors == []

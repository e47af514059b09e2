"""The badge-access journey in a real browser, through the portal's pages only.

Alice asks for badge access to the data center, her manager bob approves, the Badge Access
team member the request was assigned to completes the task, and alice sees it closed. The
organisation is the demo one (`seed_demo`), as a newcomer would see it after `make run`.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core.management import call_command

from apps.access_requests.models import AccessRequest, RequestStatus

pytestmark = pytest.mark.e2e

BADGE = "Badge access to a building"
ESCORT = "Do you need an escort in the data center?"


@pytest.fixture
def demo_org(transactional_db):
    call_command("seed_demo", stdout=io.StringIO())


def open_badge_form(page):
    from playwright.sync_api import expect

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Catalog").click()
    expect(page.get_by_role("heading", name="Request catalog")).to_be_visible()
    page.get_by_role("article").filter(has_text=BADGE).get_by_role("link", name="Request").click()
    expect(page.get_by_role("heading", name=BADGE, level=1)).to_be_visible()


def test_badge_request_from_submission_to_closed(sign_in, demo_org, screenshot, trouble):
    from playwright.sync_api import expect

    # --- alice asks for the data center ---------------------------------------------------
    alice = sign_in("alice")
    # The stylesheet is served and applied (DEBUG is off: the live server's static handler).
    assert "portal/portal.css" in trouble.static_ok
    assert "portal/portal.js" in trouble.static_ok
    background = alice.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(246, 247, 249)", "portal.css is not applied"

    open_badge_form(alice)
    escort = alice.get_by_label(ESCORT)
    expect(escort).to_be_hidden()
    alice.get_by_label("Business justification").fill(
        "I look after the new storage racks this quarter."
    )
    building = alice.get_by_label("Building")
    building.select_option(label="HQ Paris")
    expect(escort).to_be_hidden()
    building.select_option(label="Data Center")
    expect(escort).to_be_visible()
    escort.select_option(label="Yes")
    until = dt.date.today() + dt.timedelta(days=30)
    alice.get_by_label("Access needed until").fill(until.isoformat())
    screenshot(alice, "1-alice-form")
    alice.get_by_role("button", name="Submit request").click()

    expect(alice.locator(".messages")).to_contain_text("was submitted")
    request_id = int(re.search(r"/requests/(\d+)/$", alice.url).group(1))
    expect(alice.locator(".summary-line .badge")).to_have_text(re.compile(r"^Pending"))
    answers = alice.locator("dl.answers")
    expect(answers).to_contain_text("Data Center")
    expect(answers).to_contain_text(ESCORT)
    screenshot(alice, "2-alice-pending")

    submitted = AccessRequest.objects.get(pk=request_id)
    assert submitted.requester.username == "alice"
    assert submitted.status == RequestStatus.PENDING
    assignee = submitted.assignee.username
    assert assignee in {"carol", "dave"}

    # --- bob, her manager, approves ---------------------------------------------------------
    bob = sign_in("bob")
    bob.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    expect(bob.get_by_role("heading", name="Approvals", level=1)).to_be_visible()
    row = bob.get_by_role("row").filter(has_text=f"#{request_id} ")
    expect(row).to_have_count(1)
    row.get_by_placeholder("Comment (optional)").fill("Approved for the storage project.")
    row.get_by_role("button", name="Approve").click()
    expect(bob.locator(".messages")).to_contain_text(f"You approved request #{request_id}.")
    expect(bob.get_by_role("row").filter(has_text=f"#{request_id} ")).to_have_count(0)

    # --- the assignee completes the task -------------------------------------------------
    worker = sign_in(assignee)
    worker.get_by_role("navigation", name="Main").get_by_role("link", name="Tasks").click()
    expect(worker.get_by_role("heading", name="Tasks", level=1)).to_be_visible()
    row = worker.get_by_role("row").filter(has_text=f"#{request_id} ")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Perform the badge change, then close")
    row.get_by_placeholder("Note (optional)").fill("Badge programmed for the data center.")
    screenshot(worker, "3-assignee-tasks")
    row.get_by_role("button", name="Complete").click()
    expect(worker.locator(".messages")).to_contain_text("completed")
    expect(worker.get_by_role("row").filter(has_text=f"#{request_id} ")).to_have_count(0)

    # --- alice sees it closed, with its history -------------------------------------------
    alice.reload()
    expect(alice.locator(".summary-line .badge")).to_have_text("Closed")
    timeline = alice.locator("#timeline ol.timeline")
    for kind in ["Submitted", "Approval requested", "Decision", "Task completed"]:
        expect(timeline).to_contain_text(kind)
    expect(timeline).to_contain_text("Approved for the storage project.")
    approvals = alice.locator("aside section.card").filter(
        has=alice.get_by_role("heading", name="Approvals")
    )
    expect(approvals.locator(".badge")).to_have_text("Approved")
    screenshot(alice, "4-alice-closed")

    closed = AccessRequest.objects.get(pk=request_id)
    assert closed.status == RequestStatus.CLOSED
    assert trouble.page_errors == []
    assert trouble.bad_responses == []


def test_missing_justification_is_shown_next_to_the_field(sign_in, demo_org, screenshot, trouble):
    from playwright.sync_api import expect

    before = AccessRequest.objects.count()
    alice = sign_in("alice")
    open_badge_form(alice)
    alice.get_by_label("Building").select_option(label="Lyon Office")
    until = dt.date.today() + dt.timedelta(days=30)
    alice.get_by_label("Access needed until").fill(until.isoformat())
    alice.get_by_role("button", name="Submit request").click()

    justification = alice.locator('.field[data-question="business_justification"]')
    expect(justification).to_have_class(re.compile(r"\bhas-error\b"))
    expect(justification.locator(".errorlist")).to_be_visible()
    expect(justification.locator(".errorlist")).not_to_be_empty()
    # The other answers are kept, and no other field is blamed.
    expect(alice.get_by_label("Building")).to_have_value("lyon-office")
    expect(alice.locator(".field.has-error")).to_have_count(1)
    screenshot(alice, "form-error")
    assert AccessRequest.objects.count() == before
    assert trouble.page_errors == []

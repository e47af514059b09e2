"""Content-Security-Policy on every page, and pages that need nothing the policy blocks.

The policy allows scripts, styles and fonts from the site itself only: no inline <script>, no
on* handler attributes, no <style> blocks and no style="" attributes in the templates we own,
and the API docs are served from local static files (they work without the internet).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from apps.access_requests import services
from tests.factories import ApprovalStepFactory, RequestTypeFactory, UserFactory

TEMPLATE_ROOTS = [
    Path(settings.BASE_DIR) / "templates",
    *Path(settings.BASE_DIR).glob("apps/*/templates"),
]
# E-mails are read by mail clients, never under the site's policy.
EMAIL_TEMPLATES = Path(settings.BASE_DIR) / "templates" / "emails"

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
HANDLER_ATTRIBUTE = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)
STYLE_BLOCK = re.compile(r"<style\b", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def inline_code(html: str, *, style_blocks: bool = True) -> list[str]:
    """What a `script-src 'self'; style-src 'self'` policy would block in `html`."""
    patterns = [INLINE_SCRIPT, HANDLER_ATTRIBUTE, STYLE_ATTRIBUTE, JAVASCRIPT_URL]
    if style_blocks:
        patterns.append(STYLE_BLOCK)
    return [match.group(0)[:120] for pattern in patterns for match in pattern.finditer(html)]


def directives(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    assert header, f"no Content-Security-Policy on {response.wsgi_request.path}"
    policy = {}
    for part in header.split(";"):
        name, *sources = part.split()
        policy[name] = sources
    return policy


def assert_strict(response) -> None:
    policy = directives(response)
    for directive in ("script-src", "style-src"):
        assert policy[directive] == ["'self'"], (directive, policy[directive])
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]


def test_no_template_we_own_needs_inline_script_or_style():
    offenders = {}
    for root in TEMPLATE_ROOTS:
        for template in root.rglob("*.html"):
            if EMAIL_TEMPLATES in template.parents:
                continue
            found = inline_code(template.read_text())
            if found:
                offenders[str(template.relative_to(settings.BASE_DIR))] = found
    assert offenders == {}


@pytest.fixture
def staff_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.mark.django_db
def test_portal_pages_carry_the_policy(client):
    login = client.get("/login/")
    assert login.status_code == 200
    assert_strict(login)
    assert inline_code(login.content.decode()) == []

    alice = UserFactory(username="alice")
    client.force_login(alice)
    catalog = client.get("/catalog/")
    assert catalog.status_code == 200
    assert_strict(catalog)
    assert inline_code(catalog.content.decode()) == []


@pytest.mark.django_db
def test_admin_pages_carry_the_policy_and_ours_need_no_inline_code(staff_client, admin_user):
    index = staff_client.get("/admin/")
    assert index.status_code == 200
    assert_strict(index)

    manager = UserFactory()
    request_type = RequestTypeFactory()
    ApprovalStepFactory(request_type=request_type)
    access_request = services.request_submit(
        request_type=request_type, requester=UserFactory(manager=manager), answers={}
    )
    pages = [
        f"/admin/access_requests/accessrequest/{access_request.pk}/change/",
        f"/admin/access_requests/requesttype/{request_type.pk}/change/",
        "/admin/access_requests/requesttype/add/",
        "/admin/audit/systemlogevent/",
        "/admin/flows/flow/",
        "/admin/flows/flow/add/",
        "/admin/flows/cards/",
    ]
    for page in pages:
        response = staff_client.get(page)
        assert response.status_code == 200, page
        assert_strict(response)
        # Django's own change list adds a <style> block when a list has no actions: a column
        # width, harmless when blocked. Everything else must be free of inline code.
        assert inline_code(response.content.decode(), style_blocks=False) == [], page


@pytest.mark.django_db
def test_the_api_docs_come_from_local_static_files_under_the_policy(staff_client):
    docs = staff_client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert_strict(docs)
    html = docs.content.decode()
    assert inline_code(html) == []
    sources = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert sources, html
    assert all(source.startswith("/") for source in sources), sources
    scripts = re.findall(r"""<script[^>]*src=["']([^"']+)["']""", html)
    assert any("swagger-ui-bundle" in script for script in scripts), scripts
    for script in scripts:
        answer = staff_client.get(script)
        assert answer.status_code == 200, script
        body = b"".join(answer) if answer.streaming else answer.content
        assert body, script

"""Real-browser fixtures: Debian's Chromium, driven by Playwright, against the live server.

Playwright cannot download its own browser here, so it drives the system Chromium
(`/usr/bin/chromium` from Debian's `chromium` package, or CHROMIUM_PATH). Without it, or without
the `playwright` package, the browser tests skip and say why.

The portal runs in pytest-django's `live_server` (a thread of this process, with the static
files handler, so the portal's CSS and JavaScript are served as they would be by a web server).
The tests build data and read the results through the ORM in this thread: `live_server` brings
`transactional_db`, so both sides see committed rows.

Playwright's synchronous API keeps an asyncio event loop marked as running in this thread for
as long as it is started, and Django refuses ORM calls when it sees one. The `browser` fixture
therefore sets DJANGO_ALLOW_ASYNC_UNSAFE while Playwright runs, and the browser tests are moved
to the end of the run so that no other test runs beside that loop.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium calls out to Google, which is closed here.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PASSWORD = "gatehouse-demo"
TIMEOUT_MS = 10_000


def chromium_path() -> str:
    return os.environ.get("CHROMIUM_PATH") or DEFAULT_CHROMIUM


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the browser tests last (stable order otherwise); see the module docstring."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the whole run; skips when it or Playwright is not installed."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not importable; install the dev extras: pip install -e '.[dev]'")
    path = chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.skip(
            f"Chromium not found at {path}; install Debian's chromium package "
            "(apt-get install chromium) or point CHROMIUM_PATH at a Chromium binary"
        )
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=path, args=CHROMIUM_ARGS, headless=True
            )
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@dataclass
class Trouble:
    """What went wrong in the pages of a test: JavaScript errors and failed responses."""

    page_errors: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    static_ok: set[str] = field(default_factory=set)

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))

        def on_response(response) -> None:
            # The portal has no favicon; the browser's automatic request for it is not a page's.
            if response.status >= 400 and not response.url.endswith("/favicon.ico"):
                self.bad_responses.append(f"{response.status} {response.url}")
            elif "/static/" in response.url:
                self.static_ok.add(response.url.rsplit("/static/", 1)[1])

        page.on("response", on_response)


@pytest.fixture
def trouble() -> Trouble:
    return Trouble()


@pytest.fixture
def sign_in(browser, live_server, trouble) -> Iterator[Callable[..., Page]]:
    """`sign_in("alice")`: a fresh browser context, signed in through the login form."""
    from playwright.sync_api import expect

    contexts = []

    def open_as(username: str, password: str = DEMO_PASSWORD) -> Page:
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        trouble.watch(page)
        page.goto("/login/")
        page.get_by_label("Username or e-mail").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        # The login redirects to the portal (the catalog); a refused one stays on /login/.
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        return page

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """`screenshot(page, "name")`: a full-page PNG in tmp_path (and in $E2E_SCREENSHOTS)."""
    folder = os.environ.get("E2E_SCREENSHOTS")

    def take(page: Page, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=path, full_page=True)
        if folder:
            target = Path(folder)
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / f"{request.node.name}-{name}.png")
        return path

    return take

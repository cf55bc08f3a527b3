"""Browser tests: the app served on loopback by a real server, driven by headless Chromium.

Fixtures for every e2e test:
- ``e2e_database_url``: a committed database (``locator_e2e``) beside the test database,
  migrated, with the demo network and the gazetteer; dropped at the end. It is shared
  by the whole session and not emptied after each test, so tests should treat it as
  read-only, or undo what they write.
- ``live_server``: ``create_app()`` on that database, served by werkzeug on 127.0.0.1 and a
  free port in a daemon thread, with no base tiles (``TILE_URL`` empty).
- ``browser``: Debian's Chromium through Playwright (never a downloaded browser).
- ``guarded_page``: a fresh page whose requests may only go to 127.0.0.1; every other one
  is aborted and recorded, and console errors, page errors, failed requests and HTTP
  errors are collected. ``assert_clean()`` fails the test on any of them, and the fixture
  checks it again at teardown.
- ``open_guarded_page(**context_options)``: more such pages, each in a context of its own
  (another viewport, a locale, geolocation permission and position); all checked at
  teardown.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import create_engine
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from tests.conftest import load_demo

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
E2E_DATABASE = "locator_e2e"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LOOPBACK = "127.0.0.1"
# Schemes that never leave the browser.
LOCAL_SCHEMES = {"data", "blob", "about"}


@pytest.fixture(scope="session")
def e2e_database_url(clone_database):
    """A committed copy of the demo network in its own database on the test server."""
    with clone_database(E2E_DATABASE) as url:
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                load_demo(connection)
        finally:
            engine.dispose()
        yield url


@dataclass
class LiveServer:
    """The app being served, and the URL it answers on."""

    app: Flask
    url: str


def buffered(app: Flask):
    """``app`` with each response body read, and closed, before werkzeug sends it.

    When the browser drops a connection mid-response (a page closed while Leaflet loads),
    werkzeug's development server can skip closing the response, and the open static file
    surfaces as a ResourceWarning in whichever test runs next. A body that is already a
    list holds no file. The app never streams, so nothing else changes.
    """

    def wsgi(environ, start_response):
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()

    return wsgi


@contextmanager
def serving(wsgi, name: str) -> Iterator[str]:
    """``wsgi`` on http://127.0.0.1:<free port> from a daemon thread; yields the URL."""
    server = make_server(LOOPBACK, 0, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def e2e_settings(database_url: str, **settings) -> dict:
    """The settings of an app served to the browser tests (``settings`` override them)."""
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        # No base layer: nothing may leave the machine, and overlays must draw alone.
        "TILE_URL": "",
        # The pages are checked for what they draw, at scale too; on a machine busy with
        # other work a page's statements can take over the production default of 5 s.
        # The timeout itself is tested in test_hardening.py.
        "STATEMENT_TIMEOUT_MS": 30_000,
        **settings,
    }


@contextmanager
def serve_app(settings: dict, instance_path: Path, name: str) -> Iterator[LiveServer]:
    """An app made from ``settings``, served from a daemon thread, disposed afterwards."""
    app = create_app(settings)
    app.instance_path = str(instance_path)
    try:
        with serving(buffered(app), name) as url:
            yield LiveServer(app=app, url=url)
    finally:
        with app.app_context():
            db.dispose()


@pytest.fixture(scope="session")
def live_server(e2e_database_url, tmp_path_factory):
    """The app on http://127.0.0.1:<free port>, served from a daemon thread."""
    instance = tmp_path_factory.mktemp("e2e-instance")
    with serve_app(e2e_settings(e2e_database_url), instance, "e2e-server") as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium (``make test`` installs it; Playwright never downloads one)."""
    if not shutil.which(CHROMIUM):
        message = f"{CHROMIUM} not found: apt-get install chromium (make test does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class GuardedPage:
    """A page, and everything that went wrong while it ran."""

    page: object
    outside_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    # Console errors that a test expects (e.g. tiles that cannot load), by predicate.
    allowed: list[Callable[[str], bool]] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Requests that tried to leave 127.0.0.1, and unexpected errors."""
        errors = [e for e in self.console_errors if not any(ok(e) for ok in self.allowed)]
        return [f"request left {LOOPBACK}: {url}" for url in self.outside_requests] + errors

    def assert_clean(self) -> None:
        problems = self.problems()
        assert not problems, "\n".join(problems)

    def screenshot(self, name: str) -> Path:
        """Save a full-page PNG under test-artifacts/ and return its path."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=True)
        return path


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname == LOOPBACK


@pytest.fixture
def open_guarded_page(browser, live_server):
    """Open more guarded pages, each in a context of its own with extra ``new_context`` options.

    For a different viewport, a locale (which sets Accept-Language), or geolocation: e.g.
    ``open_guarded_page(permissions=["geolocation"], geolocation={...})``. Every page is
    checked clean again at teardown.
    """
    opened: list[tuple[object, GuardedPage]] = []

    def open_page(**options) -> GuardedPage:
        settings = {
            "base_url": live_server.url,
            "viewport": {"width": 1280, "height": 800},
            "service_workers": "block",
            **options,
        }
        context = browser.new_context(**settings)
        page = context.new_page()
        guarded = GuardedPage(page=page)
        _guard(context, page, guarded)
        opened.append((context, guarded))
        return guarded

    try:
        yield open_page
    finally:
        for context, _ in opened:
            context.close()
    for _, guarded in opened:
        guarded.assert_clean()


@pytest.fixture
def guarded_page(open_guarded_page):
    """A fresh browser context on the live server (1280x800), fenced to 127.0.0.1."""
    return open_guarded_page()


def _guard(context, page, guarded: GuardedPage) -> None:
    """Fence the context to 127.0.0.1 and record the page's errors in ``guarded``."""

    def fence(route):
        url = route.request.url
        if _is_local(url):
            route.continue_()
        else:
            guarded.outside_requests.append(url)
            route.abort()

    def on_console(message):
        if message.type == "error":
            location = message.location or {}
            guarded.console_errors.append(
                f"console error: {message.text} ({location.get('url', '')})"
            )

    def on_response(response):
        if response.status >= 400:
            guarded.console_errors.append(f"HTTP {response.status}: {response.url}")

    context.route("**/*", fence)
    page.on("console", on_console)
    page.on("pageerror", lambda error: guarded.console_errors.append(f"page error: {error}"))

    # Which document each request was made for: a request the browser aborts because
    # its page navigated away (the favicon or a late fetch of the page being left, on a
    # busy machine) is not the app's failure; any other failure is.
    documents = {"current": 0}
    made_for: dict[object, int] = {}

    def on_request(request):
        # A new document counts from the moment its navigation asks for it: the browser
        # may abort the old page's requests before the new page commits.
        if request.is_navigation_request() and request.frame == page.main_frame:
            documents["current"] += 1
        made_for[request] = documents["current"]

    def on_request_failed(request):
        left_behind = made_for.pop(request, documents["current"]) < documents["current"]
        if request.failure == "net::ERR_ABORTED" and left_behind:
            return
        guarded.console_errors.append(f"request failed: {request.url} ({request.failure})")

    page.on("request", on_request)
    page.on("requestfinished", lambda request: made_for.pop(request, None))
    page.on("requestfailed", on_request_failed)
    page.on("response", on_response)

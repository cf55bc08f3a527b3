"""Errors on the pages are pages in the app's style, in the reader's language, with the
status the API would give (404, 503 with Retry-After); the API keeps problem+json.

The outage is real: an app whose database is a socket nobody listens on.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from app.web.i18n import MESSAGES
from tests.e2e.conftest import e2e_settings, serve_app

# The picker's header colour (--brand-dark in picker.css): the page wears the app's style.
BRAND_DARK = "rgb(8, 71, 133)"


def open_error_page(guarded, url: str, status: int):
    """Go to ``url``, expecting ``status`` for the page itself and nothing else amiss."""
    page = guarded.page
    # Only the page itself may answer with an error status (recorded as a response, and
    # as Chromium's console line about it); its assets must not.
    guarded.allowed.append(
        lambda error: f" {status}" in error and (error.endswith(url) or error.endswith(f"{url})"))
    )
    # "load": the stylesheet and the favicon have settled, so none is cut off mid-way.
    response = page.goto(url, wait_until="load")
    assert response.status == status
    assert response.headers["content-type"].startswith("text/html")
    header = page.locator("header.site-header")
    assert header.evaluate("el => getComputedStyle(el).backgroundColor") == BRAND_DARK
    return response


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_an_unknown_region_is_a_styled_404_page(guarded_page, lang):
    t = MESSAGES[lang]
    open_error_page(guarded_page, f"/planner?region=atlantis&lang={lang}", 404)
    page = guarded_page.page
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("h2").inner_text() == t["errorpage.404.title"]
    assert page.locator(".error-message").inner_text() == t["errorpage.404.region"].format(
        value="atlantis"
    )
    planner = page.get_by_role("link", name=t["errorpage.planner"])
    assert planner.get_attribute("href") == "/planner"
    guarded_page.screenshot(f"error-404-region-{lang}.png")
    guarded_page.assert_clean()


def test_an_unknown_location_is_a_styled_404_page_in_the_browser_s_language(
    open_guarded_page,
):
    guarded = open_guarded_page(locale="zh-CN")
    open_error_page(guarded, "/locations/no-such-place", 404)
    message = guarded.page.locator(".error-message").inner_text()
    assert message == MESSAGES["zh-CN"]["errorpage.404.external_id"].format(value="no-such-place")
    guarded.assert_clean()


def test_a_mistyped_address_is_a_styled_404_page(guarded_page):
    open_error_page(guarded_page, "/planer", 404)
    page = guarded_page.page
    assert page.locator("h2").inner_text() == MESSAGES["en"]["errorpage.404.title"]
    assert page.get_by_role("link", name=MESSAGES["en"]["errorpage.planner"]).count() == 1
    guarded_page.assert_clean()


@pytest.mark.parametrize(
    ("path", "accept", "expected"),
    [
        ("/planer", "*/*", "application/problem+json"),  # curl: a program, not a person
        ("/planer", "application/json", "application/problem+json"),
        ("/api/v1/nope", "text/html,*/*;q=0.8", "application/problem+json"),
        ("/tiles/nope", "text/html,*/*;q=0.8", "application/problem+json"),
        ("/planer", "text/html,application/xhtml+xml,*/*;q=0.8", "text/html; charset=utf-8"),
    ],
)
def test_unknown_addresses_answer_a_page_only_to_browsers(live_server, path, accept, expected):
    request = urllib.request.Request(f"{live_server.url}{path}", headers={"Accept": accept})
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    with raised.value as error:  # closes its connection
        assert error.code == 404
        assert error.headers["Content-Type"] == expected


def test_the_api_keeps_problem_json_for_a_browser(live_server):
    request = urllib.request.Request(
        f"{live_server.url}/api/v1/locations/no-such-place",
        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    with raised.value as error:  # closes its connection
        assert error.code == 404
        assert error.headers["Content-Type"] == "application/problem+json"


@pytest.fixture
def outage_server(tmp_path):
    """The app with its database on a unix socket in an empty directory: every page that
    needs the database finds it down, as after a crash."""
    nowhere = tmp_path / "no-postgres-here"
    nowhere.mkdir()
    url = f"postgresql+psycopg://locator@/locator?host={nowhere}"
    with serve_app(e2e_settings(url), tmp_path / "instance", "e2e-outage") as server:
        yield server


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_database_outage_is_a_503_page_with_retry_after(open_guarded_page, outage_server, lang):
    t = MESSAGES[lang]
    guarded = open_guarded_page(base_url=outage_server.url)
    response = open_error_page(guarded, f"/planner?lang={lang}", 503)
    assert int(response.headers["retry-after"]) > 0
    page = guarded.page
    assert page.locator("h2").inner_text() == t["errorpage.503.title"]
    retry = page.get_by_role("link", name=t["error.retry"])
    assert retry.get_attribute("href") == f"/planner?lang={lang}"
    guarded.screenshot(f"error-503-outage-{lang}.png")
    guarded.assert_clean()

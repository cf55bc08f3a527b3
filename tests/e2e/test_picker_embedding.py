"""A framed picker posts the selection to its parent only at an allowed origin, never "*".

README ("Choosing a point", 2.) and ``app/web/return_urls.py``: the origins of
RETURN_URL_ALLOWLIST are the only ``postMessage`` targets. The picker is served on one
loopback port; checkout pages that frame it are served on two others, so each is a
different origin: one on the allow-list ("allowed"), one not ("foreign"). Both are in
FRAME_ANCESTORS, so what is tested is where the message may go, not whether the frame
may load.

How a selection is proved to have gone nowhere: after choosing, the test itself has the
framed page post a probe to its parent with target "*". Messages from one window to
another arrive in the order they were posted, so once the parent has the probe, any
message the picker posted before it would have arrived too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest

from tests.e2e.conftest import e2e_settings, serve_app, serving
from tests.e2e.test_shopper import CHOOSE, ENTRY, wait_for_results
from tests.e2e.test_shopper_cart import wednesday_10am

# The checkout: records every message it receives, then frames the picker URL it is given.
PARENT_PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>Checkout</title></head>
<body>
<script>
window.__messages = [];
window.addEventListener("message", (event) => {
  window.__messages.push({ origin: event.origin, data: event.data });
});
const frame = document.createElement("iframe");
frame.title = "Pickup";
frame.width = "900";
frame.height = "700";
frame.src = new URLSearchParams(location.search).get("picker");
document.body.append(frame);
</script>
</body></html>
"""
PROBE = "probe-after-selection"
# Posted from inside the picker's frame once the selection is on screen (see the docstring).
POST_PROBE = f"() => window.parent.postMessage({{ type: '{PROBE}' }}, '*')"
HAS_PROBE = f"() => window.__messages.some((m) => m.data && m.data.type === '{PROBE}')"


def _parent_app(environ, start_response):
    """The checkout's server: ``PARENT_PAGE`` at ``/``, nothing else."""
    if environ.get("PATH_INFO") != "/":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")]
    start_response("200 OK", headers)
    return [PARENT_PAGE]


@dataclass(frozen=True)
class Parents:
    """The two checkouts' origins."""

    allowed: str
    foreign: str


@pytest.fixture(scope="module")
def parents() -> Iterator[Parents]:
    with (
        serving(_parent_app, "e2e-parent-allowed") as allowed,
        serving(_parent_app, "e2e-parent-foreign") as foreign,
    ):
        yield Parents(allowed=allowed, foreign=foreign)


@pytest.fixture(scope="module")
def live_server(e2e_database_url, parents, tmp_path_factory):
    """Overrides conftest's ``live_server`` in this module, so the guarded page fixtures
    open pages on this app: only the allowed parent on RETURN_URL_ALLOWLIST."""
    settings = e2e_settings(
        e2e_database_url,
        RATELIMIT_ENABLED=False,
        RETURN_URL_ALLOWLIST=[parents.allowed],
        FRAME_ANCESTORS=f"'self' {parents.allowed} {parents.foreign}",
    )
    instance = tmp_path_factory.mktemp("e2e-embedding-instance")
    with serve_app(settings, instance, "e2e-embedding-server") as server:
        yield server


def open_checkout(page, parent: str, picker_url: str):
    """Open the checkout at ``parent`` framing ``picker_url``; the picker's frame, once it
    lists the search's results."""
    page.goto(f"{parent}/?" + urlencode({"picker": picker_url}))
    frame = page.wait_for_selector("iframe").content_frame()
    assert frame is not None
    wait_for_results(frame)
    return frame


def choose(frame, index: int) -> str:
    """Choose the ``index``-th entry as a shopper would; its external_id once the page
    shows the choice (choosePoint posts to the parent before it writes the status)."""
    entry = frame.locator(ENTRY).nth(index)
    external_id = entry.get_attribute("data-external-id")
    name = entry.locator(".result-name").inner_text()
    entry.locator(CHOOSE).click()
    frame.wait_for_function(
        """(name) => document.getElementById("status").textContent === `You chose ${name}.`
            && document.querySelector("#results > li.result.is-chosen") !== null""",
        arg=name,
        timeout=10_000,
    )
    return external_id


def messages_up_to_probe(page, frame) -> list[dict]:
    """Every message the parent received before the test's probe (the probe left out)."""
    frame.evaluate(POST_PROBE)
    page.wait_for_function(HAS_PROBE, timeout=10_000)
    received = page.evaluate("window.__messages")
    assert received[-1]["data"] == {"type": PROBE}, received
    return received[:-1]


def picker_url(live_server, parent_origin: str | None) -> str:
    params = {"embed": "1", "q": "20001"}
    if parent_origin is not None:
        params["parent_origin"] = parent_origin
    return f"{live_server.url}/?" + urlencode(params)


@pytest.mark.parametrize("told_by", ["parent_origin", "referer"])
def test_allowed_parent_receives_the_selection_once(guarded_page, live_server, parents, told_by):
    page = guarded_page.page
    claimed = parents.allowed if told_by == "parent_origin" else None
    frame = open_checkout(page, parents.allowed, picker_url(live_server, claimed))
    assert frame.locator("#picker").get_attribute("data-parent-origin") == parents.allowed

    external_id = choose(frame, 1)
    received = messages_up_to_probe(page, frame)

    assert len(received) == 1, received
    (message,) = received
    assert message["origin"] == live_server.url  # it came from the picker's frame
    assert message["data"]["type"] == "pickupPointSelected"
    assert message["data"]["point"]["external_id"] == external_id
    guarded_page.assert_clean()


@pytest.mark.parametrize("claims", [None, "itself"], ids=["referer", "parent_origin-itself"])
def test_parent_off_the_allow_list_receives_nothing(guarded_page, live_server, parents, claims):
    page = guarded_page.page
    claimed = parents.foreign if claims == "itself" else None
    frame = open_checkout(page, parents.foreign, picker_url(live_server, claimed))
    assert frame.locator("#picker").get_attribute("data-parent-origin") == ""

    choose(frame, 0)
    assert messages_up_to_probe(page, frame) == []
    guarded_page.assert_clean()


def test_parent_claiming_an_allowed_origin_receives_nothing(guarded_page, live_server, parents):
    """A foreign checkout that passes ``parent_origin=<an allowed origin>`` gets the page to
    post, but with that origin as the target, so the browser drops the message; with "*"
    it would be delivered."""
    page = guarded_page.page
    dropped = (
        f"The target origin provided ('{parents.allowed}') does not match the recipient "
        f"window's origin ('{parents.foreign}')"
    )
    guarded_page.allowed.append(lambda error: dropped in error)
    frame = open_checkout(page, parents.foreign, picker_url(live_server, parents.allowed))
    assert frame.locator("#picker").get_attribute("data-parent-origin") == parents.allowed

    with page.expect_console_message(lambda message: dropped in message.text):
        choose(frame, 0)
    assert messages_up_to_probe(page, frame) == []
    guarded_page.assert_clean()


@pytest.mark.parametrize(
    ("parent_origin", "referer", "expected"),
    [
        ("{allowed}", None, "{allowed}"),
        ("{allowed}/checkout?step=2", None, "{allowed}"),  # a URL: its origin
        (None, "{allowed}/checkout", "{allowed}"),
        ("{foreign}", "{allowed}/", "{allowed}"),  # the Referer, once the claim fails
        ("{foreign}", None, ""),
        (None, "{foreign}/", ""),
        ("*", None, ""),
        ("*", "{foreign}/", ""),
        ("null", None, ""),
        ("{allowed}@evil.example", None, ""),
        ("https://127.0.0.1:{allowed_port}", None, ""),  # another scheme, another origin
        (None, None, ""),
    ],
)
def test_data_parent_origin_is_an_allowed_origin_or_empty(
    live_server, parents, parent_origin, referer, expected
):
    values = {
        "allowed": parents.allowed,
        "foreign": parents.foreign,
        "allowed_port": parents.allowed.rsplit(":", 1)[1],
    }
    query = {"embed": "1"}
    if parent_origin is not None:
        query["parent_origin"] = parent_origin.format(**values)
    headers = {"Referer": referer.format(**values)} if referer else {}
    with live_server.app.test_client() as client:
        response = client.get("/?" + urlencode(query), headers=headers)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'data-parent-origin="{expected.format(**values)}"' in html


# -- a cart sent by the checkout (postMessage "setCart") ------------------------------

CART_LINES = [{"sku": "milk-1l", "qty": 2}, {"sku": "bread", "qty": 1}]
OPTIONS = "/api/v1/fulfilment/options"
# The picker's frame, from the checkout page: post ``message`` to it at ``target``.
POST_TO_FRAME = """([message, target]) =>
    document.querySelector("iframe").contentWindow.postMessage(message, target)"""
# Installed in the frame by the test: records the probe the checkout posts after the cart.
RECORD_PROBE = f"""() => {{
    window.__probe = false;
    window.addEventListener("message", (event) => {{
        if (event.data && event.data.type === "{PROBE}") window.__probe = true;
    }});
}}"""
CHECKED = """() => [...document.querySelectorAll("#results > li.result")]
    .every((entry) => Boolean(entry.dataset.cart))"""


def cart_picker_url(live_server, parent_origin: str | None) -> str:
    params = {"embed": "1", "q": "20002", "at": wednesday_10am().isoformat()}
    if parent_origin is not None:
        params["parent_origin"] = parent_origin
    return f"{live_server.url}/?" + urlencode(params)


def post_then_probe(page, frame, message, target: str) -> None:
    """Post ``message`` to the frame, then a probe; return once the frame has the probe
    (messages from one window to another arrive in the order they were posted)."""
    frame.evaluate(RECORD_PROBE)
    page.evaluate(POST_TO_FRAME, [message, target])
    page.evaluate(POST_TO_FRAME, [{"type": PROBE}, target])
    frame.wait_for_function("() => window.__probe", timeout=10_000)


def test_the_checkout_sends_the_cart_and_gets_the_option_back(guarded_page, live_server, parents):
    page = guarded_page.page
    asked = []
    page.on("request", lambda r: asked.append(r) if OPTIONS in r.url else None)
    frame = open_checkout(page, parents.allowed, cart_picker_url(live_server, parents.allowed))
    assert frame.locator("#cart").is_hidden() and asked == []  # no cart yet

    page.evaluate(POST_TO_FRAME, [{"type": "setCart", "cart": CART_LINES}, live_server.url])
    frame.wait_for_function(CHECKED, timeout=20_000)
    assert asked and all(json.loads(r.post_data)["cart"] == CART_LINES for r in asked)
    assert frame.locator("#cart-lines li").all_inner_texts() == [
        "2 × Whole milk 1 l",
        "1 × Sourdough loaf",
    ]
    ready = frame.locator("#results > li.result[data-cart=ready]").first
    external_id = ready.get_attribute("data-external-id")
    ready_text = ready.locator(".result-cart").inner_text()
    assert ready_text.startswith(("Whole cart ready", "Ready "))
    choose(frame, int(ready.evaluate("(li) => [...li.parentNode.children].indexOf(li)")))

    (message,) = messages_up_to_probe(page, frame)
    point = message["data"]["point"]
    assert point["external_id"] == external_id
    assert point["mode"] == "pickup" and point["cart"] == CART_LINES
    assert point["source"] in ("stock", "transfer") and point["ready_at"]
    guarded_page.screenshot("picker-cart-embedded.png")
    guarded_page.assert_clean()


def test_a_cart_from_a_parent_off_the_allow_list_is_ignored(guarded_page, live_server, parents):
    page = guarded_page.page
    asked = []
    page.on("request", lambda r: asked.append(r.url) if OPTIONS in r.url else None)
    frame = open_checkout(page, parents.foreign, cart_picker_url(live_server, None))
    assert frame.locator("#picker").get_attribute("data-parent-origin") == ""
    post_then_probe(page, frame, {"type": "setCart", "cart": CART_LINES}, live_server.url)
    assert frame.locator("#cart").is_hidden() and asked == []
    guarded_page.assert_clean()


def test_a_cart_that_cannot_be_read_is_refused_with_a_notice(guarded_page, live_server, parents):
    page = guarded_page.page
    asked = []
    page.on("request", lambda r: asked.append(r.url) if OPTIONS in r.url else None)
    frame = open_checkout(page, parents.allowed, cart_picker_url(live_server, parents.allowed))
    bad = {"type": "setCart", "cart": [{"sku": "milk-1l", "qty": "2"}]}  # qty as a string
    post_then_probe(page, frame, bad, live_server.url)
    notice = frame.locator("#cart-notice")
    assert notice.inner_text() == "The checkout sent a cart that can't be read; it was ignored."
    assert asked == []
    guarded_page.assert_clean()

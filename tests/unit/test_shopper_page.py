"""The shopper page's server side: the return-URL allow-list, languages, and the HTML shell.

The page never touches the database, so it is rendered here by an app with none.
"""

from __future__ import annotations

import html
import json
import re
import string

import pytest

from app import create_app
from app.web import i18n
from app.web.pages import parse_cart
from app.web.return_urls import ReturnUrlAllowList

SHOP = "https://shop.example"


@pytest.fixture
def client(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            # Never connected to: the page and its assets need no database.
            "DATABASE_URL": "postgresql+psycopg://unused@127.0.0.1:1/unused",
            "LOG_LEVEL": "WARNING",
            "TILE_URL": "",
            "RETURN_URL_ALLOWLIST": [f"{SHOP}/checkout", "http://127.0.0.1:8080"],
        }
    )
    app.instance_path = str(tmp_path)
    return app.test_client()


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        (f"{SHOP}/checkout", True),
        (f"{SHOP}/checkout/", True),
        (f"{SHOP}/checkout/pickup?order=1#top", True),
        ("HTTPS://SHOP.EXAMPLE/checkout/x", True),  # scheme and host are case-insensitive
        (f"{SHOP}:443/checkout", True),  # the default port, spelt out
        ("http://127.0.0.1:8080/anything/at/all", True),  # an origin allows every path
        (f"{SHOP}/checkout-evil", False),  # a prefix of the path, not a parent
        (f"{SHOP}/", False),
        (f"{SHOP}/Checkout", False),  # paths are case-sensitive
        ("http://shop.example/checkout", False),  # another scheme
        (f"{SHOP}:8443/checkout", False),  # another port
        ("http://127.0.0.1/x", False),
        ("https://shop.example.evil.com/checkout", False),
        ("https://evil.example/checkout", False),
        ("https://user@shop.example/checkout", False),  # user info hides the real host
        ("https://shop.example@evil.example/checkout", False),
        (f"{SHOP}/checkout/../admin", False),  # a browser resolves it out of /checkout
        (f"{SHOP}/checkout/%2e%2e/admin", False),
        (f"{SHOP}/checkout/./x", False),
        (f"{SHOP}\\@evil.example/checkout", False),
        (f"{SHOP}/checkout\t", False),
        (f" {SHOP}/checkout", False),
        ("//shop.example/checkout", False),  # scheme-relative
        ("/checkout", False),
        ("javascript:alert(1)//shop.example/checkout", False),
        ("data:text/html,hi", False),
        ("https://[::1/checkout", False),  # malformed
        ("", False),
        (None, False),
        (f"{SHOP}/checkout?" + "x" * 3000, False),  # too long
    ],
)
def test_return_url_allow_list(url, allowed):
    allow_list = ReturnUrlAllowList([f"{SHOP}/checkout/", "http://127.0.0.1:8080"])
    assert allow_list.permits(url) is allowed


def test_allow_list_from_config_string(monkeypatch):
    config = {"RETURN_URL_ALLOWLIST": f"{SHOP}/a, https://b.example  not-a-url\nhttp://c:81"}
    allow_list = ReturnUrlAllowList.from_config(config)
    assert allow_list.origins == [SHOP, "https://b.example", "http://c:81"]
    assert allow_list.permits(f"{SHOP}/a/b") and not allow_list.permits(f"{SHOP}/b")

    # app/config.py reads the environment; an empty or missing setting allows nothing.
    monkeypatch.setenv("RETURN_URL_ALLOWLIST", "https://env.example")
    assert ReturnUrlAllowList.from_config({}).origins == []
    empty = ReturnUrlAllowList.from_config({"RETURN_URL_ALLOWLIST": ""})
    assert empty.origins == [] and not empty.permits(f"{SHOP}/a")


def test_parent_origin_only_from_the_allow_list():
    allow_list = ReturnUrlAllowList([f"{SHOP}/checkout", "http://[::1]:8080"])
    assert allow_list.parent_origin(SHOP) == SHOP
    assert allow_list.parent_origin(None, f"{SHOP}/cart?x=1") == SHOP  # from the Referer
    assert allow_list.parent_origin("https://evil.example", f"{SHOP}/") == SHOP
    assert allow_list.parent_origin("https://evil.example", None) == ""
    assert allow_list.parent_origin("http://[::1]:8080") == "http://[::1]:8080"


def test_catalogues_have_the_same_keys_and_placeholders():
    english = i18n.MESSAGES["en"]
    fields = string.Formatter()
    for language, messages in i18n.MESSAGES.items():
        assert messages.keys() == english.keys(), language
        for key, text in messages.items():
            names = {name for _, name, _, _ in fields.parse(text) if name}
            expected = {name for _, name, _, _ in fields.parse(english[key]) if name}
            assert names == expected, (language, key)


@pytest.mark.parametrize(
    ("query", "accept", "language"),
    [
        ("", "", "en"),
        ("", "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("", "zh", "zh-CN"),
        ("", "zh-Hans-CN", "zh-CN"),
        ("", "fr-FR, zh_cn;q=0.5", "zh-CN"),
        ("", "zh-TW", "en"),  # Traditional-script readers did not ask for Simplified
        ("", "en;q=0.9, zh-CN;q=0.1", "en"),
        ("?lang=zh-CN", "en", "zh-CN"),
        ("?lang=zh-cn", "", "zh-CN"),
        ("?lang=en", "zh-CN", "en"),
        ("?lang=xx", "zh-CN", "zh-CN"),  # an unknown ?lang= falls back to the header
    ],
)
def test_language_choice(client, query, accept, language):
    response = client.get("/" + query, headers={"Accept-Language": accept} if accept else {})
    page = response.get_data(as_text=True)
    assert f'<html lang="{language}"' in page
    assert response.headers["Content-Language"] == language
    assert "Accept-Language" in response.headers["Vary"]
    messages = json.loads(re.search(r'id="picker-messages">(.*?)</script>', page, re.S).group(1))
    assert messages == i18n.catalogue(language)


def test_page_has_no_inline_script_and_serves_its_assets(client):
    page = client.get("/").get_data(as_text=True)
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handlers either
    assert "https://" not in re.sub(r'data-tile-attribution="[^"]*"', "", page)  # no CDN
    for src in re.findall(r'(?:src|href)="(/[^"]+)"', page):
        with client.get(src) as response:  # closes the streamed file
            assert response.status_code == 200, src
    wrong_version = "/vendor/leaflet.markercluster/0.0.1/leaflet.markercluster.js"
    assert client.get(wrong_version).status_code == 404
    assert 'role="combobox"' in page and 'role="listbox"' in page
    assert 'aria-controls="suggestions"' in page and 'aria-live="polite"' in page
    assert 'id="map" class="map" role="region" aria-label=' in page


def test_allowed_return_url_reaches_the_script(client):
    page = client.get(
        "/", query_string={"return_url": f"{SHOP}/checkout/done?o=1", "state": "abc"}
    ).get_data(as_text=True)
    assert f'data-return-url="{SHOP}/checkout/done?o=1"' in page
    assert 'data-state="abc"' in page
    assert 'id="return-rejected"' not in page


def test_disallowed_return_url_is_dropped_with_a_notice(client):
    page = client.get("/", query_string={"return_url": "https://evil.example/"}).get_data(
        as_text=True
    )
    assert 'data-return-url=""' in page
    assert 'id="return-rejected"' in page
    assert not re.search(r'data-[a-z-]+="[^"]*evil', page)  # nothing for the script to use


def test_embed_mode_parent_origin_and_preset_filters(client):
    page = client.get(
        "/",
        query_string={"embed": "1", "kind": ["locker", "bogus"], "capability": "cold_chain"},
        headers={"Referer": f"{SHOP}/cart"},
    ).get_data(as_text=True)
    assert 'class="site-header"' not in page
    assert 'data-embed="true"' in page
    assert f'data-parent-origin="{SHOP}"' in page
    assert re.search(r'value="locker" checked', page)
    assert re.search(r'value="cold_chain" checked', page)
    assert "bogus" not in page
    assert " open>" in page  # preset filters are shown

    framed_elsewhere = client.get("/?embed=1", headers={"Referer": "https://evil.example/"})
    assert 'data-parent-origin=""' in framed_elsewhere.get_data(as_text=True)


def test_language_switch_link(client):
    page = client.get("/?q=20001&embed=0").get_data(as_text=True)
    link = re.search(r'class="lang-switch" href="([^"]+)"', page).group(1)
    assert "q=20001" in link and "lang=zh-CN" in link


@pytest.mark.parametrize(
    ("text", "lines", "problem"),
    [
        ("milk-1l:2,ice-cream:1", [("milk-1l", 2), ("ice-cream", 1)], None),
        ("bread", [("bread", 1)], None),  # no quantity: one
        (" bread:3 , pasta:1", [("bread", 3), ("pasta", 1)], None),  # spaces around lines
        ("a.b_c-D:10000", [("a.b_c-D", 10000)], None),
        ("", [], "cart.invalid.empty"),
        ("milk-1l:2,", [], "cart.invalid.line"),  # an empty line
        (":2", [], "cart.invalid.line"),
        ("milk 1l:2", [], "cart.invalid.sku"),
        ("milk\n:2", [], "cart.invalid.sku"),
        ("x" * 65 + ":1", [], "cart.invalid.sku"),
        ("milk-1l:0", [], "cart.invalid.qty"),
        ("milk-1l:10001", [], "cart.invalid.qty"),
        ("milk-1l:", [], "cart.invalid.qty"),
        ("milk-1l:2.0", [], "cart.invalid.qty"),
        ("milk-1l:+2", [], "cart.invalid.qty"),
        ("milk-1l:1_0", [], "cart.invalid.qty"),
        ("milk-1l:١٠", [], "cart.invalid.qty"),  # not ASCII digits
        ("milk-1l:1:2", [], "cart.invalid.qty"),
        ("milk-1l:1,milk-1l:2", [], "cart.invalid.twice"),
        (",".join(f"s{i}" for i in range(51)), [], "cart.invalid.too_many"),
        (",".join(f"s{i}" for i in range(50)), [(f"s{i}", 1) for i in range(50)], None),
        ("a:1," * 2000, [], "cart.invalid.too_long"),
    ],
)
def test_cart_parameter(text, lines, problem):
    cart = parse_cart(text)
    assert [(line["sku"], line["qty"]) for line in cart.lines] == lines
    assert cart.problem == problem
    if problem:
        for language in i18n.LANGUAGES:  # every problem's message can be filled in
            assert i18n.MESSAGES[language][problem].format(**cart.values)


def test_cart_reaches_the_script_and_a_bad_one_is_a_notice(client):
    page = client.get("/", query_string={"cart": "milk-1l:2,bread"}).get_data(as_text=True)
    cart = re.search(r'data-cart="([^"]*)"', page).group(1)
    assert json.loads(html.unescape(cart)) == [
        {"sku": "milk-1l", "qty": 2},
        {"sku": "bread", "qty": 1},
    ]
    assert 'id="cart-rejected"' not in page

    response = client.get("/", query_string={"cart": "milk-1l:lots", "lang": "zh-CN"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-cart=""' in page
    notice = re.search(r'id="cart-rejected">([^<]*)<', page).group(1)
    assert "milk-1l:lots" in html.unescape(notice) and "数量" in notice
    huge = client.get("/", query_string={"cart": "<script>" * 1000})
    assert huge.status_code == 200 and "<script><script>" not in huge.get_data(as_text=True)


@pytest.mark.parametrize(
    ("at", "shown", "rejected"),
    [
        ("2026-12-09T10:00:00-05:00", "2026-12-09T10:00:00-05:00", False),
        ("2026-12-09T10:00:00", "", True),  # no offset
        ("next tuesday", "", True),
        ("", "", False),
    ],
)
def test_order_time_parameter(client, at, shown, rejected):
    page = client.get("/", query_string={"at": at}).get_data(as_text=True)
    assert f'data-at="{shown}"' in page
    assert ('id="at-rejected"' in page) is rejected

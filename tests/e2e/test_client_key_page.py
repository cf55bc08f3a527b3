"""The picker page in Chromium sends its publishable key, and the key counts: the API
answers with the key's quota (not the anonymous one) because the same-origin fetch's
Referer names an origin listed on the key."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from app.services import client_keys
from tests.e2e.test_shopper import search

PER_MINUTE = 4321  # unlike the anonymous quota, so the answer shows which one counted


def test_the_picker_sends_its_publishable_key(live_server, e2e_database_url, guarded_page):
    engine = create_engine(e2e_database_url)
    with engine.begin() as connection:
        key = client_keys.create_key(
            connection,
            "e2e-picker",
            "publishable",
            origins=[live_server.url],
            per_minute=PER_MINUTE,
            per_day=100_000,
        )
    config = live_server.app.config
    config["PICKER_PUBLISHABLE_KEY"] = key
    try:
        page = guarded_page.page
        page.goto("/")
        with page.expect_response(lambda r: "/api/v1/pickup-points" in r.url) as answer:
            search(page, "20001")
        response = answer.value
        assert response.request.headers["x-api-key"] == key
        assert response.status == 200
        assert response.headers["ratelimit-limit"] == str(PER_MINUTE)
    finally:
        config["PICKER_PUBLISHABLE_KEY"] = ""
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM client_keys WHERE name = 'e2e-picker'"))
        engine.dispose()

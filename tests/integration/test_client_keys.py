"""Client keys (DESIGN §4.10): created, listed, rotated and revoked with the CLI, stored
hashed, checked on every metered request (origins for publishable keys), and cached so
that a known key costs no query."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, text

from app.extensions import db
from app.services import client_keys

READ = "/api/v1/locations?limit=1"
SHOP = "https://shop.example.com"


@pytest.fixture(autouse=True)
def _one_quota_window(steady_quota_clock):
    """Every count below falls in one minute (see steady_quota_clock)."""


def create(runner, *args) -> str:
    result = runner.invoke(args=["locator", "keys", "create", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def test_keys_are_shown_once_and_stored_as_hashes(app, runner, connection):
    secret = create(runner, "checkout-backend", "--per-minute", "7", "--per-day", "70")
    publishable = create(runner, "picker", "--kind", "publishable", "--origin", SHOP)
    assert re.fullmatch(r"lsk_[A-Za-z0-9_-]{43}", secret)
    assert re.fullmatch(r"lpk_[A-Za-z0-9_-]{43}", publishable)
    stored = connection.execute(text("SELECT to_jsonb(k)::text FROM client_keys k")).scalars()
    stored = list(stored)
    assert len(stored) == 2
    for row in stored:
        assert secret not in row and publishable not in row
    hashes = set(connection.execute(text("SELECT key_sha256 FROM client_keys")).scalars())
    assert hashes == {client_keys.hash_key(secret), client_keys.hash_key(publishable)}

    listing = runner.invoke(args=["locator", "keys", "list"]).output
    assert secret not in listing and publishable not in listing
    lines = sorted(listing.strip().splitlines())
    assert lines[0].split("\t") == [
        "checkout-backend",
        "secret",
        secret[: client_keys.HINT_LENGTH] + "...",
        "7/min",
        "70/day",
        "-",
        "live",
    ]
    assert lines[1].split("\t")[0:2] == ["picker", "publishable"]
    assert lines[1].split("\t")[5] == SHOP


@pytest.mark.parametrize(
    "args, message",
    [
        (["bad name!"], "a name is"),
        (["p", "--kind", "publishable"], "needs at least one origin"),
        (["s", "--origin", SHOP], "publishable keys only"),
        (["p", "--kind", "publishable", "--origin", "https://shop.example.com/path"], "origin"),
        (["p", "--kind", "publishable", "--origin", "ftp://shop.example.com"], "origin"),
        (["s", "--per-minute", "0"], "positive"),
    ],
)
def test_bad_key_requests_are_refused_and_write_nothing(runner, connection, args, message):
    result = runner.invoke(args=["locator", "keys", "create", *args])
    assert result.exit_code != 0 and message in result.output
    assert connection.execute(text("SELECT count(*) FROM client_keys")).scalar_one() == 0


def test_a_name_has_one_live_key_until_rotated(runner):
    create(runner, "twice")
    result = runner.invoke(args=["locator", "keys", "create", "twice"])
    assert result.exit_code != 0 and "rotate" in result.output


def test_a_secret_key_is_metered_by_its_own_quota(make_app, runner):
    app = make_app(RATELIMIT_ENABLED=True, ANONYMOUS_PER_MINUTE=1000)
    key = create(app.test_cli_runner(), "server", "--per-minute", "5", "--per-day", "100")
    response = app.test_client().get(READ, headers={"X-Api-Key": key})
    assert response.status_code == 200
    # The key's quota, not the anonymous one: the tighter of its two windows.
    assert response.headers["RateLimit-Limit"] == "5"
    assert response.headers["RateLimit-Policy"] == "5;w=60, 100;w=86400"


@pytest.mark.parametrize(
    "headers, status",
    [
        ({"Origin": SHOP}, 200),
        ({"Origin": "https://SHOP.example.com:443"}, 200),  # the same origin, written longer
        ({"Referer": SHOP + "/checkout?step=2"}, 200),  # a same-origin fetch sends no Origin
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "http://shop.example.com"}, 403),  # another scheme is another origin
        ({"Origin": "https://shop.example.com.evil.example"}, 403),
        ({"Referer": "https://evil.example/?u=https://shop.example.com"}, 403),
        ({"Origin": "null"}, 403),
        ({}, 403),
    ],
)
def test_a_publishable_key_counts_only_from_its_origins(app, runner, headers, status):
    key = create(runner, "picker", "--kind", "publishable", "--origin", SHOP)
    response = app.test_client().get(READ, headers={"X-Api-Key": key, **headers})
    assert response.status_code == status
    if status == 403:
        assert response.mimetype == "application/problem+json"
        assert response.json["errors"][0]["field"] == "Origin"


@pytest.mark.parametrize(
    "key",
    ["nope", "lsk_" + "x" * 43, "lpk_" + "y" * 43, "lsk_" + "z" * 200],
)
def test_unknown_or_malformed_keys_are_401(client, key):
    response = client.get(READ, headers={"X-Api-Key": key})
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
    assert response.json["errors"][0]["field"] == "X-Api-Key"
    assert "ApiKey" in response.headers["WWW-Authenticate"]


def test_required_keys_close_the_api_but_not_the_pages(make_app):
    app = make_app(REQUIRE_CLIENT_KEY=True)
    client = app.test_client()
    refused = client.get(READ)
    assert refused.status_code == 401
    assert refused.json["errors"][0]["field"] == "X-Api-Key"
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 200
    key = create(app.test_cli_runner(), "server")
    assert client.get(READ, headers={"X-Api-Key": key}).status_code == 200


def test_revocation_takes_effect_once_the_cache_forgets(make_app):
    remembering = make_app(CLIENT_KEY_CACHE_S=3600)
    forgetting = make_app(CLIENT_KEY_CACHE_S=0)
    key = create(forgetting.test_cli_runner(), "gone-soon")
    for app in (remembering, forgetting):
        assert app.test_client().get(READ, headers={"X-Api-Key": key}).status_code == 200
    result = forgetting.test_cli_runner().invoke(args=["locator", "keys", "revoke", "gone-soon"])
    assert result.exit_code == 0 and "revoked 1" in result.output
    assert forgetting.test_client().get(READ, headers={"X-Api-Key": key}).status_code == 401
    # Documented: a process that looked the key up keeps it for CLIENT_KEY_CACHE_S.
    assert remembering.test_client().get(READ, headers={"X-Api-Key": key}).status_code == 200
    again = forgetting.test_cli_runner().invoke(args=["locator", "keys", "revoke", "gone-soon"])
    assert again.exit_code != 0 and "no live key" in again.output


def test_rotation_with_grace_keeps_the_old_key_until_it_ends(make_app, connection):
    app = make_app(CLIENT_KEY_CACHE_S=0)
    runner = app.test_cli_runner()
    old = create(runner, "rotating", "--per-minute", "9")
    rotated = runner.invoke(args=["locator", "keys", "rotate", "rotating", "--grace", "3600"])
    assert rotated.exit_code == 0
    new = rotated.output.strip()
    assert new != old and new.startswith("lsk_")
    client = app.test_client()
    for key in (old, new):
        response = client.get(READ, headers={"X-Api-Key": key})
        assert response.status_code == 200
        assert response.headers["RateLimit-Limit"] == "9"  # the settings carry over
    # Both keys are one client: one quota.
    assert client.get(READ, headers={"X-Api-Key": old}).headers["RateLimit-Remaining"] == "6"

    # Rotating without grace ends every earlier key at once.
    newest = runner.invoke(args=["locator", "keys", "rotate", "rotating"]).output.strip()
    assert client.get(READ, headers={"X-Api-Key": old}).status_code == 401
    assert client.get(READ, headers={"X-Api-Key": new}).status_code == 401
    assert client.get(READ, headers={"X-Api-Key": newest}).status_code == 200
    states = runner.invoke(args=["locator", "keys", "list"]).output.splitlines()
    assert [line.rsplit("\t", 1)[1].split(" ")[0] for line in states] == [
        "expired",
        "expired",
        "live",
    ]
    missing = runner.invoke(args=["locator", "keys", "rotate", "nobody"])
    assert missing.exit_code != 0 and "no live key" in missing.output


def test_a_known_key_costs_no_query(app, runner):
    key = create(runner, "cached")
    statements = []
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    client = app.test_client()
    for _ in range(5):
        assert client.get("/api/v1/openapi.json", headers={"X-Api-Key": key}).status_code == 200
    lookups = [s for s in statements if "client_keys" in s]
    assert len(lookups) == 1, statements


def test_the_picker_page_carries_its_publishable_key(make_app):
    runner = make_app().test_cli_runner()
    key = create(runner, "picker", "--kind", "publishable", "--origin", "http://localhost")
    app = make_app(PICKER_PUBLISHABLE_KEY=key)
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert f'data-client-key="{key}"' in page
    # What the page's script sends (a same-origin fetch: a Referer, no Origin) is accepted.
    response = client.get(READ, headers={"X-Api-Key": key, "Referer": "http://localhost/"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "value, origin",
    [
        ("https://Shop.Example.com", "https://shop.example.com"),
        ("https://shop.example.com:443/a/b?c", "https://shop.example.com"),
        ("http://shop.example.com:80", "http://shop.example.com"),
        ("http://shop.example.com:8080/", "http://shop.example.com:8080"),
        ("http://[::1]:5000/x", "http://[::1]:5000"),
        ("https://shop.example.com:99999", None),
        ("javascript:alert(1)", None),
        ("null", None),
        ("", None),
        ("https://" + "a" * 400 + ".com", None),
    ],
)
def test_origins_are_compared_in_one_normal_form(value, origin):
    assert client_keys.normalise_origin(value) == origin


def test_cors_lets_only_the_keys_origins_read_answers(app, runner):
    key = create(runner, "shop-widget", "--kind", "publishable", "--origin", SHOP)
    client = app.test_client()
    preflight = client.options(
        READ,
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-api-key",
        },
    )
    # Answered at once and not metered: a browser sends no key with a preflight.
    assert preflight.status_code == 204
    assert "X-Api-Key" in preflight.headers["Access-Control-Allow-Headers"]
    assert "RateLimit-Limit" not in preflight.headers

    answer = client.get(READ, headers={"X-Api-Key": key, "Origin": SHOP})
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == SHOP
    assert "RateLimit-Remaining" in answer.headers["Access-Control-Expose-Headers"]
    assert "Origin" in answer.headers["Vary"]
    # Another origin, a secret key, or no key: nothing a browser elsewhere may read.
    elsewhere = client.get(READ, headers={"X-Api-Key": key, "Origin": "https://evil.example"})
    assert elsewhere.status_code == 403
    secret = create(runner, "backend")
    for headers in ({"X-Api-Key": secret, "Origin": SHOP}, {"Origin": SHOP}):
        response = client.get(READ, headers=headers)
        assert response.status_code == 200
        assert "Access-Control-Allow-Origin" not in response.headers
    # An Origin of "null" decides alone, whatever the Referer says.
    sandboxed = client.get(READ, headers={"X-Api-Key": key, "Origin": "null", "Referer": SHOP})
    assert sandboxed.status_code == 403

"""The optional external geocoder, against a Nominatim-like server on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from app.geocoding import ExternalGeocoder


class FakeNominatim(BaseHTTPRequestHandler):
    """Answers /search like Nominatim; some queries misbehave on purpose."""

    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        query = parse_qs(urlparse(self.path).query)["q"][0]
        FakeNominatim.requests.append(query)
        if query == "upstream down":
            self._send(503, b"<html>secret stack trace from upstream</html>")
        elif query == "garbage":
            junk = [
                {"lat": "NaN", "lon": "1"},
                {"lat": 91, "lon": 0},
                "x",
                {"lat": "1", "lon": "2"},
            ]
            self._send(200, json.dumps(junk).encode())
        else:
            answer = [
                {
                    "lat": "-16.5",
                    "lon": "179.9",
                    "display_name": f"{query}, Fiji",
                    "importance": 0.7,
                }
            ]
            self._send(200, json.dumps(answer).encode())

    def _send(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeNominatim)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeNominatim.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}/search"
    server.shutdown()
    server.server_close()


@pytest.fixture
def geocoder_app(app, upstream):
    app.config.update(GEOCODER_URL=upstream, GEOCODER_MIN_INTERVAL_S=1)
    return app


def test_unknown_places_go_to_the_upstream_once_then_the_cache_answers(geocoder_app):
    client = geocoder_app.test_client()
    first = client.get("/api/v1/geocode?q=Qwxzyv Plbbt").json
    assert first["candidates"][0]["label"] == "Qwxzyv Plbbt, Fiji"
    assert first["candidates"][0]["confidence"] == pytest.approx(0.63)
    again = client.get("/api/v1/geocode?q=qwxzyv  plbbt").json
    assert again["candidates"] == first["candidates"]
    assert FakeNominatim.requests == ["Qwxzyv Plbbt"]


def test_the_gazetteer_answers_known_places_without_the_upstream(geocoder_app):
    geocoder_app.test_client().get("/api/v1/geocode?q=20001")
    assert FakeNominatim.requests == []


def test_the_upstream_sees_at_most_one_request_per_interval(geocoder_app):
    client = geocoder_app.test_client()
    assert client.get("/api/v1/geocode?q=Qwxzyv One").status_code == 200
    # A second unknown place within the same second is not sent: no answer, a clean 404.
    assert client.get("/api/v1/geocode?q=Qwxzyv Two").status_code == 404
    assert FakeNominatim.requests == ["Qwxzyv One"]


def test_upstream_errors_are_never_passed_through(connection, upstream):
    geocoder = ExternalGeocoder(upstream, "test", timeout_s=2, min_interval_s=0)
    assert geocoder.search(connection, "upstream down", 5) == []
    # Not cached: a later attempt asks again.
    assert geocoder.search(connection, "upstream down", 5) == []
    assert FakeNominatim.requests == ["upstream down", "upstream down"]


def test_garbage_from_the_upstream_is_validated_like_user_input(connection, upstream):
    geocoder = ExternalGeocoder(upstream, "test", timeout_s=2, min_interval_s=0)
    assert geocoder.search(connection, "garbage", 5) == []


def test_an_unreachable_upstream_is_an_empty_answer(connection):
    geocoder = ExternalGeocoder("http://127.0.0.1:9/search", "test", timeout_s=1, min_interval_s=0)
    assert geocoder.search(connection, "anything", 5) == []


def test_off_by_default(app):
    assert app.config["GEOCODER_URL"] == ""


# One process of the cross-process test: an app of its own (its own engine and pool),
# which asks for one unknown place at a given instant.
_ONE_PROCESS = """
import sys, time
from app import create_app
url, upstream, place, start = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
app = create_app({"DATABASE_URL": url, "GEOCODER_URL": upstream, "GEOCODER_MIN_INTERVAL_S": 5,
                  "RATELIMIT_ENABLED": False, "LOG_LEVEL": "WARNING"})
client = app.test_client()
client.get("/healthz")
time.sleep(max(0.0, start - time.time()))
print(client.get("/api/v1/geocode", query_string={"q": place}).status_code)
"""


def test_the_interval_holds_across_processes(database_url, upstream):
    """Several app processes share the upstream's one request per interval: the slot is
    claimed in the database, not in a process's memory."""
    import subprocess
    import sys
    import time

    start = time.time() + 4  # every process is up and waiting by then
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _ONE_PROCESS, database_url, upstream, place, str(start)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for place in ("Qwxzyv Alpha", "Qwxzyv Beta", "Qwxzyv Gamma")
    ]
    statuses = sorted(int(process.communicate(timeout=60)[0].split()[-1]) for process in processes)
    # One process got the slot and its answer; the others a clean 404, and the upstream
    # saw a single request.
    assert statuses == [200, 404, 404]
    assert len(FakeNominatim.requests) == 1


@pytest.mark.parametrize("garbage", ["😀😀😀", "!!! ???", "x", "- -", "\u200b\u200b"])
def test_queries_that_name_no_place_never_spend_the_upstream_slot(geocoder_app, garbage):
    client = geocoder_app.test_client()
    assert client.get("/api/v1/geocode", query_string={"q": garbage}).status_code in (400, 404)
    # The slot is still free for a real query in the same second.
    assert client.get("/api/v1/geocode?q=Qwxzyv Zzkq").status_code == 200
    assert FakeNominatim.requests == ["Qwxzyv Zzkq"]

"""The server's own limits and errors, on the real app under a real gunicorn.

gunicorn refuses some requests before the app sees them (app/serving.py): each refusal
must be problem+json naming the field, and no response may carry a ``Server`` header.
Requests go over a raw socket, byte for byte, so nothing between the test and the server
repairs them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from gunicorn.config import Config as GunicornConfig

from app import serving

REPO = Path(__file__).resolve().parents[2]
GUNICORN = REPO / ".venv" / "bin" / "gunicorn"
LOOPBACK = "127.0.0.1"
PROBLEM_FIELDS = {"type", "title", "status", "detail", "errors"}


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times"
        return values[0] if values else None


def exchange(port: int, raw: bytes, timeout: float = 10) -> Reply:
    """Send ``raw`` as it is and read the answer until the server closes."""
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as connection:
        connection.sendall(raw)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    data = b"".join(chunks)
    head, separator, body = data.partition(b"\r\n\r\n")
    assert separator, f"no complete response head: {data[:300]!r}"
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines]
    return Reply(int(status_line.split()[1]), headers, body, data)


def get(target: str, *headers: str) -> bytes:
    return "\r\n".join([f"GET {target} HTTP/1.1", "Host: localhost", *headers, "", ""]).encode()


def assert_no_server_header(reply: Reply) -> None:
    assert all(name.lower() != "server" for name, _ in reply.headers), reply.raw[:500]


def assert_problem(reply: Reply, status: int, field: str | None) -> dict:
    """``reply`` is a problem+json ``status`` naming ``field``, closed, without Server."""
    assert reply.status == status, reply.raw[:500]
    assert reply.header("Content-Type") == "application/problem+json"
    assert reply.header("Connection") == "close"
    assert int(reply.header("Content-Length")) == len(reply.body)
    assert_no_server_header(reply)
    problem = json.loads(reply.body)
    assert PROBLEM_FIELDS <= problem.keys()
    assert problem["status"] == status
    assert problem["type"] == serving.PROBLEM_TYPE_BASE + problem["title"].lower().replace(" ", "-")
    assert problem["detail"]
    if field is None:
        assert problem["errors"] == []
    else:
        assert problem["errors"], problem
        assert problem["errors"][0]["field"] == field
        assert problem["errors"][0]["message"]
    return problem


@contextmanager
def gunicorn(target: str, log: Path, env: dict, *args: str, ready: str) -> Iterator[int]:
    """``target`` served by gunicorn with app/serving.py on a free loopback port.

    Binds port 0 (no race for a free port) and reads the port from the log; yields once
    ``ready`` answers 200, so a worker has booted the app.
    """
    command = [str(GUNICORN), "-c", "python:app.serving", "--bind", f"{LOOPBACK}:0"]
    # One worker; no control socket (its default path is shared by every gunicorn here).
    command += ["--workers", "1", "--no-control-socket", *args, target]
    with log.open("wb") as output:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=output, stderr=output)
    try:
        port = _wait_until_ready(server, log, ready)
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_until_ready(server: subprocess.Popen, log: Path, ready: str, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    port = None
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited ({server.returncode}):\n{log.read_text()}")
        if port is None:
            found = re.search(rf"Listening at: http://{re.escape(LOOPBACK)}:(\d+)", log.read_text())
            port = int(found.group(1)) if found else None
        if port is not None:
            try:
                if exchange(port, get(ready), timeout=5).status == 200:
                    return port
            except (OSError, AssertionError):
                pass
        time.sleep(0.1)
    pytest.fail(f"gunicorn did not answer {ready} within {timeout} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def port(database_url, tmp_path_factory) -> Iterator[int]:
    """The app (wsgi:app) as `make run` serves it, on the test database."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "RATELIMIT_ENABLED": "false",
    }
    log = tmp_path_factory.mktemp("gunicorn-app") / "gunicorn.log"
    with gunicorn("wsgi:app", log, env, ready="/healthz") as port:
        yield port


CRASHING_APP = """
import time


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/ok":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    if path == "/bad-header":
        start_response("200 OK", [("Bad Name", "x")])
        return [b""]
    if path == "/slow":
        time.sleep(60)
    raise RuntimeError("escaped the framework")
"""


@pytest.fixture(scope="module")
def crashing_port(tmp_path_factory) -> Iterator[int]:
    """A bare WSGI app that fails in the ways Flask never lets through, with the same
    server configuration; a 2 s worker timeout for /slow."""
    directory = tmp_path_factory.mktemp("gunicorn-crashing")
    (directory / "crashing.py").write_text(CRASHING_APP)
    args = ("--pythonpath", str(directory), "--timeout", "2")
    with gunicorn(
        "crashing:app", directory / "gunicorn.log", dict(os.environ), *args, ready="/ok"
    ) as port:
        yield port


def test_the_config_module_sets_only_its_settings():
    # gunicorn takes every module-level name of app/serving.py that is one of its settings.
    settings = GunicornConfig().settings
    assert {name for name in vars(serving) if name in settings} == {
        "limit_request_line",
        "limit_request_fields",
        "limit_request_field_size",
        "worker_class",
        "workers",
        "timeout",
        "graceful_timeout",
        "keepalive",
        "on_starting",
        "child_exit",
    }


# -- normal responses ----------------------------------------------------------------


def test_app_responses_carry_no_server_header(port):
    healthz = exchange(port, get("/healthz"))
    assert healthz.status == 200 and json.loads(healthz.body) == {"status": "ok"}
    assert healthz.header("Date")  # gunicorn's other default headers stay
    assert_no_server_header(healthz)
    missing = exchange(port, get("/no-such-page"))
    assert missing.status == 404
    assert_no_server_header(missing)


def test_the_servers_problems_have_the_apps_shape(port):
    # The app's own 404, and the worker's builder given the same status, detail, errors.
    app_problem = json.loads(exchange(port, get("/api/v1/no-such-endpoint")).body)
    built = serving.problem_body(
        app_problem["status"], app_problem["detail"], app_problem["errors"]
    )
    assert json.loads(built) == app_problem


# -- the request line ----------------------------------------------------------------


def test_a_request_line_at_the_limit_reaches_the_app(port):
    target = "/" + "a" * (serving.limit_request_line - len("GET / HTTP/1.1"))
    raw = get(target)
    assert raw.index(b"\r\n") == serving.limit_request_line
    reply = exchange(port, raw)
    assert reply.status == 404  # the app's answer: the server let it through
    assert_no_server_header(reply)


def test_an_overlong_request_line_is_414(port):
    target = "/" + "a" * (serving.limit_request_line - len("GET / HTTP/1.1") + 1)
    problem = assert_problem(exchange(port, get(target)), 414, "request_line")
    assert str(serving.limit_request_line) in problem["detail"]


def test_a_very_long_request_line_is_414(port):
    assert_problem(exchange(port, get("/?q=" + "x" * 100_000)), 414, "request_line")


@pytest.mark.parametrize(
    "line",
    [
        b"garbage",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello on plain HTTP
        b"GET /",  # HTTP/0.9
        b"GET / HTTP/9.9",
        b"GET / HTTP/1.1 extra",
        b"G@T / HTTP/1.1",
        b"GET  / HTTP/1.1",
    ],
)
def test_a_garbage_request_line_is_400(port, line):
    assert_problem(exchange(port, line + b"\r\nHost: localhost\r\n\r\n"), 400, "request_line")


# -- headers -------------------------------------------------------------------------


def test_as_many_headers_as_the_limit_reach_the_app(port):
    extra = [f"X-Filler-{n}: {n}" for n in range(serving.limit_request_fields - 1)]  # + Host
    reply = exchange(port, get("/healthz", *extra))
    assert reply.status == 200
    assert_no_server_header(reply)


def test_too_many_headers_is_431(port):
    extra = [f"X-Filler-{n}: {n}" for n in range(serving.limit_request_fields)]
    problem = assert_problem(exchange(port, get("/healthz", *extra)), 431, "headers")
    assert str(serving.limit_request_fields) in problem["detail"]


def test_a_header_at_the_size_limit_reaches_the_app(port):
    # The limit counts the whole line with its CRLF.
    header = "X-Big: " + "a" * (serving.limit_request_field_size - len("X-Big: ") - 2)
    reply = exchange(port, get("/healthz", header))
    assert reply.status == 200
    assert_no_server_header(reply)


def test_a_too_large_header_is_431(port):
    header = "X-Big: " + "a" * (serving.limit_request_field_size - len("X-Big: ") - 1)
    problem = assert_problem(exchange(port, get("/healthz", header)), 431, "headers")
    assert str(serving.limit_request_field_size) in problem["detail"]


def test_a_huge_header_section_is_431(port):
    extra = [f"X-Filler-{n}: " + "a" * 8000 for n in range(200)]
    assert_problem(exchange(port, get("/healthz", *extra)), 431, "headers")


@pytest.mark.parametrize(
    "value",
    [b"abc", b"-1", b"+5", b"1, 1", b"0x10", b"1.5", b"\xb2", b"99999999999999999999999x"],
)
def test_a_bad_content_length_is_400_naming_it(port, value):
    raw = b"POST /api/v1/coverage/batch HTTP/1.1\r\nHost: localhost\r\n"
    raw += b"Content-Type: application/json\r\nContent-Length: " + value + b"\r\n\r\n{}"
    assert_problem(exchange(port, raw), 400, "Content-Length")


def test_two_content_lengths_are_400(port):
    raw = b"POST /api/v1/coverage/batch HTTP/1.1\r\nHost: localhost\r\n"
    raw += b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}"
    assert_problem(exchange(port, raw), 400, "Content-Length")


def test_content_length_with_chunking_is_400(port):
    raw = b"POST /api/v1/coverage/batch HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
    raw += b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    assert_problem(exchange(port, raw), 400, "Content-Length")


def test_an_unknown_transfer_coding_is_501(port):
    raw = b"POST /api/v1/coverage/batch HTTP/1.1\r\nHost: localhost\r\n"
    raw += b"Transfer-Encoding: zstd-ish\r\n\r\n"
    assert_problem(exchange(port, raw), 501, "Transfer-Encoding")


@pytest.mark.parametrize(
    ("header", "field"),
    [
        (b"Bad Name: x", "headers"),  # not a header name: nothing to name
        (b"no colon here", "headers"),
        (b"X-Ctl: a\x00b", "X-Ctl"),
        (b"X-Folded: a\r\n b", "X-Folded"),  # obsolete line folding
    ],
)
def test_a_malformed_header_is_400(port, header, field):
    raw = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + header + b"\r\n\r\n"
    assert_problem(exchange(port, raw), 400, field)


def test_an_unsupported_expectation_is_417(port):
    raw = get("/healthz", "Expect: teapot")
    assert_problem(exchange(port, raw), 417, "Expect")


# -- crashes below the framework -----------------------------------------------------


def test_a_crash_that_escapes_the_wsgi_app_is_a_problem_500(crashing_port):
    ok = exchange(crashing_port, get("/ok"))
    assert ok.status == 200
    assert_no_server_header(ok)
    problem = assert_problem(exchange(crashing_port, get("/crash")), 500, None)
    assert "escaped" not in problem["detail"]  # no internals


def test_an_invalid_header_from_the_app_is_a_problem_500(crashing_port):
    assert_problem(exchange(crashing_port, get("/bad-header")), 500, None)


def test_a_head_request_that_crashes_gets_no_body(crashing_port):
    raw = b"HEAD /crash HTTP/1.1\r\nHost: localhost\r\n\r\n"
    reply = exchange(crashing_port, raw)
    assert reply.status == 500 and reply.body == b""
    assert reply.header("Content-Type") == "application/problem+json"
    assert int(reply.header("Content-Length")) > 0
    assert_no_server_header(reply)


def test_a_worker_timeout_is_a_problem_503(crashing_port):
    started = time.monotonic()
    reply = exchange(crashing_port, get("/slow"), timeout=30)
    assert_problem(reply, 503, None)
    assert time.monotonic() - started < 15  # the 2 s timeout, not the 60 s sleep

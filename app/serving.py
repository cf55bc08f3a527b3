"""gunicorn configuration: the server's own limits and errors, in the app's contract.

    gunicorn -c python:app.serving wsgi:app

gunicorn imports this module and takes every module-level name that is one of its
settings, so no other name here may be one (a test checks); ``GUNICORN_CMD_ARGS`` and
the command line still override them (``--bind``, ``--workers``, ``--limit-request-line``).

Limits (bytes are of the raw request head, before any decoding):

- ``limit_request_line = 8190``: method, target and version, the request line. The
  longest URL the API takes is /api/v1/pickup-points with every filter, a 1,000-character
  cursor and a 200-character ``q`` that is percent-encoded (up to 12 bytes a character):
  about 4 KB, too close to gunicorn's default of 4094. 8190 is the largest value gunicorn
  accepts, and what fits nginx's default 8 KB header line buffer. Longer: 414.
- ``limit_request_fields = 100``: header fields per request. Browsers send about 20 and
  proxies add a handful; more is an attack on the parser. Beyond: 431.
- ``limit_request_field_size = 8190``: one header field line, name, value and CRLF
  (gunicorn's default). A bearer token or a browser's cookies fit with room to spare.
  Beyond: 431.

Errors: gunicorn answers what it refuses before the app sees it (these limits, malformed
request lines and headers, a bad Content-Length or Transfer-Encoding) with an HTML page
of its own, and a crash that escapes the WSGI app with an HTML 500. ``ProblemWorker``
writes them as the app writes every error: ``application/problem+json`` (RFC 9457) with
the field at fault named (``request_line``, a header's name, or ``headers`` when gunicorn
does not say which header), ``Connection: close`` and no ``Server`` header.

No ``Server`` header on any response: gunicorn writes ``Server: gunicorn`` itself in
``Response.default_headers`` whatever the app sends, and has no setting to turn it off
(its maintainers declined one: benoitc/gunicorn#825, #1384, #1617). Setting
``gunicorn.SERVER = ""`` still sends an empty ``Server:`` line. So ``ProblemWorker``
serves with ``HeaderlessResponse``, a subclass that drops that one line; the sync worker
builds responses through ``gunicorn.http.wsgi.create()``, which takes the module's
``Response`` (it has a ``response_class`` argument, but the sync worker does not pass
it), so the worker points that name at the subclass in its own process after the fork.
tests/integration/test_server_limits.py checks both on a real gunicorn, so an upgrade
that moves either hook fails there.

This module must stay free of Flask: the worker's error writer runs where the app may
be broken. ``problem_body`` below builds, without dependencies, the shape of the app's
``problem()`` in app/api/problems.py (a test compares the two on a live server).
"""

from __future__ import annotations

import json
import os
import ssl
import tempfile
from datetime import datetime
from http import HTTPStatus
from pathlib import Path

from gunicorn import util as gunicorn_util
from gunicorn.http import errors as http_errors
from gunicorn.http import wsgi as gunicorn_wsgi
from gunicorn.http.message import TOKEN_RE
from gunicorn.workers.sync import SyncWorker

# The same base as PROBLEM_TYPE_BASE in app/api/problems.py (importing it would import Flask).
PROBLEM_TYPE_BASE = "https://locator.example/problems/"

# Server settings, read by gunicorn (see the docstring).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# Workers: WEB_CONCURRENCY, else two per core plus one (sync workers wait on the
# database, so more of them than cores keep the cores busy). No threads: ProblemWorker
# is a sync worker (see check_config).
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1))
# A worker silent for this long is killed and replaced; 6x the statement timeout.
timeout = 30
# On SIGTERM or a graceful reload (SIGHUP: new workers start, old ones finish their
# requests), workers get this long to finish before they are killed.
graceful_timeout = 30
keepalive = 5


def on_starting(server):
    """Before any worker starts: a fresh directory for the workers' Prometheus values.

    Set here, in the master, so every worker inherits it before it imports the app (the
    values of prometheus_client are files there from the first import). A directory the
    operator sets is used as it is, emptied of a previous run's files.
    """
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = tempfile.mkdtemp(prefix="locator-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    Path(directory).mkdir(parents=True, exist_ok=True)
    for stale in Path(directory).glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    """A worker exited: its gauges stop counting (prometheus_client multiprocess mode)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def problem_body(status: int, detail: str, errors: list[dict] | None = None) -> bytes:
    """The JSON of the app's ``problem()`` for ``status``, without Flask."""
    title = _reason(status)
    body = {
        "type": PROBLEM_TYPE_BASE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
        "errors": errors or [],
    }
    return json.dumps(body, separators=(",", ":")).encode()  # compact, as orjson writes it


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _header_field(name: object) -> str:
    """A header name as callers write it ("Content-Length"), or "headers" when gunicorn's
    exception holds something else (a whole malformed line, an invalid name)."""
    if isinstance(name, str) and TOKEN_RE.fullmatch(name) and name.isupper():
        return "-".join(part.capitalize() for part in name.split("-"))
    return "headers"


def classify(exc: BaseException, cfg) -> tuple[int, str | None, str]:
    """(status, field, detail) for an exception gunicorn's worker caught."""
    e = http_errors
    if isinstance(exc, (SystemExit, KeyboardInterrupt)):
        # The worker was stopped mid-request: timed out (SIGABRT) or shutting down.
        return 503, None, "the request took too long or the server is restarting"
    if isinstance(exc, (e.InvalidResponseHeader, e.InvalidResponseHeaderName)):
        return 500, None, "an unexpected error occurred"  # the app's fault, not the caller's
    if isinstance(exc, e.LimitRequestLine):
        detail = f"the request line is longer than {cfg.limit_request_line} bytes"
        return 414, "request_line", detail
    if isinstance(exc, e.LimitRequestHeaders):
        if str(exc) == "limit request headers fields":
            detail = f"more than {cfg.limit_request_fields} header fields"
        elif str(exc) == "limit request headers fields size":
            detail = f"a header field is longer than {cfg.limit_request_field_size} bytes"
        else:
            detail = "the header section is too large"
        return 431, "headers", detail
    if isinstance(exc, e.InvalidRequestLine):
        return 400, "request_line", "the request line is not 'METHOD target HTTP/1.1'"
    if isinstance(exc, e.InvalidRequestMethod):
        return 400, "request_line", "the request method is not valid"
    if isinstance(exc, e.InvalidHTTPVersion):
        return 400, "request_line", "the HTTP version is not valid (HTTP/1.0 or HTTP/1.1)"
    if isinstance(exc, e.UnsupportedTransferCoding):
        return 501, "Transfer-Encoding", "only the chunked transfer coding is supported"
    if isinstance(exc, e.ExpectationFailed):
        return 417, "Expect", "only 'Expect: 100-continue' is supported"
    if isinstance(exc, e.ObsoleteFolding):
        field = _header_field(exc.hdr)
        return 400, field, "a header value is folded over several lines (obsolete, RFC 9112)"
    if isinstance(exc, (e.InvalidHeader, e.InvalidHeaderName)):
        field = _header_field(exc.hdr)
        if field == "Content-Length":
            detail = "Content-Length must be one non-negative decimal integer, without chunking"
        elif field == "headers":
            detail = "a header line is malformed"
        else:
            detail = f"the {field} header is not valid"
        return 400, field, detail
    if isinstance(exc, e.InvalidSchemeHeaders):
        return 400, "headers", "the forwarded scheme headers contradict each other"
    if isinstance(exc, (e.InvalidChunkSize, e.ChunkMissingTerminator, e.InvalidChunkExtension)):
        return 400, "body", "the chunked body is malformed"
    if isinstance(exc, e.ForbiddenProxyRequest):
        return 403, "proxy_header", "proxy requests are not allowed from this address"
    if isinstance(exc, ssl.SSLError):
        return 403, "tls", "the TLS handshake failed"
    if isinstance(exc, e.ConfigurationProblem):
        return 500, None, "an unexpected error occurred"
    if isinstance(exc, (e.InvalidProxyLine, e.InvalidProxyHeader)):
        return 400, "proxy_header", "the PROXY protocol header is malformed"
    if isinstance(exc, e.ParseException):  # anything else the parser refuses
        return 400, "request", "the request is malformed"
    return 500, None, "an unexpected error occurred"


class HeaderlessResponse(gunicorn_wsgi.Response):
    """gunicorn's response writer without the ``Server`` line (see the docstring)."""

    def default_headers(self):
        return [line for line in super().default_headers() if not line.startswith("Server:")]


class ProblemWorker(SyncWorker):
    """The sync worker, with problem+json errors and no ``Server`` header."""

    @classmethod
    def check_config(cls, cfg, log):
        # With threads gunicorn would pick its own gthread worker for a *named* sync
        # worker; for this class it would silently run one thread. Say so instead.
        if cfg.threads > 1:
            raise RuntimeError("app.serving.ProblemWorker is a sync worker: drop --threads")

    def init_process(self):
        # This worker process only (after the fork): wsgi.create() builds this class.
        gunicorn_wsgi.Response = HeaderlessResponse
        super().init_process()

    def handle_error(self, req, client, addr, exc):
        """gunicorn's Worker.handle_error, writing problem+json instead of HTML."""
        request_start = datetime.now()
        addr = addr or ("", -1)  # unix socket
        status, field, detail = classify(exc, self.cfg)
        if status >= 500:
            if hasattr(req, "uri") and hasattr(req, "method"):
                self.log.exception("Error handling request %s %s", req.method, req.uri)
            else:
                self.log.exception("Error handling request")
        else:
            self.log.warning("Invalid request from ip=%s: %s", addr[0], exc)
            if req is None and isinstance(exc, http_errors.InvalidHeader):
                req = getattr(exc, "req", None)  # parsed far enough for the access log
        errors = [{"field": field, "message": detail}] if field else []
        body = problem_body(status, detail, errors)
        reason = _reason(status)

        # A HEAD is answered with the headers the GET would have (RFC 9110 9.3.2).
        body_sent = b"" if getattr(req, "method", None) == "HEAD" else body

        if req is not None:
            environ = gunicorn_wsgi.default_environ(req, client, self.cfg)
            environ["REMOTE_ADDR"] = addr[0]
            environ["REMOTE_PORT"] = str(addr[1])
            resp = HeaderlessResponse(req, client, self.cfg)
            resp.status = f"{status} {reason}"
            resp.response_length = len(body)
            resp.sent = len(body_sent)  # the access log's size (gunicorn's own logs 0)
            self.log.access(resp, req, environ, datetime.now() - request_start)
        head = (
            f"HTTP/1.1 {status} {reason}\r\n"
            f"Date: {gunicorn_util.http_date()}\r\n"
            "Connection: close\r\n"
            "Content-Type: application/problem+json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "X-Content-Type-Options: nosniff\r\n"
            "\r\n"
        )
        try:
            gunicorn_util.write_nonblock(client, head.encode("latin-1") + body_sent)
        except Exception:
            self.log.debug("Failed to send error message.")


worker_class = ProblemWorker

"""Servers the operations tests start on loopback: Redis and pgbouncer.

Each runs from Debian's package, in a scratch directory of its own, on a free loopback
port, and is stopped (and its directory removed) when the block ends. Neither is the
machine's own: the system Redis on 6379 and any system pgbouncer are left alone.
"""

from __future__ import annotations

import http.client
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import make_url

from app.embedded_postgres import free_loopback_port
from app.pgbouncer import command, write_config
from tests.conftest import scratch_directory

START_TIMEOUT_S = 30


def wait_for(predicate, what: str, timeout: float = START_TIMEOUT_S, process=None) -> None:
    """Poll ``predicate`` until it holds; fail when ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what}: exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not ready within {timeout} s")
        time.sleep(0.05)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def redis_server() -> Iterator[str]:
    """``redis-server`` on a free loopback port, persisting nothing; yields its URL."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (Debian package redis-server)"
    with scratch_directory("locator-redis-") as root:
        port = free_loopback_port()
        command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
        command += ["--appendonly", "no", "--dir", str(root), "--protected-mode", "yes"]
        log = open(root / "redis.log", "wb")  # noqa: SIM115 - closed below
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: _redis_answers(port), "redis-server", process=process)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            _stop(process)
            log.close()


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def pgbouncer(database_url: str, statement_timeout_ms: int = 5000) -> Iterator[str]:
    """Debian's pgbouncer in transaction mode in front of the database at
    ``database_url``, configured as ``flask locator pgbouncer start`` configures it
    (app/pgbouncer.py) but in the foreground; yields the URL through it."""
    with scratch_directory("locator-pgbouncer-") as root:
        ini, url = write_config(root, database_url, statement_timeout_ms)
        target = make_url(url)
        output = open(root / "stderr.log", "wb")  # noqa: SIM115 - closed below
        process = subprocess.Popen(command(ini), stdout=output, stderr=subprocess.STDOUT)
        try:
            wait_for(
                lambda: _pgbouncer_answers(target.port, target.username, target.database),
                "pgbouncer",
                process=process,
            )
            yield url
        finally:
            _stop(process)
            output.close()


def _pgbouncer_answers(port: int, user: str, database: str) -> bool:
    try:
        with psycopg.connect(
            host="127.0.0.1",
            port=port,
            user=user,
            dbname=database,
            connect_timeout=2,
            prepare_threshold=None,
        ) as connection:
            return connection.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False


def http_get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """GET ``path`` from a server on 127.0.0.1:``port``: (status, headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()

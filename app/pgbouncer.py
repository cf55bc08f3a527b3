"""pgbouncer in transaction mode in front of the app's database (``make run PGBOUNCER=1``).

``flask locator pgbouncer start`` writes a configuration under ``instance/pgbouncer``
for the database the app would use (DATABASE_URL, or the embedded cluster), starts
Debian's pgbouncer as a daemon on a free loopback port, and prints the URL to give the
app, with ``DATABASE_POOLER=pgbouncer``. The tests start the same configuration in the
foreground (tests/servers.py).

pgbouncer refuses to run as root; then it runs as ``postgres``, who owns the embedded
cluster and may use its private socket. Clients are trusted on loopback only, as the
embedded cluster trusts its socket. The app's statement timeout, which it cannot send
through pgbouncer, is set on each server connection by ``connect_query``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from sqlalchemy import make_url

from app.embedded_postgres import free_loopback_port

OS_USER = "postgres"  # who runs pgbouncer when we are root
SERVER_POOL_SIZE = 20  # server connections per database: what the primary sees


def binary() -> str:
    found = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not os.path.exists(found):
        raise RuntimeError("pgbouncer is not installed: apt-get install -y pgbouncer")
    return found


def write_config(root: Path, database_url: str, statement_timeout_ms: int) -> tuple[Path, str]:
    """pgbouncer.ini (and its users file) under ``root``; (its path, the URL through it)."""
    root.mkdir(parents=True, exist_ok=True)
    target = make_url(database_url)
    user, database = target.username, target.database
    host = target.host or target.query.get("host", "localhost")
    port = target.port or target.query.get("port", 5432)
    server = f"host={host} port={port} user={user} dbname={database}"
    if target.password:
        server += f" password={target.password}"
    listen_port = free_loopback_port()
    (root / "users.txt").write_text(f'"{user}" ""\n')
    ini = root / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"{database} = {server} connect_query='SET statement_timeout = "
        f"{statement_timeout_ms}; SET jit = off'\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {listen_port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {root / 'users.txt'}\n"
        "pool_mode = transaction\n"
        f"default_pool_size = {SERVER_POOL_SIZE}\n"
        "max_client_conn = 1000\n"
        f"logfile = {root / 'pgbouncer.log'}\n"
        f"pidfile = {root / 'pgbouncer.pid'}\n"
    )
    ini.chmod(0o600)  # it may hold the database password
    if os.geteuid() == 0:
        for path in (root, *root.iterdir()):
            shutil.chown(path, OS_USER)
    return ini, f"postgresql+psycopg://{user}@127.0.0.1:{listen_port}/{database}"


def command(ini: Path, *options: str) -> list[str]:
    """The pgbouncer command line, as the unprivileged user when we are root."""
    line = [binary(), *options, str(ini)]
    return ["runuser", "-u", OS_USER, "--", *line] if os.geteuid() == 0 else line


def start_daemon(root: Path, database_url: str, statement_timeout_ms: int) -> str:
    """Start pgbouncer in the background (stopping an earlier one); return its URL."""
    stop_daemon(root)
    ini, url = write_config(root, database_url, statement_timeout_ms)
    subprocess.run(command(ini, "-d"), check=True, capture_output=True)
    return url


def stop_daemon(root: Path) -> bool:
    """Stop the pgbouncer started under ``root``; False when none runs."""
    pidfile = root / "pgbouncer.pid"
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, signal.SIGINT)  # SIGINT: safe shutdown, after the current queries
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return False
    return True

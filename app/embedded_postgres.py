"""A private PostGIS cluster under ``instance/``: the default when no DATABASE_URL is set.

The cluster belongs to the project, not to the machine: it is created with initdb on
first use, listens on a private unix socket and on a free loopback port only, and is
reused by every later start. initdb refuses to run as root, so when we are root every
PostgreSQL command runs as an unprivileged user (``postgres`` by default).
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import secrets
import shlex
import shutil
import socket
import stat
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg

SUPERUSER = "locator"
# Unix socket paths are limited to 107 bytes; leave room for "/.s.PGSQL.NNNNN".
MAX_SOCKET_DIR_LENGTH = 90
APT_COMMAND = "apt-get install -y postgresql-15 postgresql-15-postgis-3"


class EmbeddedPostgresError(RuntimeError):
    """The embedded cluster could not be created or started; the message says why."""


def find_postgres_bindir() -> Path:
    """The newest installed PostgreSQL server's bin directory (PG_BINDIR overrides)."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise EmbeddedPostgresError(f"PostgreSQL is not installed. Install it with: {APT_COMMAND}")


def free_loopback_port() -> int:
    """A TCP port that nothing listens on at 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    """True when 127.0.0.1:port can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class EmbeddedPostgres:
    """One private cluster rooted at ``root`` (for the app: ``instance/postgres``)."""

    def __init__(
        self,
        root: Path | str,
        *,
        database: str = "locator",
        settings: dict[str, str] | None = None,
        os_user: str | None = None,
    ):
        self.root = Path(root).resolve()
        self.database = database
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "run"
        self.log_dir = self.root / "log"
        self.state_file = self.root / "cluster.json"
        # Extra postgresql.conf settings written at initdb time (tests turn fsync off).
        self.settings = settings or {}
        self.os_user = os_user or ("postgres" if os.geteuid() == 0 else None)

    # -- public API -------------------------------------------------------------------

    def ensure_running(self) -> str:
        """Create the cluster if needed, start it if stopped, and return its SQLAlchemy URL."""
        with self._lock():
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb()
            if not self.is_running():
                self._start()
            self._ensure_database()
            return self.url()

    def stop(self) -> bool:
        """Stop the cluster; return False when it was not running."""
        with self._lock():
            if not self.is_running():
                return False
            self._pg("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
            return True

    def is_running(self) -> bool:
        """True when the cluster's postmaster is alive."""
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        result = self._pg("pg_ctl", "-D", str(self.data_dir), "status", check=False)
        return result.returncode == 0

    def running_port(self) -> int:
        """The port of the running postmaster, read from postmaster.pid (line 4)."""
        lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        return int(lines[3])

    def pid(self) -> int:
        """The postmaster's process id."""
        return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])

    def url(self, database: str | None = None) -> str:
        """SQLAlchemy URL: the private unix socket when its path fits, else loopback TCP."""
        state = self._state()
        port = self.running_port() if self.is_running() else state["port"]
        name = database or self.database
        if self._socket_usable():
            return f"postgresql+psycopg://{SUPERUSER}@/{name}?host={self.socket_dir}&port={port}"
        return self.loopback_url(database)

    def loopback_url(self, database: str | None = None) -> str:
        """SQLAlchemy URL over loopback TCP with the password, for clients that take no
        unix socket (a peer server in a benchmark)."""
        state = self._state()
        port = self.running_port() if self.is_running() else state["port"]
        name = database or self.database
        return f"postgresql+psycopg://{SUPERUSER}:{state['password']}@127.0.0.1:{port}/{name}"

    def conninfo(self, database: str | None = None) -> str:
        """The same target as ``url()``, as a libpq connection string for psycopg."""
        state = self._state()
        port = self.running_port()
        name = database or self.database
        if self._socket_usable():
            return f"host={self.socket_dir} port={port} user={SUPERUSER} dbname={name}"
        return (
            f"host=127.0.0.1 port={port} user={SUPERUSER} "
            f"password={state['password']} dbname={name}"
        )

    def create_standby(self, root: Path | str) -> EmbeddedPostgres:
        """A streaming standby of this (running) cluster under ``root``, not yet started.

        pg_basebackup -R -X stream copies the data directory and writes standby.signal
        and primary_conninfo; the copy gets its own socket directory and port. Start it
        with ``ensure_running()``.
        """
        standby = EmbeddedPostgres(root, database=self.database, os_user=self.os_user)
        for directory in (standby.root, standby.data_dir, standby.socket_dir, standby.log_dir):
            directory.mkdir(parents=True, exist_ok=True)
        standby.data_dir.chmod(0o700)
        standby.socket_dir.chmod(0o700)
        standby._give_to_owner(standby.data_dir, standby.socket_dir, standby.log_dir)
        self._pg(
            "pg_basebackup",
            "-D",
            str(standby.data_dir),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "-d",
            self.conninfo("postgres"),
        )
        socket_dirs = str(standby.socket_dir) if standby._socket_usable() else ""
        with open(standby.data_dir / "postgresql.conf", "a") as handle:
            handle.write(
                f"\n# the standby's own socket\nunix_socket_directories = '{socket_dirs}'\n"
            )
        standby._write_state({"port": free_loopback_port(), "password": self._state()["password"]})
        return standby

    # -- internals --------------------------------------------------------------------

    @contextmanager
    def _lock(self):
        """Serialise starts and stops across processes (gunicorn workers start together)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _socket_usable(self) -> bool:
        return len(str(self.socket_dir)) <= MAX_SOCKET_DIR_LENGTH

    def _state(self) -> dict:
        return json.loads(self.state_file.read_text())

    def _write_state(self, state: dict) -> None:
        self.state_file.write_text(json.dumps(state))
        self.state_file.chmod(0o600)

    def _pg(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a PostgreSQL program, as the unprivileged cluster owner when we are root."""
        command = [str(find_postgres_bindir() / program), *args]
        if self.os_user:
            command = ["runuser", "-u", self.os_user, "--", *command]
        result = subprocess.run(command, check=False, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise EmbeddedPostgresError(
                f"{shlex.join(command)} failed ({result.returncode}):\n"
                f"{result.stderr.strip() or result.stdout.strip()}"
                f"\n(log: {self.log_dir / 'postgres.log'})"
            )
        return result

    def _give_to_owner(self, *paths: Path) -> None:
        """chown paths to the unprivileged owner, and make sure it can reach them."""
        if not self.os_user:
            return
        owner = pwd.getpwnam(self.os_user)
        for path in paths:
            os.chown(path, owner.pw_uid, owner.pw_gid)
        # The owner must be able to traverse every ancestor (e.g. a checkout under /root).
        for ancestor in [self.root, *self.root.parents]:
            mode = ancestor.stat().st_mode
            if not mode & stat.S_IXOTH:
                print(f"embedded-postgres: granting search permission (o+x) on {ancestor}")
                ancestor.chmod(mode | stat.S_IXOTH)

    def _initdb(self) -> None:
        """Create the cluster: superuser ``locator``, trust on the private socket only."""
        self._check_postgis_installed()
        password = secrets.token_urlsafe(24)
        for directory in (self.data_dir, self.socket_dir, self.log_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self.socket_dir.chmod(0o700)
        pwfile = self.root / "pwfile"
        pwfile.write_text(password + "\n")
        self._give_to_owner(self.data_dir, self.socket_dir, self.log_dir, pwfile)
        try:
            self._pg(
                "initdb",
                "-D",
                str(self.data_dir),
                "--username",
                SUPERUSER,
                "--pwfile",
                str(pwfile),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            )
        finally:
            pwfile.unlink()
        socket_dirs = str(self.socket_dir) if self._socket_usable() else ""
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": socket_dirs,
            "unix_socket_permissions": "0700",
            **self.settings,
        }
        conf = "".join(f"{key} = '{value}'\n" for key, value in settings.items())
        with open(self.data_dir / "postgresql.conf", "a") as handle:
            handle.write("\n# set by the locator's embedded cluster\n" + conf)
        # Replace the default pg_hba.conf: the private socket, plus loopback with a password.
        (self.data_dir / "pg_hba.conf").write_text(
            "local all all trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
            "local replication all trust\n"
            "host replication all 127.0.0.1/32 scram-sha-256\n"
        )
        self._write_state({"port": free_loopback_port(), "password": password})

    def _start(self) -> None:
        """Start the postmaster on the remembered port, or a new free one if it is taken."""
        state = self._state()
        if not port_is_free(state["port"]):
            state["port"] = free_loopback_port()
            self._write_state(state)
        self._pg(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_dir / "postgres.log"),
            "-o",
            f"-p {state['port']}",
            "-w",
            "-t",
            "60",
            "start",
        )

    def _ensure_database(self) -> None:
        """Create the application database on first start."""
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
                    ).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{self.database}"')
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _check_postgis_installed(self) -> None:
        bindir = find_postgres_bindir()
        version = bindir.parent.name
        share = Path("/usr/share/postgresql") / version / "extension" / "postgis.control"
        if version.isdigit() and not share.exists():
            raise EmbeddedPostgresError(
                f"PostGIS is not installed for PostgreSQL {version}. "
                f"Install it with: apt-get install -y postgresql-{version}-postgis-3"
            )

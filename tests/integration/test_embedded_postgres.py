"""The embedded cluster: created once, reused on every start, private, stoppable."""

import os
import stat

import psycopg
import pytest

from app import create_app
from app.database import embedded_cluster, resolve_database_url
from app.embedded_postgres import EmbeddedPostgres
from tests.conftest import FAST_SETTINGS, scratch_directory


@pytest.fixture
def cluster():
    with scratch_directory("locator-embedded-") as root:
        cluster = EmbeddedPostgres(root / "postgres", settings=FAST_SETTINGS)
        yield cluster
        cluster.stop()


def test_start_reuse_stop_and_restart(cluster):
    url = cluster.ensure_running()
    pid = cluster.pid()
    with psycopg.connect(cluster.conninfo()) as connection:
        connection.execute("CREATE TABLE survives (x int)")
        connection.execute("INSERT INTO survives VALUES (42)")

    # A second start reuses the running cluster: same postmaster, same URL.
    assert cluster.ensure_running() == url
    assert cluster.pid() == pid

    assert cluster.stop() is True
    assert not cluster.is_running()
    assert cluster.stop() is False

    # Starting again reuses the data directory: nothing is re-initialised.
    cluster.ensure_running()
    with psycopg.connect(cluster.conninfo()) as connection:
        assert connection.execute("SELECT x FROM survives").fetchone() == (42,)


def test_listens_on_loopback_and_a_private_socket_only(cluster):
    cluster.ensure_running()
    with psycopg.connect(cluster.conninfo()) as connection:
        listen = connection.execute("SHOW listen_addresses").fetchone()[0]
        port = int(connection.execute("SHOW port").fetchone()[0])
    assert listen == "127.0.0.1"
    assert port == cluster.running_port() and port != 5432
    assert stat.S_IMODE(cluster.socket_dir.stat().st_mode) == 0o700
    if os.geteuid() == 0:
        assert cluster.data_dir.owner() == "postgres"  # initdb refuses root


def test_loopback_tcp_needs_the_generated_password(cluster):
    cluster.ensure_running()
    port = cluster.running_port()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"host=127.0.0.1 port={port} user=locator dbname=locator password=wrong")


def test_a_taken_port_is_replaced_by_a_free_one(cluster):
    import socket

    cluster.ensure_running()
    first_port = cluster.running_port()
    cluster.stop()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", first_port))
        squatter.listen()
        cluster.ensure_running()
        assert cluster.running_port() != first_port


def test_database_url_set_means_nothing_is_started(tmp_path, database_url):
    app = create_app({"DATABASE_URL": database_url})
    app.instance_path = str(tmp_path / "instance")
    assert resolve_database_url(app) == database_url
    assert not (tmp_path / "instance").exists()
    assert not embedded_cluster(app).is_running()


def test_no_database_url_means_the_embedded_cluster():
    with scratch_directory("locator-app-") as root:
        app = create_app({"DATABASE_URL": ""})
        app.instance_path = str(root / "instance")
        try:
            url = resolve_database_url(app)
            assert str(root / "instance" / "postgres") in url or "127.0.0.1" in url
            assert embedded_cluster(app).is_running()
        finally:
            embedded_cluster(app).stop()

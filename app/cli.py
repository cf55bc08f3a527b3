"""`flask locator ...`: import data, migrate the schema, manage the embedded cluster."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app import pgbouncer, schema
from app.database import embedded_cluster, resolve_database_url
from app.errors import LocatorError
from app.extensions import db
from app.geocoding import load_gazetteer
from app.importing import (
    DATASETS,
    PLAUSIBILITY_CHECKS,
    ImportFileError,
    ImportOptions,
    ImportReport,
    import_file,
    import_records,
    load_demo_data,
)
from app.queries.geocoding import gazetteer_size
from app.queries.locations import network_is_empty
from app.services import client_keys, holds, road_network, roads, tokens

locator = AppGroup("locator", help="Pickup-point locator commands.")
db_group = AppGroup("db", help="Schema migrations (Alembic).")
postgres_group = AppGroup("postgres", help="The embedded PostGIS cluster under instance/.")
token_group = AppGroup("token", help="Admin API tokens.")
keys_group = AppGroup("keys", help="Client keys and their quotas (X-Api-Key).")
pgbouncer_group = AppGroup("pgbouncer", help="pgbouncer (transaction mode) under instance/.")
roads_group = AppGroup("roads", help="The car network for travel times (pgRouting).")
holds_group = AppGroup("holds", help="Holds and orders (POST /api/v1/fulfilment/holds).")
locator.add_command(db_group)
locator.add_command(postgres_group)
locator.add_command(token_group)
locator.add_command(keys_group)
locator.add_command(pgbouncer_group)
locator.add_command(roads_group)
locator.add_command(holds_group)

MAX_REJECTIONS_SHOWN = 50


def _print_report(report: ImportReport) -> None:
    for rejection in report.rejected[:MAX_REJECTIONS_SHOWN]:
        click.echo(f"  rejected {rejection.describe(report.unit)}", err=True)
    for warning in report.warnings[:MAX_REJECTIONS_SHOWN]:
        click.echo(f"  warning {warning.describe(report.unit)}", err=True)
    if report.timings:
        click.echo(f"  time: {report.phases()}", err=True)
    hidden = len(report.rejected) - MAX_REJECTIONS_SHOWN
    if hidden > 0:
        click.echo(f"  ... and {hidden} more rejected rows", err=True)
    click.echo(report.summary())


@locator.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows, report the rest.")
@click.option("--dry-run", is_flag=True, help="Validate only; write nothing.")
@click.option("--make-valid", is_flag=True, help="Repair invalid polygons (GEOS MakeValid).")
@click.option("--no-progress", is_flag=True, help="Hide the progress bars.")
@click.option(
    "--replace",
    is_flag=True,
    help="Stock: the file is the whole truth for the locations it names (absent SKUs drop to 0).",
)
@click.option(
    "--dataset",
    type=click.Choice(DATASETS),
    help="The kind of file, when its header or properties cannot tell.",
)
@click.option("--demand-set", help="Demand: the named set the file replaces.")
@click.option(
    "--allow",
    "allow",
    multiple=True,
    type=click.Choice(PLAUSIBILITY_CHECKS),
    help="Downgrade a plausibility check to a warning (repeatable).",
)
def import_command(
    path, skip_invalid, dry_run, make_valid, no_progress, replace, dataset, demand_set, allow
):
    """Import locations, service areas or regions from a CSV or GeoJSON file.

    The file is all or nothing unless --skip-invalid is given. Rows are upserted by
    their key, so importing the same file twice changes nothing.
    """
    options = ImportOptions(
        skip_invalid=skip_invalid,
        dry_run=dry_run,
        make_valid=make_valid,
        max_polygon_vertices=current_app.config["MAX_POLYGON_VERTICES"],
        progress=not no_progress,
        replace=replace,
        dataset=dataset,
        demand_set=demand_set,
        allow=frozenset(allow),
    )
    try:
        with db.transaction() as connection:
            report = import_file(connection, path, options)
    except ImportFileError as error:
        raise click.ClickException(str(error)) from error
    _print_report(report)
    if report.rejected and not report.applied and not dry_run:
        sys.exit(1)


@locator.command("load-demo")
@click.option("--if-empty", is_flag=True, help="Only when no location exists yet.")
def load_demo_command(if_empty):
    """Load the demo network shipped in geodata/demo."""
    with db.transaction() as connection:
        if if_empty and not network_is_empty(connection):
            click.echo("demo data: the database already holds locations; left as it is")
            return
        for report in load_demo_data(connection, ImportOptions()):
            _print_report(report)
    _load_demo_roads()


DEMO_ROADS = Path(__file__).resolve().parent.parent / "geodata" / "baltimore.osm.pbf"
# The demo's supermarkets promise express delivery within this drive.
DEMO_EXPRESS_DRIVE_TIME_S = 600


def load_demo_roads(connection) -> list:
    """The demo's Baltimore part (geodata/baltimore.osm.pbf, ODbL): the road network, its
    named convenience stores and supermarkets as locations, and a 10-minute express
    drive-time area for each supermarket. Returns the network's and the imports' reports."""
    network = road_network.import_network(connection, DEMO_ROADS)
    shops = road_network.osm_shops(DEMO_ROADS)
    shop_report = import_records(
        connection, "locations", [(shop, None) for shop in shops], ImportOptions()
    )
    express = [
        (
            {
                "location_external_id": shop["external_id"],
                "mode": "express",
                "drive_time_s": DEMO_EXPRESS_DRIVE_TIME_S,
            },
            None,
        )
        for shop in shops
        if shop["kind"] == "store"
    ]
    return [
        network,
        shop_report,
        import_records(connection, "service_areas", express, ImportOptions()),
    ]


def _load_demo_roads() -> None:
    """load_demo_roads when the extract is shipped; skipped, with a note, without pgRouting."""
    if not DEMO_ROADS.is_file():
        return
    try:
        with db.transaction() as connection:
            network, *reports = load_demo_roads(connection)
        click.echo(network.summary())
        for report in reports:
            _print_report(report)
    except LocatorError as error:
        click.echo(f"demo roads skipped: {error.detail}", err=True)


@locator.command("gazetteer")
@click.option("--if-empty", is_flag=True, help="Only when the gazetteer is empty.")
def gazetteer_command(if_empty):
    """(Re)load the offline geocoding gazetteer: US ZIP centroids and world cities."""
    with db.transaction() as connection:
        if if_empty and gazetteer_size(connection):
            click.echo("gazetteer: already loaded")
            return
        click.echo(f"gazetteer: {load_gazetteer(connection)} places loaded")


@locator.command("setup")
def setup_command():
    """Migrate to head, and load the gazetteer and the demo data where they are empty."""
    schema.upgrade(db.engine)
    click.echo(f"schema at {schema.head_revision()}")
    context = click.get_current_context()
    context.invoke(gazetteer_command, if_empty=True)
    context.invoke(load_demo_command, if_empty=True)


@roads_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def roads_import_command(path):
    """Load a car network from an OSM extract (.osm.pbf), replacing the current one.

    One transaction: the new version, its drive-time areas rebuilt on it, and the swap
    commit together; on any error the previous network keeps serving.
    """
    speeds = road_network.parse_speeds(current_app.config["ROAD_SPEEDS_KMH"])
    try:
        with db.transaction() as connection:
            report = road_network.import_network(connection, path, speeds)
    except LocatorError as error:
        raise click.ClickException(error.detail) from error
    click.echo(report.summary())


@roads_group.command("refresh-areas")
def roads_refresh_areas_command():
    """Rebuild every drive-time service area on the current network."""
    try:
        with db.transaction() as connection:
            count = roads.refresh_drive_time_areas(connection)
    except LocatorError as error:
        raise click.ClickException(error.detail) from error
    click.echo(f"{count} drive-time areas rebuilt")


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision):
    """Upgrade the schema (to the newest revision by default)."""
    schema.upgrade(db.engine, revision)
    click.echo(f"upgraded to {revision}")


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision):
    """Downgrade the schema to REVISION ("base" drops every table)."""
    schema.downgrade(db.engine, revision)
    click.echo(f"downgraded to {revision}")


@db_group.command("current")
def db_current():
    """Print the schema's current revision."""
    click.echo(schema.current_revision(db.connection()) or "(none)")


@postgres_group.command("start")
def postgres_start():
    """Create or start the embedded cluster and print its URL."""
    click.echo(embedded_cluster(current_app).ensure_running())


@postgres_group.command("stop")
def postgres_stop():
    """Stop the embedded cluster."""
    stopped = embedded_cluster(current_app).stop()
    click.echo("stopped" if stopped else "not running")


@postgres_group.command("status")
def postgres_status():
    """Say whether the embedded cluster runs."""
    cluster = embedded_cluster(current_app)
    click.echo(f"running: {cluster.url()}" if cluster.is_running() else "not running")


@holds_group.command("purge")
@click.option(
    "--keep-days",
    type=click.IntRange(min=1),
    default=7,
    show_default=True,
    help="Keep holds and orders (and their Idempotency-Keys) this long after they end.",
)
def holds_purge(keep_days):
    """Delete holds and orders that ended more than --keep-days ago.

    Only housekeeping: expired holds stop counting by themselves, with or without it.
    """
    with db.transaction() as connection:
        expired, deleted = holds.purge(connection, datetime.now(UTC), timedelta(days=keep_days))
    click.echo(f"{expired} holds recorded as expired; {deleted} holds and orders deleted")


@token_group.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(tokens.SCOPES),
    help="Required, repeatable: write (admin edits), import (files), orders (holds and"
    " orders). A token gets only the scopes named here.",
)
def token_create(name, scopes):
    """Create a token NAME and print it; only its hash is stored, so keep it now.

    Example: flask locator token create ops --scope write --scope import
    """
    with _key_errors(), db.transaction() as connection:
        token = tokens.create_token(connection, name, list(scopes))
    click.echo(token)


@token_group.command("revoke")
@click.argument("name")
def token_revoke(name):
    """Revoke the token NAME; requests with it get 401 from now on."""
    with db.transaction() as connection:
        if not tokens.revoke_token(connection, name):
            raise click.ClickException(f"no live token named {name!r}")
    click.echo(f"revoked {name}")


@token_group.command("list")
def token_list():
    """Names, scopes and state of every token (never the tokens themselves)."""
    for row in tokens.list_tokens(db.connection()):
        state = f"revoked {row['revoked_at']:%Y-%m-%d}" if row["revoked_at"] else "live"
        click.echo(f"{row['name']}\t{','.join(row['scopes'])}\t{state}")


@keys_group.command("create")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(client_keys.KINDS),
    default="secret",
    show_default=True,
    help="secret: for servers; publishable: for browser pages, from --origin only.",
)
@click.option("--origin", "origins", multiple=True, help="https://shop.example (repeatable).")
@click.option("--per-minute", type=int, help="Default: CLIENT_KEY_PER_MINUTE.")
@click.option("--per-day", type=int, help="Default: CLIENT_KEY_PER_DAY.")
def keys_create(name, kind, origins, per_minute, per_day):
    """Create client NAME with a key and print the key; only its hash is stored."""
    config = current_app.config
    with _key_errors(), db.transaction() as connection:
        key = client_keys.create_key(
            connection,
            name,
            kind,
            origins=list(origins),
            per_minute=config["CLIENT_KEY_PER_MINUTE"] if per_minute is None else per_minute,
            per_day=config["CLIENT_KEY_PER_DAY"] if per_day is None else per_day,
        )
    click.echo(key)


@keys_group.command("rotate")
@click.argument("name")
@click.option(
    "--grace",
    type=int,
    default=0,
    show_default=True,
    help="Seconds the old key keeps working (0: it stops now).",
)
def keys_rotate(name, grace):
    """Give client NAME a new key (printed); the old one ends after --grace seconds."""
    with _key_errors(), db.transaction() as connection:
        key = client_keys.rotate_key(connection, name, grace)
    click.echo(key)


@keys_group.command("revoke")
@click.argument("name")
def keys_revoke(name):
    """Revoke every key of client NAME (within CLIENT_KEY_CACHE_S on every process)."""
    with _key_errors(), db.transaction() as connection:
        count = client_keys.revoke_keys(connection, name)
    click.echo(f"revoked {count} key(s) of {name}")


@keys_group.command("list")
def keys_list():
    """Every key: client, kind, hint, quotas, origins and state (never a key itself)."""
    for row in client_keys.list_keys(db.connection()):
        if row["revoked_at"]:
            state = f"revoked {row['revoked_at']:%Y-%m-%d %H:%M}"
        elif not row["live"]:
            state = f"expired {row['expires_at']:%Y-%m-%d %H:%M}"
        elif row["expires_at"]:
            state = f"live until {row['expires_at']:%Y-%m-%d %H:%M:%S}"
        else:
            state = "live"
        origins = ",".join(row["allowed_origins"]) or "-"
        click.echo(
            f"{row['name']}\t{row['kind']}\t{row['key_hint']}...\t"
            f"{row['per_minute']}/min\t{row['per_day']}/day\t{origins}\t{state}"
        )


@pgbouncer_group.command("start")
def pgbouncer_start():
    """Start pgbouncer in front of the app's database; print the URL to use through it
    (with DATABASE_POOLER=pgbouncer)."""
    url = pgbouncer.start_daemon(
        _pgbouncer_root(),
        resolve_database_url(current_app),
        current_app.config["STATEMENT_TIMEOUT_MS"],
    )
    click.echo(url)


@pgbouncer_group.command("stop")
def pgbouncer_stop():
    """Stop the pgbouncer that `pgbouncer start` started."""
    click.echo("stopped" if pgbouncer.stop_daemon(_pgbouncer_root()) else "not running")


def _pgbouncer_root() -> Path:
    return Path(current_app.instance_path) / "pgbouncer"


@contextmanager
def _key_errors():
    """A refused key or token operation is the operator's mistake: a message, not a
    traceback."""
    try:
        yield
    except LocatorError as error:
        raise click.ClickException(error.detail) from error


def init_app(app: Flask) -> None:
    app.cli.add_command(locator)

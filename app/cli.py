"""`flask locator ...`: import data, migrate the schema, manage the embedded cluster."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app import schema
from app.database import embedded_cluster
from app.extensions import db
from app.geocoding import load_gazetteer
from app.importing import (
    ImportFileError,
    ImportOptions,
    ImportReport,
    import_file,
    load_demo_data,
)
from app.queries.geocoding import gazetteer_size
from app.queries.locations import network_is_empty
from app.services import tokens

locator = AppGroup("locator", help="Pickup-point locator commands.")
db_group = AppGroup("db", help="Schema migrations (Alembic).")
postgres_group = AppGroup("postgres", help="The embedded PostGIS cluster under instance/.")
token_group = AppGroup("token", help="Admin API tokens.")
locator.add_command(db_group)
locator.add_command(postgres_group)
locator.add_command(token_group)

MAX_REJECTIONS_SHOWN = 50


def _print_report(report: ImportReport) -> None:
    for rejection in report.rejected[:MAX_REJECTIONS_SHOWN]:
        click.echo(f"  rejected {rejection.describe(report.unit)}", err=True)
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
def import_command(path, skip_invalid, dry_run, make_valid, no_progress):
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


@token_group.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(tokens.SCOPES),
    default=tokens.SCOPES,
    show_default=True,
    help="Repeatable.",
)
def token_create(name, scopes):
    """Create a token NAME and print it; only its hash is stored, so keep it now."""
    with db.transaction() as connection:
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


def init_app(app: Flask) -> None:
    app.cli.add_command(locator)

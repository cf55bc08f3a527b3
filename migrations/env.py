"""Alembic environment: runs on the connection the app hands over (see app/migrations.py)."""

from alembic import context
from geoalchemy2 import alembic_helpers

from app.models import Base

config = context.config


def run_migrations() -> None:
    """Run online against ``config.attributes["connection"]``; offline SQL is not supported."""
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # Keep PostGIS's own tables and implicit spatial indexes out of autogenerate diffs.
        include_object=alembic_helpers.include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()

"""Import at scale (issue 11): attributes, position source.

- ``attributes`` (jsonb) on locations, service areas and regions: the extra columns or
  properties of the file a row came from, kept inert (never mapped onto columns) and
  shown in the planner's popups.
- ``position_source`` and ``position_confidence`` on locations: whether the position
  was in the file or placed by the offline gazetteer from the postcode or city, and how
  sure that match is.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE locations
            ADD COLUMN attributes jsonb,
            ADD COLUMN position_source text NOT NULL DEFAULT 'file',
            ADD COLUMN position_confidence double precision,
            ADD CONSTRAINT locations_position_source_allowed
                CHECK (position_source IN ('file', 'gazetteer')),
            ADD CONSTRAINT locations_position_confidence_range
                CHECK (position_confidence >= 0 AND position_confidence <= 1),
            ADD CONSTRAINT locations_attributes_object
                CHECK (jsonb_typeof(attributes) = 'object')
        """
    )
    op.execute("ALTER TABLE service_areas ADD COLUMN attributes jsonb")
    op.execute(
        """
        ALTER TABLE regions
            ADD COLUMN attributes jsonb,
            ADD CONSTRAINT regions_attributes_object CHECK (jsonb_typeof(attributes) = 'object')
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE regions DROP COLUMN attributes")
    op.execute("ALTER TABLE service_areas DROP COLUMN attributes")
    op.execute(
        "ALTER TABLE locations DROP COLUMN attributes, DROP COLUMN position_source,"
        " DROP COLUMN position_confidence"
    )

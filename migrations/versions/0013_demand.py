"""Demand sets for planning (issue 16).

A demand set is a named collection of weighted points: historic orders, or population
points. Planning (coverage summary, what-if) reads them; the one import pipeline
(``flask locator import FILE --dataset demand --demand-set NAME``) writes them. A set's
points go with the set (ON DELETE CASCADE), so re-importing a set can replace it whole.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE demand_sets (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name text NOT NULL,
            imported_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT demand_sets_name_key UNIQUE (name),
            CONSTRAINT demand_sets_name_format CHECK (name ~ '^[A-Za-z0-9._:-]{1,64}$')
        )
        """
    )
    op.execute(
        """
        CREATE TABLE demand_points (
            set_id bigint NOT NULL REFERENCES demand_sets (id) ON DELETE CASCADE,
            id bigint GENERATED ALWAYS AS IDENTITY,
            geom geometry(Point, 4326) NOT NULL,
            -- finite and positive: shares are sums of weights, and a zero or infinite
            -- weight would make them meaningless
            weight double precision NOT NULL,
            label text,
            PRIMARY KEY (set_id, id),
            CONSTRAINT demand_points_weight_positive
                CHECK (weight > 0 AND weight < 'Infinity'),
            CONSTRAINT demand_points_label_length CHECK (length(label) <= 200)
        )
        """
    )
    op.execute("CREATE INDEX demand_points_geom_gist ON demand_points USING gist (geom)")
    op.execute("CREATE INDEX demand_points_set ON demand_points (set_id)")


def downgrade() -> None:
    op.execute("DROP TABLE demand_points")
    op.execute("DROP TABLE demand_sets")

"""Fulfilment: products, stock lines, fulfilment settings (issue 12).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE products (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            sku text NOT NULL CONSTRAINT products_sku_key UNIQUE,
            name text NOT NULL,
            temperature text NOT NULL DEFAULT 'ambient',
            length_mm integer,
            width_mm integer,
            height_mm integer,
            weight_g integer,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT products_sku_format
                CHECK (sku ~ '^[A-Za-z0-9._-]+$' AND length(sku) <= 64),
            CONSTRAINT products_name_not_blank CHECK (btrim(name) <> ''),
            CONSTRAINT products_temperature_allowed
                CHECK (temperature IN ('ambient', 'chilled', 'frozen')),
            CONSTRAINT products_sizes_positive CHECK (
                (length_mm IS NULL OR length_mm > 0) AND (width_mm IS NULL OR width_mm > 0)
                AND (height_mm IS NULL OR height_mm > 0) AND (weight_g IS NULL OR weight_g > 0))
        )
        """
    )
    # Narrow rows keyed by (location, sku): a million of them is the expected feed size.
    # No foreign keys: their checks run row by row, and made the first load of a
    # million lines take 86 s instead of seconds. The importer checks every location
    # and SKU against the tables before it writes, and a statement-level trigger
    # removes a deleted location's lines (what ON DELETE CASCADE would do).
    op.execute(
        """
        CREATE TABLE stock (
            location_id bigint NOT NULL,
            sku text NOT NULL,
            on_hand integer NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT stock_pkey PRIMARY KEY (location_id, sku),
            CONSTRAINT stock_on_hand_not_negative CHECK (on_hand >= 0)
        )
        """
    )
    # Deleting a product looks its stock up by sku.
    op.execute("CREATE INDEX stock_sku ON stock (sku)")
    op.execute(
        """
        CREATE FUNCTION stock_forget_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_TABLE_NAME = 'locations' THEN
                DELETE FROM stock WHERE location_id IN (SELECT id FROM gone);
            ELSE
                DELETE FROM stock WHERE sku IN (SELECT sku FROM gone);
            END IF;
            RETURN NULL;
        END $$
        """
    )
    for table in ("locations", "products"):
        op.execute(
            f"CREATE TRIGGER {table}_forget_stock AFTER DELETE ON {table}"
            " REFERENCING OLD TABLE AS gone FOR EACH STATEMENT"
            " EXECUTE FUNCTION stock_forget_deleted()"
        )
    op.execute(
        """
        CREATE TABLE fulfilment_settings (
            location_id bigint NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
            mode text NOT NULL,
            prep_minutes integer NOT NULL,
            cutoff time without time zone,
            daily_capacity integer,
            departures text,
            lead_minutes integer,
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT fulfilment_settings_pkey PRIMARY KEY (location_id, mode),
            CONSTRAINT fulfilment_settings_mode_allowed
                CHECK (mode IN ('pickup', 'express', 'delivery', 'supply')),
            CONSTRAINT fulfilment_settings_prep_range CHECK (prep_minutes BETWEEN 0 AND 10080),
            CONSTRAINT fulfilment_settings_capacity_not_negative
                CHECK (daily_capacity IS NULL OR daily_capacity >= 0),
            CONSTRAINT fulfilment_settings_lead_range
                CHECK (lead_minutes IS NULL OR lead_minutes BETWEEN 0 AND 10080)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE fulfilment_settings")
    op.execute("DROP TRIGGER locations_forget_stock ON locations")
    op.execute("DROP TABLE stock")
    op.execute("DROP TABLE products")
    op.execute("DROP FUNCTION stock_forget_deleted()")

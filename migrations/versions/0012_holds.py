"""Holds and orders (issue 13, DESIGN §4.6).

A hold reserves stock lines and a unit of a local day's capacity for a shopper between
choosing an option and paying; confirmed, it is an order until it is collected,
cancelled, or its pickup window ends. Everything lives in tables of its own, never in
``locations`` or ``stock``: a hold writes nothing that a stock feed or an import writes
(and nothing that bumps ``data_version``, migration 0009), so neither waits for the
other.

- ``holds``: one row per hold (later, per order: the same id). Whether it still keeps
  its stock and its capacity is a comparison of time columns with the moment of the
  question (app/queries/holds.py), so expiry needs no job; ``flask locator holds
  purge`` only deletes old rows. ``idempotency_key`` is unique: a retried request finds
  the hold its first attempt made, in the same transaction that made it.
- ``hold_lines``: the units kept, per location and SKU (a transfer keeps the lacking
  lines at the warehouse, the others at the pickup point).
- ``hold_capacity``: the day's capacity each hold uses, per location and mode, on the
  location's local day (a transfer also uses the warehouse's ``supply`` day).
- ``hold_locks``: one row per (location, resource) that holds serialise on with
  ``SELECT ... FOR UPDATE`` (a SKU's stock, a mode's day); see app/services/holds.py.

No foreign keys to locations: a foreign key check would lock the location's row (KEY
SHARE) and make holds queue behind an import that deletes locations.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE holds (
            id uuid PRIMARY KEY,
            idempotency_key text NOT NULL CONSTRAINT holds_idempotency_key_key UNIQUE,
            request_sha256 text NOT NULL,
            status text NOT NULL DEFAULT 'held',
            location_id bigint NOT NULL,
            mode text NOT NULL,
            source text NOT NULL,
            supplied_from_id bigint,
            ready_at timestamptz NOT NULL,
            arrive_by timestamptz,
            created_at timestamptz NOT NULL,
            expires_at timestamptz NOT NULL,
            confirmed_at timestamptz,
            collect_by timestamptz,
            ended_at timestamptz,
            CONSTRAINT holds_status_allowed CHECK (status IN
                ('held', 'ordered', 'released', 'expired', 'collected', 'cancelled')),
            CONSTRAINT holds_mode_allowed CHECK (mode IN ('pickup', 'express', 'delivery')),
            CONSTRAINT holds_source_allowed CHECK (source IN ('stock', 'transfer')),
            CONSTRAINT holds_idempotency_key_format
                CHECK (idempotency_key ~ '^[!-~]{1,255}$'),
            CONSTRAINT holds_order_collect_by
                CHECK (status NOT IN ('ordered', 'collected') OR collect_by IS NOT NULL)
        )
        """
    )
    # The purge finds old rows by when they stopped mattering.
    op.execute("CREATE INDEX holds_expires_at ON holds (expires_at)")
    op.execute(
        """
        CREATE TABLE hold_lines (
            hold_id uuid NOT NULL REFERENCES holds (id) ON DELETE CASCADE,
            location_id bigint NOT NULL,
            sku text NOT NULL,
            qty integer NOT NULL,
            CONSTRAINT hold_lines_pkey PRIMARY KEY (hold_id, location_id, sku),
            CONSTRAINT hold_lines_qty_positive CHECK (qty > 0)
        )
        """
    )
    # Availability sums the lines of a (location, sku): this index serves it.
    op.execute("CREATE INDEX hold_lines_stock ON hold_lines (location_id, sku)")
    op.execute(
        """
        CREATE TABLE hold_capacity (
            hold_id uuid NOT NULL REFERENCES holds (id) ON DELETE CASCADE,
            location_id bigint NOT NULL,
            mode text NOT NULL,
            day date NOT NULL,
            CONSTRAINT hold_capacity_pkey PRIMARY KEY (hold_id, location_id, mode),
            CONSTRAINT hold_capacity_mode_allowed
                CHECK (mode IN ('pickup', 'express', 'delivery', 'supply'))
        )
        """
    )
    op.execute("CREATE INDEX hold_capacity_day ON hold_capacity (location_id, mode, day)")
    op.execute(
        """
        CREATE TABLE hold_locks (
            location_id bigint NOT NULL,
            resource text NOT NULL,
            CONSTRAINT hold_locks_pkey PRIMARY KEY (location_id, resource)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE hold_locks")
    op.execute("DROP TABLE hold_capacity")
    op.execute("DROP TABLE hold_lines")
    op.execute("DROP TABLE holds")

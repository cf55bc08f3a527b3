"""Precomputed location clusters for low-zoom tiles (issue 15).

Below zoom 12 a location tile is a count per cell of a 64 x 64 grid (app/queries/
tiles.py). Counting those cells from the points costs a read of every location in the
tile: at a million locations, 0.3 s for a z 8 tile over a dense region and seconds for
a world view. ``location_tile_cells`` holds every cell of that grid at every such zoom:
for tile zoom z, the cells are the tiles of zoom z + 6, so a tile reads at most 4,096
rows of one primary-key range, whatever the network.

A cell keeps sums, not a list: its count, the sums of its locations' positions on a
2^32 x 2^32 Web Mercator grid (integers: the same points give the same sums whatever
order they came and went in, so a tile is exactly what a fresh count would give), and
the sum of their ids, which for a cell of one location is that location's id (the
tile joins it for its attributes).

Kept in step by statement-level triggers with transition tables, in the writing
transaction, rather than rebuilt after an import keyed by the data version (migration
0009): sums are exactly maintainable by adding the new rows and subtracting the old
ones, so every write path (import, admin PUT, DELETE, psql) is covered without being
told, a reader never sees locations and cells disagree, and there is no window after
an import in which tiles are slow or stale. A rebuild would cost a bulk import the same
and every small import far more. The price is paid by the bulk load: a million new
locations make about 2.9 million cell rows (about 280 MB), and the trigger added 35 to
55 s to such an import on this loaded 2-core machine; an admin write changes 12 cells.
Retired locations and those beyond Mercator's latitudes are in no cell (no tile shows
them). TRUNCATE of locations empties the cells.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# Tile zooms 0..11 are clustered (POINT_MIN_ZOOM 12) on 64 x 64 cells (2^6): cell zooms
# 6..17. The position grid is 2^32 wide: a cell of zoom c is position >> (32 - c).
MIN_CELL_ZOOM = 6
MAX_CELL_ZOOM = 17
GRID_BITS = 32
# Web Mercator's latitude limit: atan(sinh(pi)) in degrees.
MERCATOR_MAX_LAT = 85.0511287798066

_ZOOMS = range(MIN_CELL_ZOOM, MAX_CELL_ZOOM + 1)
# The finest cells from the rows, in one pass; each coarser zoom sums the cells of the
# next finer one (a quarter as many rows each time, and small hash tables).
_LEVELS = ",\n".join(
    [
        f"""cells_{MAX_CELL_ZOOM} AS (
    SELECT px >> {GRID_BITS - MAX_CELL_ZOOM} AS cx, py >> {GRID_BITS - MAX_CELL_ZOOM} AS cy,
           sum(sign) AS count, sum(sign * px) AS sum_x, sum(sign * py) AS sum_y,
           sum(sign * id) AS sum_id
    FROM positions GROUP BY 1, 2
)"""
    ]
    + [
        f"""cells_{z} AS (
    SELECT cx >> 1 AS cx, cy >> 1 AS cy, sum(count) AS count, sum(sum_x) AS sum_x,
           sum(sum_y) AS sum_y, sum(sum_id) AS sum_id
    FROM cells_{z + 1} GROUP BY 1, 2
)"""
        for z in reversed(_ZOOMS[:-1])
    ]
)


def _apply(changed: str) -> str:
    """The statement that adds ``changed`` (rows of id, geog and a sign: +1 counts a
    location in, -1 out) to the cells; it returns the cells it left empty, as arrays."""
    return f"""
WITH changed AS ({changed}),
positions AS (
    SELECT sign, id,
           least({2**GRID_BITS - 1}, floor((ST_X(g) + 180) / 360 * {2**GRID_BITS}))::bigint AS px,
           least({2**GRID_BITS - 1}, greatest(0, floor(
               (1 - ln(tan(pi() / 4 + radians(ST_Y(g)) / 2)) / pi()) / 2 * {2**GRID_BITS}
           )))::bigint AS py
    FROM (SELECT sign, id, geog::geometry AS g FROM changed) AS c
    WHERE ST_Y(g) BETWEEN -{MERCATOR_MAX_LAT} AND {MERCATOR_MAX_LAT}
),
{_LEVELS},
delta AS (
    {" UNION ALL ".join(f"SELECT {z} AS zoom, * FROM cells_{z}" for z in _ZOOMS)}
),
-- Cells that exist take the sums; new ones are inserted: two set-based statements (hash
-- joins when an import changes many cells), and no insert of a negative row first, as
-- INSERT ... ON CONFLICT would check. Both see the table as it was before, so they are
-- disjoint; writers to locations queue on the data version's row (migration 0009)
-- before they get here, so no other transaction adds a cell in between.
written AS (
    UPDATE location_tile_cells AS t SET
        count = t.count + d.count, sum_x = t.sum_x + d.sum_x,
        sum_y = t.sum_y + d.sum_y, sum_id = t.sum_id + d.sum_id
    FROM delta AS d
    WHERE t.zoom = d.zoom AND t.cx = d.cx AND t.cy = d.cy
      -- An update that did not move a location (or change whether it is shown)
      -- changes no cell.
      AND (d.count, d.sum_x, d.sum_y, d.sum_id) <> (0, 0, 0, 0)
    RETURNING t.zoom, t.cx, t.cy, t.count
),
added AS (
    INSERT INTO location_tile_cells (zoom, cx, cy, count, sum_x, sum_y, sum_id)
    SELECT zoom, cx, cy, count, sum_x, sum_y, sum_id FROM delta AS d
    WHERE (d.count, d.sum_x, d.sum_y, d.sum_id) <> (0, 0, 0, 0)
      AND NOT EXISTS (
          SELECT FROM location_tile_cells AS t
          WHERE t.zoom = d.zoom AND t.cx = d.cx AND t.cy = d.cy)
)
SELECT array_agg(zoom), array_agg(cx), array_agg(cy) FROM written WHERE count = 0"""


_SHOWN = "status <> 'retired'"
# What each write adds and takes away: its transition tables (new_rows, old_rows).
_CHANGED = {
    "insert": f"SELECT 1 AS sign, id, geog FROM new_rows WHERE {_SHOWN}",
    "update": f"SELECT 1 AS sign, id, geog FROM new_rows WHERE {_SHOWN}"
    f" UNION ALL SELECT -1, id, geog FROM old_rows WHERE {_SHOWN}",
    "delete": f"SELECT -1 AS sign, id, geog FROM old_rows WHERE {_SHOWN}",
}
_REFERENCING = {
    "insert": "NEW TABLE AS new_rows",
    "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "OLD TABLE AS old_rows",
}


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE location_tile_cells (
            zoom smallint NOT NULL,
            cx integer NOT NULL,
            cy integer NOT NULL,
            count integer NOT NULL,
            sum_x bigint NOT NULL,
            sum_y bigint NOT NULL,
            sum_id bigint NOT NULL,
            CONSTRAINT location_tile_cells_pkey PRIMARY KEY (zoom, cx, cy),
            CONSTRAINT location_tile_cells_zoom
                CHECK (zoom BETWEEN {MIN_CELL_ZOOM} AND {MAX_CELL_ZOOM}),
            -- Between the statements of one trigger run a cell may be empty, never less.
            CONSTRAINT location_tile_cells_count CHECK (count >= 0)
        )
        """
    )
    for event, changed in _CHANGED.items():
        # One function per event: each reads the transition tables its trigger has.
        op.execute(
            f"""
            CREATE FUNCTION location_tile_cells_{event}() RETURNS trigger
            LANGUAGE plpgsql AS $$
            DECLARE
                zooms smallint[];
                cxs bigint[];
                cys bigint[];
            BEGIN
                {_apply(changed)} INTO zooms, cxs, cys;
                -- Cells left empty go: a cell row holds at least one location.
                DELETE FROM location_tile_cells AS t
                USING unnest(zooms, cxs, cys) AS e(zoom, cx, cy)
                WHERE (t.zoom, t.cx, t.cy) = (e.zoom, e.cx, e.cy) AND t.count = 0;
                RETURN NULL;
            END
            $$
            """
        )
        op.execute(
            f"""
            CREATE TRIGGER locations_tile_cells_{event}
            AFTER {event.upper()} ON locations REFERENCING {_REFERENCING[event]}
            FOR EACH STATEMENT EXECUTE FUNCTION location_tile_cells_{event}()
            """
        )
    op.execute(
        """
        CREATE FUNCTION location_tile_cells_truncate() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            -- Not TRUNCATE: a TRUNCATE of both tables at once (as the tests' reset does)
            -- still holds this one open here.
            DELETE FROM location_tile_cells;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER locations_tile_cells_truncate AFTER TRUNCATE ON locations
        FOR EACH STATEMENT EXECUTE FUNCTION location_tile_cells_truncate()
        """
    )
    # Locations already there (an upgrade of a loaded database) are counted in once.
    op.execute(_apply(f"SELECT 1 AS sign, id, geog FROM locations WHERE {_SHOWN}"))


def downgrade() -> None:
    for event in (*_CHANGED, "truncate"):
        op.execute(f"DROP TRIGGER locations_tile_cells_{event} ON locations")
        op.execute(f"DROP FUNCTION location_tile_cells_{event}()")
    op.execute("DROP TABLE location_tile_cells")

"""Vector tiles of the network (DESIGN §4.8): which tiles exist, what they hold, their ETag.

A tile's ETag is the data version (migration 0009: every write to locations, service
areas or regions bumps it) with a fingerprint of the request, so a client's copy stays
valid exactly until the network changes, and checking it costs one tiny query.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from app.errors import NotFound
from app.limits import MAX_TILE_ZOOM
from app.paging import fingerprint
from app.queries import tiles as sql

LAYERS = ("locations", "service_areas")


@dataclass(frozen=True)
class TileRequest:
    """One tile of one layer; ``modes`` filters the service_areas layer."""

    layer: str
    z: int
    x: int
    y: int
    modes: tuple[str, ...] = ()

    def __post_init__(self):
        if self.layer not in LAYERS:
            raise NotFound(f"no tile layer {self.layer!r}", field="layer", message="no such layer")
        if not 0 <= self.z <= MAX_TILE_ZOOM:
            raise NotFound(
                f"no tiles at zoom {self.z}", field="z", message=f"must be 0..{MAX_TILE_ZOOM}"
            )
        side = 2**self.z
        for name in ("x", "y"):
            if not 0 <= getattr(self, name) < side:
                raise NotFound(
                    f"no tile {self.z}/{self.x}/{self.y}",
                    field=name,
                    message=f"must be 0..{side - 1} at zoom {self.z}",
                )


def etag(connection: Connection, tile: TileRequest) -> str:
    """The tile's current entity tag: the data version and what was asked for."""
    return _etag(sql.data_version(connection), tile)


def render(connection: Connection, tile: TileRequest) -> tuple[str, bytes]:
    """The tile's entity tag and its Mapbox Vector Tile bytes (empty when nothing is in
    it), read in one statement."""
    if tile.layer == "locations":
        version, body = sql.locations_tile(connection, tile.z, tile.x, tile.y)
    else:
        version, body = sql.service_areas_tile(connection, tile.z, tile.x, tile.y, list(tile.modes))
    return _etag(version, tile), body


def _etag(version: int, tile: TileRequest) -> str:
    return f"{version}-{fingerprint(tile)}"


def data_extent(connection: Connection) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) where nearly all of the network is, for opening a map."""
    return sql.data_extent(connection)

"""Vector tiles of the network (DESIGN §4.8): which tiles exist, what they hold, their ETag.

A tile's ETag is the data version (migration 0009: every write to locations, service
areas or regions bumps it) with a fingerprint of the request, so a client's copy stays
valid exactly until the network changes, and checking it costs one tiny query.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from cachetools import LRUCache
from sqlalchemy import Connection, Engine

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


class TileCache:
    """Rendered tiles of one database, by data version and request, least recently used
    out, bounded in bytes; a tile larger than a tenth of it is not kept.

    A map's users ask for the same tiles (the national view, a city's), and a client
    whose copy expired re-asks for the tile it had: such a repeat costs the version
    query instead of the tile statement. A tile is stored under the version its own
    statement read, in the same snapshot as its rows, so it is exactly that version's
    tile; a write makes every stored tile unreachable at once (the version moves on),
    and they age out.
    """

    def __init__(self, max_bytes: int):
        self._tiles: LRUCache = LRUCache(maxsize=max(max_bytes, 1), getsizeof=len)
        self._largest = max_bytes // 10
        self._lock = threading.Lock()  # threaded servers share one cache per process

    def get(self, key) -> bytes | None:
        with self._lock:
            return self._tiles.get(key)

    def put(self, key, body: bytes) -> None:
        if len(body) <= self._largest:
            with self._lock:
                self._tiles[key] = body


_caches: weakref.WeakKeyDictionary[Engine, TileCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache(engine: Engine, max_bytes: int) -> TileCache | None:
    if max_bytes <= 0:
        return None
    with _caches_lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = TileCache(max_bytes)
        return cache


def render(connection: Connection, tile: TileRequest, cache_bytes: int = 0) -> tuple[str, bytes]:
    """The tile's entity tag and its Mapbox Vector Tile bytes (empty when nothing is in
    it): from the cache of up to ``cache_bytes`` when it holds the tile of the current
    version, else read in one statement (with its version)."""
    cache = _cache(connection.engine, cache_bytes)
    if cache is not None:
        version = sql.data_version(connection)
        body = cache.get((version, tile))
        if body is not None:
            return _etag(version, tile), body
    if tile.layer == "locations":
        version, body = sql.locations_tile(connection, tile.z, tile.x, tile.y)
    else:
        version, body = sql.service_areas_tile(connection, tile.z, tile.x, tile.y, list(tile.modes))
    if cache is not None:
        cache.put((version, tile), body)
    return _etag(version, tile), body


def _etag(version: int, tile: TileRequest) -> str:
    return f"{version}-{fingerprint(tile)}"


def data_extent(connection: Connection) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) where nearly all of the network is, for opening a map."""
    return sql.data_extent(connection)

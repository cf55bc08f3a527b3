"""Readers: a CSV or GeoJSON file in, a stream of numbered rows out.

Each Row carries its number (the CSV line, the header being line 1, or the GeoJSON
feature number), the fields the dataset defines, the geometry, the extra fields kept as
inert attributes, and what made the row unreadable as a whole, if anything.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, NamedTuple

import orjson

from app.importing.report import ImportFileError

# Names that belong to the database, never to a file: a file carrying one is refused
# rather than mapped onto the column (mass assignment, OWASP API3).
INTERNAL_FIELDS = frozenset(
    {
        "id",
        "location_id",
        "created_at",
        "updated_at",
        "geog",
        "geom",
        "attributes",
        "position_source",
        "position_confidence",
    }
)


class Row(NamedTuple):
    number: int
    fields: dict
    geometry: object = None
    attributes: dict | None = None  # extra columns or properties, kept as they are
    problems: tuple[tuple[str | None, str], ...] = ()  # the row cannot be read at all


@dataclass
class Header:
    """The columns (CSV) or properties (GeoJSON) a file adds to its dataset's, kept as
    attributes; GeoJSON's are known once every feature has been read."""

    extra: dict[str, None] = field(default_factory=dict)


def csv_header(stream: IO[str]) -> list[str]:
    """The first line's column names; the stream is rewound."""
    first_line = stream.readline()
    stream.seek(0)
    return next(csv.reader([first_line]), [])


def read_csv(
    stream: IO[str], allowed: tuple[str, ...], required: tuple[str, ...], keeps_attributes: bool
) -> tuple[Header, Iterator[Row]]:
    """The header is checked now, not on the first row: a file error raised while rows
    are being copied to PostgreSQL would break the COPY and lose the connection."""
    reader = csv.DictReader(stream)
    header = reader.fieldnames or []
    if len(set(header)) != len(header):
        raise ImportFileError("a column name appears twice in the header")
    internal = [name for name in header if name in INTERNAL_FIELDS]
    if internal:
        raise ImportFileError(
            f"internal column(s) {', '.join(internal)} are refused: the database sets them"
        )
    extra = tuple(name for name in header if name not in allowed)
    if extra and not keeps_attributes:
        raise ImportFileError(
            f"unknown column(s) {', '.join(name[:64] for name in extra[:10])}; "
            f"allowed: {', '.join(allowed)}"
        )
    missing = [name for name in required if name not in header]
    if missing:
        raise ImportFileError(f"missing required column(s): {', '.join(missing)}")
    return Header(dict.fromkeys(extra)), _csv_rows(reader, extra)


def _csv_rows(reader: csv.DictReader, extra: tuple[str, ...]) -> Iterator[Row]:
    try:
        for raw in reader:
            if None in raw:
                yield Row(reader.line_num, {}, problems=((None, TOO_MANY_CELLS),))
                continue
            if not extra:
                yield Row(reader.line_num, raw)
                continue
            attributes = {name: raw.pop(name) for name in extra}
            yield Row(reader.line_num, raw, attributes=_kept(attributes))
    except csv.Error as error:
        # A row the csv module cannot read (a cell over its size limit, a NUL): reported
        # as that row's error; raising here, mid-COPY, would lose the connection.
        yield Row(reader.line_num, {}, problems=((None, f"unreadable CSV: {error}"),))


TOO_MANY_CELLS = "more cells than the header has columns"


def _kept(attributes: dict) -> dict | None:
    """The attributes worth keeping: empty cells are dropped, and nothing is interpreted."""
    kept = {name: value for name, value in attributes.items() if value not in ("", None)}
    return kept or None


def load_features(text: str) -> list:
    """The features of a GeoJSON FeatureCollection.

    orjson: strict (no NaN or Infinity literals, which GeoJSON does not allow) and
    bounded in depth without recursing in Python (json.load overflowed the stack on a
    body nested a few thousand levels deep).
    """
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise ImportFileError(f"not valid JSON: {error}") from error
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ImportFileError("GeoJSON must be a FeatureCollection")
    if "crs" in document:
        raise ImportFileError("a 'crs' member is not accepted: coordinates must be WGS84")
    features = document.get("features")
    if not isinstance(features, list):
        raise ImportFileError("FeatureCollection has no 'features' list")
    return features


def sample_properties(features: list) -> dict:
    """The first feature's properties: what tells the dataset of a GeoJSON file."""
    sample = next((f for f in features if isinstance(f, dict)), {})
    properties = sample.get("properties") or {}
    return properties if isinstance(properties, dict) else {}


def read_features(
    features: list, allowed: tuple[str, ...], keeps_attributes: bool
) -> tuple[Header, Iterator[Row]]:
    """Rows from GeoJSON features. Properties the dataset does not define are its
    attributes when it keeps them, else each is a problem of its feature."""
    header = Header()

    def rows() -> Iterator[Row]:
        for number, feature in enumerate(features, start=1):
            if not isinstance(feature, dict) or feature.get("type") != "Feature":
                yield Row(number, {}, problems=((None, "not a GeoJSON Feature"),))
                continue
            properties = feature.get("properties") or {}
            if not isinstance(properties, dict):
                yield Row(number, {}, problems=((None, "properties must be an object"),))
                continue
            internal = [name for name in properties if name in INTERNAL_FIELDS]
            unknown = [name for name in properties if name not in allowed]
            if internal or (unknown and not keeps_attributes):
                refused = internal or unknown
                reason = "internal field (not importable)" if internal else "unknown property"
                yield Row(number, {}, problems=tuple((name, reason) for name in refused))
                continue
            fields_ = {name: properties[name] for name in allowed if name in properties}
            attributes = None
            if unknown:
                header.extra.update(dict.fromkeys(unknown))
                attributes = _kept({name: properties[name] for name in unknown})
            yield Row(number, fields_, feature.get("geometry"), attributes)

    return header, rows()

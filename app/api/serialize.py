"""Rows from app/queries -> the JSON and GeoJSON shapes of DESIGN §4.2."""

from __future__ import annotations


def location_json(row: dict) -> dict:
    """One location as the API shows it (distance_m only when the row has one)."""
    body = {
        "id": row["id"],
        "external_id": row["external_id"],
        "name": row["name"],
        "brand": row["brand"],
        "kind": row["kind"],
        "lat": row["lat"],
        "lon": row["lon"],
    }
    if "distance_m" in row:
        body["distance_m"] = round(row["distance_m"], 1)
    if "duration_s" in row:  # ranked by travel time (app/services/roads.py)
        body["duration_s"] = round(row["duration_s"], 1)
        body["road_distance_m"] = round(row["road_distance_m"], 1)
    next_change = row.get("next_change")
    body.update(
        address={
            "line1": row["address_line1"],
            "city": row["city"],
            "region": row["region"],
            "postcode": row["postcode"],
            "country": row["country"],
        },
        capabilities=row["capabilities"],
        opening_hours=row["opening_hours"],
        timezone=row["timezone"],
        status=row["status"],
        is_open=row.get("is_open"),
        next_change=next_change.isoformat() if next_change else None,
    )
    return body


def feature_collection(items: list[dict], **members) -> dict:
    """The same items as GeoJSON Point features ([lon, lat]); extra top-level members kept."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": item["external_id"],
                "geometry": {"type": "Point", "coordinates": [item["lon"], item["lat"]]},
                "properties": item,
            }
            for item in items
        ],
        **members,
    }


def served_json(answer: dict) -> dict:
    """A coverage answer (app/services/coverage.py) with distances to a tenth of a metre."""
    return {
        **answer,
        "served_by": [
            {**row, "distance_m": round(row["distance_m"], 1)} for row in answer["served_by"]
        ],
    }

"""Files as retailers have them: extra columns, zones made of many polygons, positions
that are valid but wrong, and rows with an address but no position."""

import csv
import json
from pathlib import Path

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import shape
from sqlalchemy import text

from app.importing import ImportFileError, ImportOptions, import_file

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
HEADER = "external_id,name,kind,lat,lon,city,region,postcode,country"
GEOD = Geod(ellps="WGS84")


def write(path, body):
    path.write_text(body)
    return path


def locations(tmp_path, *rows, header=HEADER):
    return write(tmp_path / "l.csv", header + "\n" + "\n".join(rows) + "\n")


GOOD = "a,Union Market,store,38.9087,-76.9973,Washington,DC,20002,US"
LATER = "c,Navy Yard,store,38.8765,-77.0036,Washington,DC,20003,US"


@pytest.mark.parametrize(
    ("row", "check", "field"),
    [
        ("b,Null Island,store,0,0,Los Angeles,CA,90012,US", "zero_position", "lat"),
        ("b,Broadway store,store,90,-118.24,Los Angeles,CA,90012,US", "pole", "lat"),
        ("b,Mexico City store,store,19.43,-99.13,Los Angeles,CA,,US", "outside_country", "country"),
        (
            "b,Downtown LA,store,40.71,-74.0,Los Angeles,CA,90012,US",
            "far_from_postcode",
            "postcode",
        ),
    ],
)
def test_a_plausibility_check_in_the_middle_writes_nothing_and_names_the_row(
    connection, tmp_path, row, check, field
):
    path = locations(tmp_path, GOOD, row, LATER)
    report = import_file(connection, path, ImportOptions())
    assert not report.applied
    assert [(r.row, r.field) for r in report.rejected] == [(3, field)]
    assert f"({check})" in report.rejected[0].message
    assert connection.execute(text("SELECT count(*) FROM locations")).scalar_one() == 0

    allowed = import_file(connection, path, ImportOptions(allow=frozenset({check})))
    assert allowed.created == 3
    assert [(w.row, w.field) for w in allowed.warnings] == [(3, field)]


def test_extra_columns_are_kept_as_attributes_and_listed_once(connection, tmp_path):
    path = locations(
        tmp_path,
        GOOD + ",42,north",
        LATER + ",,south",
        header=HEADER + ",store_number,district",
    )
    report = import_file(connection, path, ImportOptions())
    assert report.created == 2 and report.attributes_kept == {
        "store_number": None,
        "district": None,
    }
    assert "kept as attributes: store_number, district" in report.summary()
    stored = dict(connection.execute(text("SELECT external_id, attributes FROM locations")).all())
    assert stored == {"a": {"store_number": "42", "district": "north"}, "c": {"district": "south"}}


def test_a_row_without_a_position_is_placed_by_the_gazetteer(connection, tmp_path):
    header = "external_id,name,kind,city,region,postcode,country"
    path = locations(
        tmp_path,
        "z,By ZIP,store,,,20002,US",
        "y,By city,store,Baltimore,MD,,US",
        "x,Unknown,store,Nowhereville,ZZ,,US",
        "w,Ambiguous,store,Springfield,,,US",
        header=header,
    )
    report = import_file(connection, path, ImportOptions(skip_invalid=True))
    assert [(r.row, r.field) for r in report.rejected] == [(4, "lat"), (5, "lat")]
    assert "does not know" in report.rejected[0].message
    assert "ambiguous" in report.rejected[1].message and "Springfield" in report.rejected[1].message
    rows = connection.execute(
        text(
            "SELECT external_id, position_source, position_confidence, ST_Y(geog::geometry),"
            " ST_X(geog::geometry) FROM locations ORDER BY 1 DESC"
        )
    ).all()
    assert [(r[0], r[1], r[2]) for r in rows] == [("z", "gazetteer", 1.0), ("y", "gazetteer", 0.8)]
    assert abs(rows[0][3] - 38.9) < 0.1 and abs(rows[1][3] - 39.29) < 0.1


def test_dc_zctas_as_delivery_areas_are_merged_into_their_union(connection, tmp_path):
    source = SHARED / "dc_zcta_2010.geojson"
    if not source.exists():
        pytest.skip(f"{source} is absent (real third-party data, not shipped)")
    features = json.loads(source.read_text())["features"]
    stores = ["dc-north", "dc-centre", "dc-south"]
    rows = [f"{s},{s},store,38.9{i},-77.0{i},Washington,DC,,US" for i, s in enumerate(stores)]
    import_file(connection, locations(tmp_path, *rows), ImportOptions())
    for number, feature in enumerate(features):  # several ZCTAs per (location, mode)
        feature["properties"].update(location_external_id=stores[number % 3], mode="delivery")
    areas = write(
        tmp_path / "zcta.geojson", json.dumps({"type": "FeatureCollection", "features": features})
    )
    report = import_file(connection, areas, ImportOptions())
    assert (report.created, report.merged, report.rejected) == (3, len(features) - 3, [])
    assert "ZCTA5CE10" in report.attributes_kept
    for index, store in enumerate(stores):
        expected = shapely.union_all([shape(f["geometry"]) for f in features[index::3]])
        stored = connection.execute(
            text(
                "SELECT ST_AsBinary(a.geom), jsonb_array_length(a.attributes) FROM service_areas a"
                " JOIN locations l ON l.id = a.location_id WHERE l.external_id = :id"
            ),
            {"id": store},
        ).one()
        got = shapely.from_wkb(bytes(stored[0]))
        assert got.symmetric_difference(expected).area < 1e-12 * expected.area + 1e-15
        assert stored[1] == len(features[index::3])


# Positions from ZIP centroids are within this of the Walmart stores' real positions for
# at least 95% of the rows (most ZIPs are a few kilometres across; the rest are rural).
WALMART_P95_KM = 25


def test_walmart_stores_without_lat_lon_are_placed_from_their_zip(connection, tmp_path):
    source = SHARED / "walmart_stores_1962_2006.csv"
    if not source.exists():
        pytest.skip(f"{source} is absent (real third-party data, not shipped)")
    with open(source, newline="") as handle:
        stores = list(csv.DictReader(handle))
    out = tmp_path / "walmart.csv"
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["external_id", "name", "kind", "address", "city", "region", "postcode", "country"]
        )
        for store in stores:  # LAT and LON left out; ZIPs lost their leading zeros
            writer.writerow(
                [
                    f"wm-{store['storenum']}",
                    "Walmart",
                    "store",
                    store["STREETADDR"],
                    store["STRCITY"],
                    store["STRSTATE"],
                    store["ZIPCODE"].zfill(5),
                    "US",
                ]
            )
    report = import_file(connection, out, ImportOptions(skip_invalid=True))
    assert report.created >= 0.95 * len(stores)
    placed = dict(
        (row[0], (row[1], row[2]))
        for row in connection.execute(
            text(
                "SELECT external_id, ST_X(geog::geometry), ST_Y(geog::geometry) FROM locations"
                " WHERE position_source = 'gazetteer'"
            )
        )
    )
    distances = sorted(
        GEOD.inv(float(s["LON"]), float(s["LAT"]), *placed[f"wm-{s['storenum']}"])[2] / 1000
        for s in stores
        if f"wm-{s['storenum']}" in placed
    )
    assert distances[int(0.95 * len(distances))] < WALMART_P95_KM


def test_dataset_says_what_the_header_cannot(connection, tmp_path):
    # Polygons whose first feature has no region_id read as service areas, unless told.
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    features = [
        {"type": "Feature", "geometry": square, "properties": {"name": "No id", "code": "7"}},
        {"type": "Feature", "geometry": square, "properties": {"region_id": "r-2", "name": "Two"}},
    ]
    path = write(
        tmp_path / "r.geojson", json.dumps({"type": "FeatureCollection", "features": features})
    )
    report = import_file(connection, path, ImportOptions(dataset="regions", skip_invalid=True))
    assert report.dataset == "regions" and report.created == 1
    assert [(r.row, r.field) for r in report.rejected] == [(1, "region_id")]
    with pytest.raises(ImportFileError, match="not CSV"):
        import_file(
            connection,
            write(tmp_path / "r.csv", "region_id,name\n"),
            ImportOptions(dataset="regions"),
        )

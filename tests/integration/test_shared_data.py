"""Real third-party files from ../shared/data, imported as a user would (skipped without them)."""

import csv
import subprocess
import sys

import opening_hours
from sqlalchemy import text

from app.importing import ImportOptions, import_file
from tests.conftest import REPO


def test_walmart_stores_import_once_mapped(connection, shared_data, tmp_path):
    converted = tmp_path / "walmart.csv"
    subprocess.run(
        [sys.executable, str(REPO / "bench" / "walmart_to_csv.py"), "--strict", str(converted)],
        check=True,
        capture_output=True,
    )
    with open(shared_data / "walmart_stores_1962_2006.csv", newline="") as handle:
        source_rows = sum(1 for _ in csv.DictReader(handle))

    report = import_file(connection, converted, ImportOptions())
    assert report.rejected == []
    assert report.created == source_rows
    # ZIPs lost their leading zeros in the source; timezones come from the positions.
    bad_postcodes = connection.execute(
        text("SELECT count(*) FROM locations WHERE postcode !~ '^[0-9]{5}$'")
    ).scalar_one()
    assert bad_postcodes == 0
    zones = connection.execute(text("SELECT DISTINCT timezone FROM locations")).scalars().all()
    assert "America/Chicago" in zones and "America/New_York" in zones

    again = import_file(connection, converted, ImportOptions())
    assert (again.created, again.updated, again.unchanged) == (0, 0, source_rows)


def test_real_osm_opening_hours_are_accepted_or_rejected_row_by_row(
    connection, shared_data, tmp_path
):
    samples = (shared_data / "osm_opening_hours_samples.txt").read_text().splitlines()
    path = tmp_path / "hours.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["external_id", "name", "kind", "lat", "lon", "opening_hours", "timezone"])
        for n, hours in enumerate(samples):
            writer.writerow([f"h-{n}", "Shop", "store", "60.17", "24.94", hours, "Europe/Helsinki"])

    report = import_file(connection, path, ImportOptions(skip_invalid=True))

    # The independent oracle: the parser itself, sample by sample (line = index + 2).
    def parses(value):
        try:
            opening_hours.OpeningHours(value)
        except (opening_hours.ParserError, ValueError):
            return False
        return True

    expected_rejected = [
        n + 2 for n, hours in enumerate(samples) if hours.strip() and not parses(hours.strip())
    ]
    assert [r.row for r in report.rejected] == expected_rejected
    assert all(r.field == "opening_hours" for r in report.rejected)
    assert 0 < len(expected_rejected) < len(samples) / 10
    assert report.created == len(samples) - len(expected_rejected)

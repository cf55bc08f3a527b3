"""Convert the real Walmart store-openings file into the project's location import CSV.

Usage (from the repository root, with the project virtualenv)::

    .venv/bin/python bench/walmart_to_csv.py /tmp/walmart.csv
    .venv/bin/python bench/walmart_to_csv.py --source path/to/walmart.csv /tmp/walmart.csv
    .venv/bin/python bench/walmart_to_csv.py --strict /tmp/walmart.csv   # exit 1 on any bad row

The default source is ``<repo>/../shared/data/walmart_stores_1962_2006.csv`` (repo = the
parent of ``bench/``). OUT is required and may not lie inside the repository: the data is
third-party and must not be copied into the project.

Rows that cannot be mapped are reported on stderr with their line number and skipped;
a one-line summary is printed on stderr at the end.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
from pathlib import Path

from app.importing import LOCATION_FIELDS

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "data" / "walmart_stores_1962_2006.csv"

# type_store value -> (display name, capabilities). Supercenters carry groceries and
# run home delivery; classic discount stores offer pickup and returns only.
STORE_TYPES = {
    "Supercenter": ("Walmart Supercenter", "pickup;returns;delivery"),
    "Wal-Mart": ("Walmart", "pickup;returns"),
}

# The 50 states plus DC; anything else in STRSTATE is a data error.
US_STATES = set(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV "
    "NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY".split()
)

# Rough box around the contiguous US, Alaska and Hawaii: outside it a point is most
# likely a geocoding error (e.g. a dropped minus sign), so we warn but keep the row.
US_LAT = (18.0, 72.0)
US_LON = (-180.0, -66.0)

# Tokens that stay uppercase when title-casing addresses: directions, route prefixes
# (US 90, FM 1960 = Farm-to-Market, IH = Interstate Highway) and state codes in
# "IL HWY 1". "LA" and "CO" are left out: in addresses they are usually "La ..."/"Co Rd".
KEEP_UPPER = {
    "N",
    "S",
    "E",
    "W",
    "NE",
    "NW",
    "SE",
    "SW",
    "US",
    "FM",
    "RM",
    "IH",
    "SR",
    "CR",
    "NYS",
    "MLK",
    "PO",
    "NC",
    "SC",
    "TX",
    "IL",
    "GA",
    "PA",
}

ORDINAL = re.compile(r"^(\d+)(ST|ND|RD|TH)$")
DIGITS_WORD = re.compile(r"^(\d+)([A-Z]{3,})$")
WORD = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")


class RowError(ValueError):
    """A source row that cannot be mapped to the import format."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="output CSV path (must be outside the repository)")
    p.add_argument(
        "--source",
        type=Path,
        default=DEFAULT_SOURCE,
        help=f"Walmart CSV to read (default: {DEFAULT_SOURCE})",
    )
    p.add_argument("--strict", action="store_true", help="exit with status 1 if any row fails")
    args = p.parse_args(argv)
    if args.out.resolve().is_relative_to(REPO_ROOT):
        p.error(f"refusing to write third-party data into the repository: {args.out}")
    if not args.source.is_file():
        p.error(f"source file not found: {args.source}")
    return args


def title_word(word: str) -> str:
    """Title-case one uppercase address token, keeping abbreviations and ordinals sane."""
    if word in KEEP_UPPER or len(word) == 1:
        return word  # "N", "US", avenue "I"
    m = ORDINAL.match(word)
    if m:
        return m.group(1) + m.group(2).lower()  # "23RD" -> "23rd", not "23Rd"
    if DIGITS_WORD.match(word):
        return DIGITS_WORD.sub(lambda m: m.group(1) + m.group(2).capitalize(), word)  # "#1SOUTH"
    if word[0].isdigit():
        return word  # "90A", "6140A": route/house suffixes stay uppercase
    if word.startswith("MC") and len(word) > 3:
        return "Mc" + word[2:].capitalize()  # "MCKINNEY" -> "McKinney"
    if "'" in word:
        head, tail = word.split("'", 1)
        # "O'NEAL" -> "O'Neal", but possessives "LOWE'S" -> "Lowe's".
        return head.capitalize() + "'" + (tail.lower() if len(tail) == 1 else tail.capitalize())
    return word.capitalize()


def clean_address(raw: str) -> str:
    """Collapse whitespace and title-case addresses that are all uppercase in the source."""
    text = " ".join(raw.split())
    # Some rows are already mixed case ("9460 W Sam Houston Pkwy S"): keep those as given.
    if text != text.upper():
        return text
    return WORD.sub(lambda m: title_word(m.group(0)), text)


def parse_coord(value: str, lo: float, hi: float, what: str) -> float:
    """Parse a decimal coordinate and check its range."""
    try:
        v = float(value)
    except ValueError:
        raise RowError(f"{what} {value!r} is not a number") from None
    if not math.isfinite(v) or not lo <= v <= hi:
        raise RowError(f"{what} {value!r} is out of range [{lo}, {hi}]")
    return v


def clean_zip(value: str) -> str:
    """Restore a ZIP stored as an integer to 5 digits (e.g. 1234 -> 01234); keep ZIP+4."""
    value = value.strip()
    if re.fullmatch(r"\d{1,5}", value):
        return value.zfill(5)
    if re.fullmatch(r"\d{5}-\d{4}", value):
        return value
    raise RowError(f"ZIPCODE {value!r} is not a US ZIP code")


def fmt_coord(v: float) -> str:
    """Format a coordinate as a plain decimal (never exponent notation), trimmed."""
    return f"{v:.6f}".rstrip("0").rstrip(".")


def map_row(row: dict[str, str]) -> dict[str, str]:
    """Map one source row to an output row (keyed by column); raise RowError if unmappable."""
    storenum = (row.get("storenum") or "").strip()
    if not storenum.isdigit():
        raise RowError(f"storenum {storenum!r} is not a number")
    store_type = (row.get("type_store") or "").strip()
    if store_type not in STORE_TYPES:
        raise RowError(f"unknown type_store {store_type!r}")
    name, capabilities = STORE_TYPES[store_type]
    state = (row.get("STRSTATE") or "").strip().upper()
    if state not in US_STATES:
        raise RowError(f"STRSTATE {state!r} is not a US state code")
    lat = parse_coord(row.get("LAT") or "", -90.0, 90.0, "LAT")
    lon = parse_coord(row.get("LON") or "", -180.0, 180.0, "LON")
    city = " ".join((row.get("STRCITY") or "").split())
    return {
        # Strip leading zeros so "0042" and "42" cannot become two different ids.
        "external_id": f"walmart-{int(storenum)}",
        "name": name,
        "kind": "store",
        "lat": fmt_coord(lat),
        "lon": fmt_coord(lon),
        "brand": "Walmart",
        "address": clean_address(row.get("STREETADDR") or ""),
        "city": city,
        "region": state,
        "postcode": clean_zip(row.get("ZIPCODE") or ""),
        "country": "US",
        "opening_hours": "",  # the source has none, and inventing them would be fiction.
        "timezone": "",  # left to the importer, which derives it from the position.
        "capabilities": capabilities,
        "status": "active",
    }


def outside_us(lat: str, lon: str) -> bool:
    """True if a mapped point lies outside the rough US bounding box."""
    la, lo = float(lat), float(lon)
    return not (US_LAT[0] <= la <= US_LAT[1] and US_LON[0] <= lo <= US_LON[1])


def convert(source: Path, out: Path) -> tuple[int, int, int]:
    """Convert source to out; return (rows read, rows written, rows skipped)."""
    read = written = skipped = 0
    seen: dict[str, int] = {}
    # utf-8-sig: tolerate a BOM if someone re-saves the file from a spreadsheet.
    with (
        source.open(encoding="utf-8-sig", newline="") as fin,
        out.open("w", encoding="utf-8", newline="") as fout,
    ):
        reader = csv.DictReader(fin)
        writer = csv.DictWriter(fout, fieldnames=LOCATION_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in reader:
            read += 1
            line = reader.line_num  # physical line in the source, header = line 1
            try:
                mapped = map_row(row)
                ext_id = mapped["external_id"]
                if ext_id in seen:
                    raise RowError(f"duplicate id {ext_id} (first on line {seen[ext_id]})")
            except RowError as exc:
                skipped += 1
                print(f"{source.name}:{line}: skipped: {exc}", file=sys.stderr)
                continue
            seen[ext_id] = line
            if outside_us(mapped["lat"], mapped["lon"]):
                print(f"{source.name}:{line}: warning: point outside the US", file=sys.stderr)
            writer.writerow(mapped)
            written += 1
    return read, written, skipped


def main(argv: list[str] | None = None) -> int:
    """Entry point: convert and print a one-line summary."""
    args = parse_args(argv)
    read, written, skipped = convert(args.source, args.out)
    print(
        f"walmart_to_csv: read {read} rows from {args.source}, wrote {written} to {args.out}, "
        f"skipped {skipped}",
        file=sys.stderr,
    )
    return 1 if args.strict and skipped else 0


if __name__ == "__main__":
    sys.exit(main())

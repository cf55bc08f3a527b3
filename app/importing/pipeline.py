"""The import pipeline, shared by `flask locator import` and the admin API.

read -> validate -> stage -> write. Every row is validated and every rejection is
collected with its row (CSV line) or feature number. Nothing is written unless the
whole file is valid, or ``skip_invalid`` asks to import the valid rows only. The writing
is one transaction: binary COPY into a temporary table, then one set-based upsert.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from sqlalchemy import Connection
from tqdm import tqdm

from app.importing.datasets import (
    DATASETS,
    Dataset,
    Stage,
    check_area_header,
    csv_dataset,
    geojson_dataset,
)
from app.importing.readers import (
    Row,
    csv_header,
    load_features,
    read_csv,
    read_features,
    sample_properties,
)
from app.importing.report import ImportFileError, ImportOptions, ImportReport, Rejection
from app.metrics import observe_import
from app.queries import imports as sql

_DEMAND_SET_NAME = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def check_demand_set_name(name: str | None) -> str:
    """A demand set's name, 1-64 characters of [A-Za-z0-9._:-]; the file is refused without."""
    if name is None:
        raise ImportFileError("a demand file needs the name of its demand set (--demand-set)")
    if not _DEMAND_SET_NAME.fullmatch(name):
        raise ImportFileError("the demand set name must be 1-64 characters of A-Z a-z 0-9 . _ : -")
    return name


def _chosen(options: ImportOptions, detected: Dataset) -> Dataset:
    if options.dataset is None:
        return detected
    if options.dataset not in DATASETS:
        raise ImportFileError(f"unknown dataset {options.dataset!r}; one of {', '.join(DATASETS)}")
    return DATASETS[options.dataset]


def _open(name: str, stream: IO[str], options: ImportOptions):
    """Which dataset a file holds (the caller's --dataset, else told by its header or
    properties), the reader's header and its rows, and the unit its rows are counted in."""
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        header = csv_header(stream)
        dataset = _chosen(options, csv_dataset(header))
        if dataset.csv_fields is None:
            raise ImportFileError(f"{dataset.name} are imported from GeoJSON, not CSV")
        if dataset.name == "service_areas" and (problem := check_area_header(header)):
            raise ImportFileError(problem)
        read_header, rows = read_csv(
            stream, dataset.csv_fields, dataset.csv_required, dataset.keeps_attributes
        )
        return dataset, read_header, rows, "line"
    if suffix in (".geojson", ".json"):
        features = load_features(stream.read())
        dataset = _chosen(options, geojson_dataset(sample_properties(features)))
        if dataset.properties is None:
            raise ImportFileError(f"{dataset.name} are imported from CSV, not GeoJSON")
        read_header, rows = read_features(features, dataset.properties, dataset.keeps_attributes)
        return dataset, read_header, rows, "feature"
    raise ImportFileError(f"unsupported file type {suffix!r}: use .csv, .geojson or .json")


def import_file(connection: Connection, path: str | Path, options: ImportOptions) -> ImportReport:
    """Import one file from disk (see import_stream)."""
    with open(path, encoding="utf-8-sig", newline="") as stream:
        return import_stream(connection, str(path), stream, options)


def import_bytes(
    connection: Connection, name: str, data: bytes, options: ImportOptions
) -> ImportReport:
    """Import an uploaded file held in memory (the admin API)."""
    try:
        decoded = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(f"the file is not UTF-8: {error}") from error
    return import_stream(connection, name, io.StringIO(decoded, newline=""), options)


def import_stream(
    connection: Connection, name: str, stream: IO[str], options: ImportOptions
) -> ImportReport:
    """Import a CSV or GeoJSON file's rows (see _import_rows)."""
    started = time.perf_counter()
    dataset, header, rows, unit = _open(name, stream, options)
    if dataset.name == "demand":
        check_demand_set_name(options.demand_set)
    try:
        report = _import_rows(connection, dataset, rows, header.extra, unit, options, started)
    except UnicodeDecodeError as error:
        raise ImportFileError(f"the file is not UTF-8: {error}") from error
    except csv.Error as error:
        raise ImportFileError(f"CSV cannot be read: {error}") from error
    observe_import(report)  # /metrics: rows by outcome, and the duration
    return report


def import_records(
    connection: Connection,
    dataset_name: str,
    records: list[tuple[dict, object]],
    options: ImportOptions,
) -> ImportReport:
    """Import (fields, geometry) records from the admin API, through the same pipeline.

    JSON bodies are strict: fields the dataset does not define (an ``id``, say, or an
    attribute) reject the record; only files keep extra fields as attributes.
    """
    dataset = DATASETS[dataset_name]
    allowed = dataset.record_fields

    def rows() -> Iterator[Row]:
        for number, (fields, geometry) in enumerate(records, start=1):
            unknown = [name for name in fields if name not in allowed]
            if unknown:
                problems = tuple((name, "unknown property (not importable)") for name in unknown)
                yield Row(number, {}, problems=problems)
            else:
                yield Row(number, fields, geometry)

    return _import_rows(connection, dataset, rows(), {}, "item", options, time.perf_counter())


class _Rollback(Exception):
    """Raised inside the import transaction to undo it (rejections, or a dry run)."""


def _import_rows(
    connection: Connection,
    dataset: Dataset,
    rows: Iterator[Row],
    header_extra: dict,
    unit: str,
    options: ImportOptions,
    started: float,
) -> ImportReport:
    """Validate every row and, unless rejected or a dry run, stage and write them.

    The caller owns the transaction (see Database.transaction); the import runs in a
    savepoint inside it and commits nothing itself. Valid rows stream into the staging
    table while later rows are still being validated (PostgreSQL parses the COPY on
    another core); a rejection or a dry run rolls the savepoint back, so nothing is ever
    half-written.
    """
    report = ImportReport(dataset=dataset.name, unit=unit, dry_run=options.dry_run)
    if dataset.name == "demand":
        report.demand_set = options.demand_set
    table = dataset.staging
    bar = tqdm(
        desc=f"importing {dataset.name}",
        unit=" rows",
        disable=not options.progress,
        mininterval=0.5,
    )
    try:
        with bar, connection.begin_nested():
            sql.disable_statement_timeout(connection)
            sql.lock_dataset(connection, table)
            read, validated = _Timed(rows), None
            stage = Stage(connection, read, options, report, bar.update, header_extra)
            validated = _Timed(dataset.stage(dataset, stage))
            copy_started = time.perf_counter()
            # A dry run stages too: the keys are checked in the database.
            copied = sql.copy_into_staging(connection, table, validated)
            timings = report.timings
            timings["reading"] = read.seconds
            timings["validation"] = validated.seconds - read.seconds
            timings["copy"] = time.perf_counter() - copy_started - validated.seconds
            copied -= _reject_duplicates(connection, dataset, options, report)
            report.rejected.sort(key=lambda rejection: rejection.row)
            if options.dry_run or (report.rejected and not options.skip_invalid):
                raise _Rollback
            if options.progress and copied >= 10_000:
                tqdm.write(f"writing {copied} rows into {dataset.name}...")
            write_started = time.perf_counter()
            _write(connection, dataset, options, report, copied)
            timings["upsert"] = (
                time.perf_counter() - write_started - timings.get("index builds", 0.0)
            )
            analyze_started = time.perf_counter()
            sql.analyze_written_tables(
                connection, table, report.created + report.updated + report.replaced
            )
            timings["analyze"] = time.perf_counter() - analyze_started
            report.applied = True
    except _Rollback:
        pass
    report.seconds = time.perf_counter() - started
    return report


def _reject_duplicates(connection, dataset: Dataset, options, report: ImportReport) -> int:
    """Reject the rows whose key an earlier row of the file has (the first one stands);
    with --skip-invalid they leave staging. Returns how many were rejected."""
    duplicates = sql.staged_duplicates(connection, dataset.staging)
    for row, first in duplicates:
        report.rejected.append(
            Rejection(
                row, dataset.key_field, f"duplicate of {first}: keys must be unique in a file"
            )
        )
    if duplicates and options.skip_invalid:
        sql.drop_staged_rows(connection, dataset.staging, [row for row, _ in duplicates])
    return len(duplicates)


def _write(connection, dataset: Dataset, options: ImportOptions, report: ImportReport, copied):
    """Upsert the staged rows (a demand file replaces its set instead)."""
    table = dataset.staging
    if dataset.name == "demand":
        report.created, report.replaced = sql.replace_demand_set(connection, options.demand_set)
        return
    if options.replace:
        report.replaced = sql.replace_from_staging(connection, table)
    report.created, report.updated = sql.upsert_from_staging(
        connection, table, copied, report.timings
    )


class _Timed:
    """An iterator that adds up the time spent producing its items: the pipeline's
    stages are nested generators, and this is how the report splits the time."""

    __slots__ = ("items", "seconds")

    def __init__(self, items) -> None:
        self.items = iter(items)
        self.seconds = 0.0

    def __iter__(self):
        return self

    def __next__(self):
        started = time.perf_counter()
        try:
            return next(self.items)
        finally:
            self.seconds += time.perf_counter() - started

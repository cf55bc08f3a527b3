"""What an import is asked to do (ImportOptions) and what it did (ImportReport)."""

from __future__ import annotations

from dataclasses import dataclass, field


class ImportFileError(ValueError):
    """The file as a whole cannot be read (wrong format, bad header); nothing is imported."""


@dataclass
class Rejection:
    """One rejected row: where it is, which field, and why."""

    row: int  # CSV: the line number (the header is line 1); GeoJSON: the feature number
    field: str | None
    message: str

    def describe(self, unit: str) -> str:
        where = f"{unit} {self.row}"
        return (
            f"{where}, {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


@dataclass
class ImportReport:
    """What an import did, or would do on a dry run."""

    dataset: str
    unit: str  # "line" or "feature"
    total: int = 0
    created: int = 0
    updated: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    dry_run: bool = False
    applied: bool = False
    seconds: float = 0.0
    replaced: int = 0  # --replace: rows the file did not name that it set to 0
    demand_set: str | None = None  # demand: the set the file replaced
    # Plausibility checks downgraded to warnings (--allow): the rows were imported.
    warnings: list[Rejection] = field(default_factory=list)  # the first 1,000 of them
    warning_count: int = 0
    merged: int = 0  # service areas: features merged into another of their (location, mode)
    attributes_kept: dict = field(default_factory=dict)  # extra fields kept as attributes
    # Seconds per phase: reading, validation, copy, upsert, index builds, analyze.
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def valid(self) -> int:
        return self.total - len(self.rejected)

    @property
    def unchanged(self) -> int:
        return self.valid - self.created - self.updated if self.applied else 0

    @property
    def rows_per_second(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0

    def phases(self) -> str:
        """Where the time went, one line: reading 1.2 s, validation 3.4 s, ..."""
        return ", ".join(f"{phase} {seconds:.2f} s" for phase, seconds in self.timings.items())

    def summary(self) -> str:
        """One line: created, updated, unchanged, rejected, and the speed."""
        if self.applied:
            outcome = (
                f"created {self.created}, updated {self.updated}, "
                f"unchanged {self.unchanged}, rejected {len(self.rejected)}"
            )
            if self.merged:
                outcome += f", {self.merged} features merged into the areas they extend"
            if self.replaced and self.dataset == "demand":
                outcome += f", replaced {self.replaced} previous points of the set"
            elif self.replaced:
                outcome += f", zeroed {self.replaced} absent from the file"
        elif self.dry_run:
            outcome = f"dry run: {self.valid} valid, rejected {len(self.rejected)}, nothing written"
        else:
            outcome = f"nothing written: rejected {len(self.rejected)} of {self.total}"
        if self.warning_count:
            outcome += f", {self.warning_count} warnings"
        if self.attributes_kept:
            outcome += f"; kept as attributes: {', '.join(list(self.attributes_kept)[:20])}"
        return (
            f"{self.dataset}: {self.total} rows; {outcome} "
            f"({self.seconds:.1f} s, {self.rows_per_second:,.0f} rows/s)"
        )

    def as_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "total": self.total,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "replaced": self.replaced,
            **({"demand_set": self.demand_set} if self.demand_set else {}),
            "rejected": [
                {self.unit: r.row, "field": r.field, "message": r.message} for r in self.rejected
            ],
            "warnings": [
                {self.unit: r.row, "field": r.field, "message": r.message} for r in self.warnings
            ],
            "warning_count": self.warning_count,
            "merged": self.merged,
            "attributes": list(self.attributes_kept),
            "dry_run": self.dry_run,
            "applied": self.applied,
            "seconds": round(self.seconds, 3),
            "timings": {phase: round(seconds, 3) for phase, seconds in self.timings.items()},
            "rows_per_second": round(self.rows_per_second),
        }


@dataclass
class ImportOptions:
    skip_invalid: bool = False
    dry_run: bool = False
    make_valid: bool = False
    max_polygon_vertices: int = 100_000
    progress: bool = False
    replace: bool = False  # stock: the file is the whole truth for the locations it names
    dataset: str | None = None  # the kind of file, when its header cannot tell (--dataset)
    demand_set: str | None = None  # demand: the named set the file replaces
    # Plausibility checks (app/importing/places.py) that only warn instead of rejecting.
    allow: frozenset[str] = frozenset()


class RowErrors(Exception):
    """All the field errors of one row, each (field or None, message)."""

    def __init__(self, errors: list[tuple[str | None, str]]):
        super().__init__(errors)
        self.errors = errors

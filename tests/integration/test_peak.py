"""The peak's short form (bench/peak.py, issue 13): 50 checkouts race for the last units
of 200 locations through gunicorn for a few seconds, the database is killed (immediate
stop) halfway and started again, and the invariants are checked from the rows: never
more units held or ordered than were available, never more orders than a day's
capacity, one hold per Idempotency-Key, and every acknowledged hold and change present
after the restart. `make bench-peak` runs the long form (200 clients, 60 s).
"""

from __future__ import annotations

import importlib.util
import sys

from tests.conftest import REPO

CLIENTS = 50
SECONDS = 8


def load_peak():
    """bench/peak.py as a module (bench/ is scripts, not a package: its own imports
    find harness.py beside it)."""
    bench = str(REPO / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    spec = importlib.util.spec_from_file_location("bench_peak", REPO / "bench" / "peak.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_peak_never_oversells_and_survives_a_database_crash(capsys):
    peak = load_peak()
    figures = peak.run_peak(CLIENTS, SECONDS, locations=200, outage_s=1, reference_s=0)
    with capsys.disabled():
        print("\n" + peak.report(figures))
    assert figures["violations"] == []
    # The run did what it is for: holds made and refused, the outage felt and retried.
    assert figures["holds"] > 0 and figures["conflicts"] > 0
    assert figures["unavailable"] > 0
    assert figures["acknowledged"] == figures["holds"]

"""The planner in headless Chromium on 1,000,000 locations and 100,000 service areas.

Usage (from the repository root)::

    .venv/bin/python bench/planner_at_scale.py
    .venv/bin/python bench/planner_at_scale.py --rows 200000 --areas 20000

Generated locations and delivery circles are imported and served by gunicorn; Debian's
Chromium (through Playwright) opens /planner, checks that it opened on the data's extent
rather than the world, then zooms from national to street level over the densest city,
waiting at each step until every tile has loaded. It prints, per zoom, the areas and
locations drawn and the seconds the step took, saves a screenshot at three zooms under
test-artifacts/, and fails on any console error or failed request.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

from coverage_throughput import write_areas
from harness import FLASK, REPO, bench_server

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
# Over New York: the generator weights cities by population.
CENTRE = (40.73, -73.99)
ZOOMS = (4, 6, 8, 10, 12, 14, 16)
SHOTS = (4, 10, 16)

_MAP = "Object.values(window).find((v) => v instanceof L.Map)"
_SET_VIEW_AND_WAIT = f"""([lat, lon, zoom]) => new Promise((done) => {{
    const map = {_MAP};
    map.setView([lat, lon], zoom, {{animate: false}});
    const layers = [];
    map.eachLayer((layer) => {{ if (layer instanceof L.VectorGrid) layers.push(layer); }});
    const waiting = layers.filter((layer) => layer.isLoading());
    if (!waiting.length) return done();
    let left = waiting.length;
    waiting.forEach((layer) => layer.once("load", () => {{ if (--left === 0) done(); }}));
}})"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--areas", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    def add_areas(bench) -> None:
        areas_csv = bench.workdir / "areas.csv"
        write_areas(bench.locations_csv, areas_csv, args.areas)
        subprocess.run(
            [*FLASK, "import", "--no-progress", str(areas_csv)], cwd=REPO, env=bench.env, check=True
        )

    # No base map: this machine may be offline, and the overlays are what is measured.
    os.environ["TILE_URL"] = ""

    with bench_server(args.rows, args.workers, prepare=add_areas) as bench:
        print(f"{args.rows:,} locations, {args.areas:,} areas")
        walk_planner(bench.base_url)


def walk_planner(base_url: str) -> None:
    """Open the planner of the server at ``base_url`` in Chromium and zoom from national
    to street level (see the module docstring); exits 1 on any console error or failed
    request. The server should run with TILE_URL="" (no base map)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        problems: list[str] = []
        page.on(
            "console",
            lambda m: (
                m.type == "error"
                and not (m.location or {}).get("url", "").endswith("favicon.ico")
                and problems.append(f"{m.text} ({(m.location or {}).get('url', '')})")
            ),
        )
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
        page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
        ARTIFACTS.mkdir(exist_ok=True)
        started = time.perf_counter()
        page.goto(base_url + "/planner", timeout=120_000)
        page.wait_for_selector("path.locator-location", timeout=120_000)
        opened = time.perf_counter() - started
        bounds = page.evaluate(f"{_MAP}.getBounds().toBBoxString()")
        zoom = page.evaluate(f"{_MAP}.getZoom()")
        print(f"planner drawn in {opened:.1f} s")
        print(f"opened on {bounds} (west,south,east,north) at zoom {zoom}")
        page.screenshot(path=str(ARTIFACTS / "planner-1m-open.png"))
        print(f"{'zoom':>4} {'areas':>7} {'locations':>9} {'seconds':>8}")
        for z in ZOOMS:
            step = time.perf_counter()
            page.evaluate(_SET_VIEW_AND_WAIT, [*CENTRE, z])
            areas = page.locator("path.locator-area").count()
            points = page.locator("path.locator-location").count()
            print(f"{z:>4} {areas:>7} {points:>9} {time.perf_counter() - step:>8.1f}")
            if z in SHOTS:
                page.screenshot(path=str(ARTIFACTS / f"planner-1m-z{z}.png"))
        browser.close()
        print("console errors and failed requests:", problems or "none")
        if problems:
            raise SystemExit(1)


if __name__ == "__main__":
    main()

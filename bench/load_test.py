"""A bounded load test: mixed good and bad requests from a second process, counted by status.

Usage (from the repository root)::

    make load-test
    .venv/bin/python bench/load_test.py --seconds 30 --connections 16

Serves the demo network (with the gazetteer) with gunicorn and the default rate limits on,
then wrk (a separate process) sends, for --seconds, a mix of pickup-point searches by
position and by postcode, coverage checks, geocoding, location pages and deliberately bad
requests (lat=91, lon=1_0, an unknown parameter, a garbage cursor). It prints how many
answers came back with each status. The run fails (exit 1) on any 5xx other than the
designed 503, and on any 500.
"""

from __future__ import annotations

import argparse
import subprocess

from harness import FLASK, REPO, bench_server, report_statuses

REQUESTS = [
    "/api/v1/pickup-points?lat=38.9072&lon=-77.0369",
    "/api/v1/pickup-points?q=20001&capability=cold_chain",
    "/api/v1/pickup-points?lat=38.85&lon=-77.1&open_now=true&limit=20",
    "/api/v1/coverage?lat=38.9&lon=-77.03",
    "/api/v1/geocode?q=Washingtn",
    "/api/v1/locations?kind=locker&limit=50",
    "/api/v1/locations/dc-store-0001",
    "/api/v1/pickup-points?lat=91&lon=0",
    "/api/v1/pickup-points?lat=1&lon=1_0",
    "/api/v1/pickup-points?lat=1&lon=1&sort=name",
    "/api/v1/pickup-points?lat=1&lon=1&cursor=garbage",
    "/healthz",
]

STATUSES = (200, 400, 404, 413, 422, 429, 500, 502, 503, 504)

# wrk runs each thread's Lua in a state of its own; done() reads every thread's counters.
LUA = """
local paths = {%s}
local statuses = {%s}
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function(args)
  i = 0
  for _, s in ipairs(statuses) do _G["c" .. s] = 0 end
  other = 0
end
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
response = function(status, headers, body)
  local key = "c" .. status
  if _G[key] ~= nil then _G[key] = _G[key] + 1 else other = other + 1 end
end
done = function(summary, latency, requests)
  for _, s in ipairs(statuses) do
    local n = 0
    for _, t in ipairs(threads) do n = n + t:get("c" .. s) end
    io.write(string.format("status %%d %%d\\n", s, n))
  end
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("other") end
  io.write(string.format("status 0 %%d\\n", n))
end
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    def demo_data(bench) -> None:
        subprocess.run([*FLASK, "gazetteer"], cwd=REPO, env=bench.env, check=True)
        subprocess.run([*FLASK, "load-demo"], cwd=REPO, env=bench.env, check=True)

    with bench_server(1000, args.workers, prepare=demo_data, rate_limits=True) as bench:
        script = bench.workdir / "mix.lua"
        paths = ",".join(f'"{path}"' for path in REQUESTS)
        script.write_text(LUA % (paths, ",".join(map(str, STATUSES))))
        output = subprocess.run(
            ["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "-s", str(script)]
            + ["--latency", bench.base_url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    report_statuses(
        output,
        args.seconds,
        f"{args.connections} connections, {args.workers} workers",
        allow_503=True,
    )


if __name__ == "__main__":
    main()

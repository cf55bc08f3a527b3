"""Bounded load on a primary plus a streaming standby; the standby is killed mid-run.

Usage (from the repository root)::

    .venv/bin/python bench/replica_load.py --seconds 30 --connections 8

Starts a primary (demo data and gazetteer) and a standby made with pg_basebackup -R -X
stream, serves the app with gunicorn reading from the standby, and runs wrk (the mix of
bench/load_test.py) for --seconds. A third of the way in the standby is stopped
(immediate shutdown, like a crash); two thirds in it is started again. The run fails
(exit 1) on any 5xx: losing a replica must cost nothing but its capacity.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from harness import FLASK, REPO, _wait_for, report_statuses
from load_test import LUA, REQUESTS, STATUSES

from app.embedded_postgres import EmbeddedPostgres, free_loopback_port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="locator-replica-bench-"))
    workdir.chmod(0o755)
    primary = EmbeddedPostgres(workdir / "primary")
    standby = server = None
    try:
        env = {
            **os.environ,
            "DATABASE_URL": primary.ensure_running(),
            "LOG_LEVEL": "WARNING",
            "RATELIMIT_ENABLED": "false",
        }
        subprocess.run([*FLASK, "setup"], cwd=REPO, env=env, check=True)
        standby = primary.create_standby(workdir / "standby")
        env["DATABASE_REPLICA_URLS"] = standby.ensure_running()
        time.sleep(2)  # let the standby replay the demo data
        port = free_loopback_port()
        server = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}"]
            + ["--workers", str(args.workers), "wsgi:app"],
            cwd=REPO,
            env=env,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(port)
        script = workdir / "mix.lua"
        paths = ",".join(f'"{path}"' for path in REQUESTS)
        script.write_text(LUA % (paths, ",".join(map(str, STATUSES))))

        def chaos() -> None:
            time.sleep(args.seconds / 3)
            standby._pg("pg_ctl", "-D", str(standby.data_dir), "-m", "immediate", "stop")
            print(f"standby killed at {args.seconds / 3:.0f} s")
            time.sleep(args.seconds / 3)
            standby.ensure_running()
            print(f"standby back at {2 * args.seconds / 3:.0f} s")

        killer = threading.Thread(target=chaos)
        killer.start()
        output = subprocess.run(
            ["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "-s", str(script)]
            + ["--latency", f"http://127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        killer.join()
    finally:
        if server:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        if standby:
            standby.stop()
        primary.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    # Every 5xx fails here, 503 included: losing a replica must cost no error at all.
    report_statuses(output, args.seconds, "while the standby went away", allow_503=False)


if __name__ == "__main__":
    main()

"""Every environment variable the app reads is documented, in .env.example and in the
README's configuration table, found from the code rather than from a list kept by hand."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# os.environ.get("X"), os.environ["X"] and app/config.py's typed readers (_int("X"), ...).
READ = re.compile(
    r"""(?:os\.environ\.get|_int_or_off|_int|_float|_bool)\(\s*"([A-Z][A-Z0-9_]+)"|"""
    r"""os\.environ\[\s*"([A-Z][A-Z0-9_]+)"\]"""
)
# WSGI environ keys set by app/serving.py, not settings.
NOT_SETTINGS = {"REMOTE_ADDR", "REMOTE_PORT"}


def settings_read_by_the_app() -> set[str]:
    names = set()
    for path in (REPO / "app").rglob("*.py"):
        names |= {a or b for a, b in READ.findall(path.read_text())}
    return names - NOT_SETTINGS


def test_every_setting_is_in_env_example_and_the_readme():
    read = settings_read_by_the_app()
    assert {"DATABASE_URL", "HOLD_TTL_S", "WEB_CONCURRENCY"} <= read  # the scan works
    example = (REPO / ".env.example").read_text()
    listed = set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    assert read - listed == set(), "missing from .env.example"
    readme = (REPO / "README.md").read_text()
    table = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", readme, flags=re.MULTILINE))
    assert read - table == set(), "missing from the README's configuration table"
    assert table - listed == set(), "in the README but not in .env.example"

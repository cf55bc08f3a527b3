"""Where the shopper page may send a chosen pickup point: the RETURN_URL_ALLOWLIST.

``RETURN_URL_ALLOWLIST`` (config, set from the environment variable of that name) lists the
checkouts the picker may hand a selection to. It is a list of strings, or one string of
entries separated by commas or whitespace. Each entry is an absolute ``http``/``https``
URL: an origin (``https://shop.example``) allows any path on it; an origin with a path
(``https://shop.example/checkout``) allows that path and anything below it
(``/checkout/pickup``, not ``/checkout-evil``). Empty (the default) allows nothing.

- A ``return_url`` is followed only when its scheme, host and port equal an entry's
  (default ports count as given), its path is under the entry's, and it has no user info,
  no backslash, whitespace or control characters and no ``.``/``..`` path segments
  (which a browser would resolve out of the allowed path).
- The entries' origins are also the origins the page will ``postMessage`` a selection
  to when it is framed (never ``"*"``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

CONFIG_NAME = "RETURN_URL_ALLOWLIST"
MAX_URL_LENGTH = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Whitespace, controls and backslashes: browsers strip or reinterpret them (a backslash
# becomes a slash), so a URL carrying them may not mean what the allow-list check saw.
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")


@dataclass(frozen=True)
class _Entry:
    scheme: str
    host: str
    port: int
    path: str  # "" for "any path"; otherwise without a trailing slash

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal
        default = _DEFAULT_PORTS[self.scheme] == self.port
        return f"{self.scheme}://{host}" + ("" if default else f":{self.port}")


@dataclass(frozen=True)
class _Parsed:
    scheme: str
    host: str
    port: int
    path: str


def _parse(url: str) -> _Parsed | None:
    """Scheme, host, port and path of an absolute http(s) URL we are willing to judge."""
    if not url or len(url) > MAX_URL_LENGTH or _UNSAFE.search(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a malformed port or IPv6 literal
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    segments = unquote(parts.path).split("/")
    if any(segment in (".", "..") for segment in segments):
        return None
    return _Parsed(scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme], parts.path)


class ReturnUrlAllowList:
    """The parsed allow-list; entries that are not absolute http(s) URLs are ignored."""

    def __init__(self, entries: Iterable[str]):
        self.entries: list[_Entry] = []
        for raw in entries:
            parsed = _parse(raw)
            if parsed:
                path = parsed.path.rstrip("/")
                self.entries.append(_Entry(parsed.scheme, parsed.host, parsed.port, path))

    @classmethod
    def from_config(cls, config) -> ReturnUrlAllowList:
        """From ``config["RETURN_URL_ALLOWLIST"]`` (app/config.py reads the environment)."""
        value = config.get(CONFIG_NAME, "")
        if isinstance(value, str):
            value = re.split(r"[\s,]+", value)
        return cls(entry for entry in value if entry)

    def permits(self, url: str | None) -> bool:
        """Whether the page may send the shopper (and the selection) to ``url``."""
        parsed = _parse(url or "")
        if parsed is None:
            return False
        for entry in self.entries:
            if (entry.scheme, entry.host, entry.port) != (parsed.scheme, parsed.host, parsed.port):
                continue
            if not entry.path or parsed.path == entry.path:
                return True
            if parsed.path.startswith(entry.path + "/"):
                return True
        return False

    @property
    def origins(self) -> list[str]:
        """The allowed origins, once each, in the configured order."""
        return list(dict.fromkeys(entry.origin for entry in self.entries))

    def parent_origin(self, *candidates: str | None) -> str:
        """The first candidate URL whose origin is allowed, as an origin; else ""."""
        allowed = set(self.origins)
        for candidate in candidates:
            parsed = _parse(candidate or "")
            if parsed:
                origin = _Entry(parsed.scheme, parsed.host, parsed.port, "").origin
                if origin in allowed:
                    return origin
        return ""

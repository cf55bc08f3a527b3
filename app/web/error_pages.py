"""Errors on the pages, as a page: app/api/problems.py decides the status of every error,
and for the page blueprints it asks ``render`` here for HTML instead of problem+json.

The page says what happened in the reader's language (``i18n``, chosen as on the other
pages), names what was not found (a region, a location) and offers a way on: the picker,
the planner, or, for an outage, the same page again.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Response, g, make_response, render_template, request

from app.web import i18n

# Statuses with a message of their own; any other 4xx reads as a bad link, a 5xx as a fault.
_KNOWN = {400, 404, 405, 429, 503}


def render(status: int, detail: str, errors: list[dict], headers: dict[str, str]) -> Response:
    """The error page for ``status``; ``errors`` name the fields at fault, as in the API."""
    language = i18n.choose_language(request)
    t = i18n.catalogue(language)
    kind = status if status in _KNOWN else (400 if status < 500 else 500)
    field = next((e["field"] for e in errors if e.get("field")), "")
    value = _value_of(field)
    message_key = f"errorpage.{kind}.{field}"
    if message_key not in t or not value:
        message_key = f"errorpage.{kind}"
    html = render_template(
        "error.html",
        lang=language,
        t=t,
        status=status,
        heading=t[f"errorpage.{kind}.title"],
        message=t[message_key].format(value=value),
        detail=detail,
        retry=status == 503,
        request_id=g.get("request_id", ""),
        other_lang_url=_same_page_in("en" if language == "zh-CN" else "zh-CN"),
        retry_url=request.full_path.rstrip("?"),
    )
    response = make_response(html, status)
    response.headers.update(headers)
    response.headers["Content-Language"] = language
    response.vary.add("Accept-Language")
    return response


def _value_of(field: str) -> str:
    """What the request gave for ``field`` (a path or query parameter), to name it."""
    value = (request.view_args or {}).get(field) or request.args.get(field) or ""
    return str(value)[:80]


def _same_page_in(language: str) -> str:
    args = request.args.to_dict(flat=False)
    args["lang"] = [language]
    return f"{request.path}?{urlencode(args, doseq=True)}"

"""The one strict input layer: every query string and JSON body of the API passes here.

Work is bounded before it starts:
- bodies: the Content-Length against the endpoint's cap before a byte is read, then
  orjson, which refuses truncated or trailing-comma JSON, invalid UTF-8, NaN and
  Infinity literals, and nesting beyond MAX_JSON_DEPTH, without recursing in Python;
- lists: their length before their items are validated;
- numbers: ASCII decimal only, at most MAX_NUMBER_LENGTH characters; in JSON bodies
  they must be JSON numbers (``"38.9"`` is refused, not converted);
- text: a maximum length, no control characters;
- instants: an offset is required, and they must lie in the range the app computes with;
- a scalar query parameter given twice is refused (which one did the caller mean?), and
  unknown parameters are refused (a typo must not silently widen a search).
Every refusal raises InvalidInput, TooLarge or UnsupportedMediaType naming the field.
"""

from __future__ import annotations

import re
from datetime import UTC

import orjson
from flask import current_app, request
from flask_smorest import Blueprint as SmorestBlueprint
from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate
from webargs.flaskparser import FlaskParser

from app.errors import InvalidInput, TooLarge, UnsupportedMediaType
from app.geo import InvalidValue, parse_latitude, parse_longitude, parse_number
from app.limits import EARLIEST_INSTANT, LATEST_INSTANT, MAX_NUMBER_LENGTH

_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_INSTANT = re.compile(r"[0-9T:+.Zz -]{10,40}", re.ASCII)


# -- bodies -------------------------------------------------------------------------


def read_json(max_bytes: int, field: str = "body"):
    """The request's JSON body, parsed strictly, after its size is checked against
    ``max_bytes`` (before it is read when the client sent a Content-Length)."""
    if not request.mimetype or not (
        request.mimetype == "application/json" or request.mimetype.endswith("+json")
    ):
        raise UnsupportedMediaType(
            "send the body as application/json",
            field="Content-Type",
            message="must be application/json",
        )
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise _too_large(field, max_bytes)
    data = request.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _too_large(field, max_bytes)
    if not data.strip():
        raise InvalidInput("the body is empty", field=field, message="a JSON body is required")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"the body is not valid JSON: {error}", field=field) from error


def read_json_object(max_bytes: int) -> dict:
    """A JSON object body (see read_json)."""
    body = read_json(max_bytes)
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    return body


def _too_large(field: str, max_bytes: int) -> TooLarge:
    return TooLarge(
        f"the body is larger than {max_bytes:,} bytes",
        field=field,
        message=f"at most {max_bytes} bytes",
    )


# -- fields -------------------------------------------------------------------------


class Number(fields.Float):
    """A finite decimal number. In a query string: ASCII digits, optional sign, point and
    exponent, no NaN, infinity, underscores or hex. In a JSON body (``json=True``): a JSON
    number, never a string."""

    parser = staticmethod(parse_number)

    def __init__(self, *args, json: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.json = json

    def _deserialize(self, value, attr, data, **kwargs):
        if self.json and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValidationError("must be a JSON number")
        if not self.json and not isinstance(value, str):
            raise ValidationError("must be a number")
        if isinstance(value, str) and len(value) > MAX_NUMBER_LENGTH:
            raise ValidationError(f"must be at most {MAX_NUMBER_LENGTH} characters")
        try:
            return self.parser(value)
        except InvalidValue as error:
            raise ValidationError(str(error)) from error


class Latitude(Number):
    parser = staticmethod(parse_latitude)


class Longitude(Number):
    parser = staticmethod(parse_longitude)


class Integer(fields.Integer):
    """A whole number written plainly: "10", not "1e1", "10.0", "1_0", "+-1" or "١٠";
    in a JSON body (``json=True``), a JSON integer."""

    def __init__(self, *args, json: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.json = json

    def _deserialize(self, value, attr, data, **kwargs):
        if self.json:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError("must be a JSON integer")
            return value
        if not isinstance(value, str) or not _INTEGER.fullmatch(value):
            raise ValidationError("must be a whole number (ASCII digits)")
        if len(value) > MAX_NUMBER_LENGTH:
            raise ValidationError(f"must be at most {MAX_NUMBER_LENGTH} characters")
        return int(value)


class Text(fields.String):
    """Text of bounded length without control characters (PostgreSQL refuses NUL, and
    none belong in a parameter). ``blank=False`` also refuses whitespace only."""

    def __init__(self, *args, max_length: int, blank: bool = True, **kwargs):
        kwargs.setdefault("validate", validate.Length(min=1, max=max_length))
        super().__init__(*args, **kwargs)
        self.max_length = max_length
        self.blank = blank

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("must be a string")
        if len(value) > self.max_length:
            raise ValidationError(f"must be at most {self.max_length} characters")
        text = super()._deserialize(value, attr, data, **kwargs)
        if any(ord(c) < 32 or ord(c) == 127 for c in text):
            raise ValidationError("must not contain control characters")
        if not self.blank and not text.strip():
            raise ValidationError("must not be blank")
        return text


class Instant(fields.AwareDateTime):
    """An ISO 8601 date and time with an offset, between EARLIEST_INSTANT and
    LATEST_INSTANT: beyond them local-time arithmetic overflows, and nothing is planned."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, format="iso", **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not _INSTANT.fullmatch(value):
            raise ValidationError("must be an ISO 8601 date and time with an offset")
        instant = super()._deserialize(value, attr, data, **kwargs)
        try:
            in_utc = instant.astimezone(UTC)
        except OverflowError as error:
            raise ValidationError(self._range_message()) from error
        if not EARLIEST_INSTANT <= in_utc < LATEST_INSTANT:
            raise ValidationError(self._range_message())
        return instant

    @staticmethod
    def _range_message() -> str:
        return f"must lie between {EARLIEST_INSTANT:%Y-%m-%d} and {LATEST_INSTANT:%Y-%m-%d} (UTC)"


class Flag(fields.Boolean):
    """true/false or 1/0, nothing else."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, truthy={"true", "1"}, falsy={"false", "0"}, **kwargs)


class BBox(fields.String):
    """minLon,minLat,maxLon,maxLat; minLon > maxLon means the box crosses the antimeridian."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or len(value) > 4 * MAX_NUMBER_LENGTH + 3:
            raise ValidationError("must be minLon,minLat,maxLon,maxLat")
        parts = value.split(",")
        if len(parts) != 4:
            raise ValidationError("must be minLon,minLat,maxLon,maxLat")
        return checked_bbox(parts)


class JsonBBox(fields.List):
    """In a JSON body: [minLon, minLat, maxLon, maxLat], JSON numbers, checked as BBox."""

    def __init__(self, **kwargs):
        super().__init__(Number(json=True), validate=validate.Length(equal=4), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list) or len(value) != 4:
            raise ValidationError("must be [minLon, minLat, maxLon, maxLat]")
        return checked_bbox(super()._deserialize(value, attr, data, **kwargs))


def checked_bbox(parts) -> tuple[float, float, float, float]:
    """minLon, minLat, maxLon, maxLat (numbers or their text) as a box with width and
    height; minLon > maxLon means it crosses the antimeridian."""
    try:
        min_lon, max_lon = parse_longitude(parts[0]), parse_longitude(parts[2])
        min_lat, max_lat = parse_latitude(parts[1]), parse_latitude(parts[3])
    except InvalidValue as error:
        raise ValidationError(str(error)) from error
    if min_lat >= max_lat:
        raise ValidationError("minLat must be less than maxLat")
    if min_lon == max_lon or (min_lon, max_lon) == (180, -180):
        # 180 to -180 "across the antimeridian" is one meridian: no width either.
        raise ValidationError("minLon and maxLon must differ (the box has no width)")
    return (min_lon, min_lat, max_lon, max_lat)


def choices(values: tuple[str, ...], description: str):
    """A repeatable parameter (or JSON array) of values from a fixed vocabulary."""
    return fields.List(
        fields.String(validate=validate.OneOf(values)),
        # Each value at most a few times over: the list is a set, and its length bounded.
        validate=validate.Length(max=4 * len(values)),
        metadata={"description": f"{description} One of: {', '.join(values)}."},
    )


# -- schemas ------------------------------------------------------------------------


class StrictSchema(Schema):
    """Unknown fields are refused, so a typo never silently widens a search."""

    class Meta:
        unknown = RAISE


class BodySchema(StrictSchema):
    """A JSON body. ``MAX_BYTES`` (a number or a function of the app's config) caps it
    before it is read; ``LIST_CAPS`` caps lists before their items are validated."""

    MAX_BYTES: int | str = 64 * 1024
    LIST_CAPS: dict[str, str | int] = {}

    @classmethod
    def max_bytes(cls) -> int:
        return _setting(cls.MAX_BYTES)

    @pre_load
    def lists_within_caps(self, data, **kwargs):
        if not isinstance(data, dict):
            raise ValidationError("the body must be a JSON object", "body")
        for name, cap in self.LIST_CAPS.items():
            value = data.get(name)
            limit = _setting(cap)
            if isinstance(value, list) and len(value) > limit:
                raise TooLarge(
                    f"{len(value)} {name}; at most {limit} per call",
                    field=name,
                    message=f"at most {limit} items",
                )
        return data


def _setting(value: int | str) -> int:
    """A number, or the name of an app setting holding it."""
    return current_app.config[value] if isinstance(value, str) else value


# -- the parser ---------------------------------------------------------------------


class StrictParser(FlaskParser):
    """webargs' Flask parser with this module's rules for query strings and bodies."""

    DEFAULT_UNKNOWN_BY_LOCATION = {location: RAISE for location in ("query", "json", "path")}

    def load_querystring(self, req, schema):
        args = req.args
        for name in args:
            if len(args.getlist(name)) > 1 and not isinstance(schema.fields.get(name), fields.List):
                shown = name or '""'  # a parameter with an empty name is still named
                raise InvalidInput(
                    f"{shown} is given more than once",
                    field=shown,
                    message="give this parameter once",
                )
        return self._makeproxy(args, schema)

    def load_json(self, req, schema):
        cap = schema.max_bytes() if isinstance(schema, BodySchema) else 64 * 1024
        return read_json(cap)

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        raise InvalidInput(
            _summary(field_errors(error.messages)), errors=field_errors(error.messages)
        )


def _summary(errors: list[dict]) -> str:
    return "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid input"


def field_errors(messages, prefix: str = "") -> list[dict]:
    """Flatten marshmallow's nested messages into [{"field", "message"}], fields named
    like ``points[3].lat``; a message about the whole object names its parent (or the
    body)."""
    if isinstance(messages, list | tuple | str):
        items = messages if isinstance(messages, list | tuple) else [messages]
        return [{"field": prefix or "body", "message": str(m)} for m in items]
    errors = []
    for key, value in messages.items():
        if key in ("query", "json", "path") and not prefix:
            errors += field_errors(value)  # the location level adds nothing for callers
            continue
        if key == "_schema":
            name = prefix
        elif key == "":
            name = f'{prefix}.""' if prefix else '""'  # a parameter with an empty name
        elif isinstance(key, int):
            name = f"{prefix}[{key}]"  # which item of a list, e.g. points[3].lat
        else:
            name = f"{prefix}.{key}" if prefix else str(key)
        errors += field_errors(value, name)
    return errors


class Blueprint(SmorestBlueprint):
    """flask-smorest's Blueprint, parsing through StrictParser."""

    ARGUMENTS_PARSER = StrictParser()

    def query(self, schema: type[Schema]):
        """Parse the query string with ``schema``.

        One schema instance serves every request: given the class, webargs would build a
        new instance (deep-copying its fields) per request. Loading does not change a
        schema, so sharing it between threads is safe.
        """
        return self.arguments(schema(), location="query", as_kwargs=False)

    def body(self, schema: type[Schema]):
        """Parse the JSON body with ``schema`` (a BodySchema)."""
        return self.arguments(schema(), location="json", as_kwargs=False)

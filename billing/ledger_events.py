"""A usage event as a ledger row: every field checked against its column before the database sees it.

An event is JSON that went through Redis or a spool file, parts of it named by clients and
upstreams. A field of the wrong type, a number its column cannot hold or a missing required field
is a MalformedEvent (the ledger dead-letters the event, naming the field) instead of an error that
fails the whole batch's insert; text that does not fit its column is bounded, not refused.
"""
from __future__ import annotations

import json
import math
import uuid
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from functools import partial

from billing.models import UsageRecord
from billing.usage_text import clean_json, clean_text

__all__ = ["MalformedEvent", "event_uuid", "record_from_event"]

# Integer columns by type, as PostgreSQL stores them (SQLite's 64-bit INTEGER holds them all).
_INT_RANGES = {
    "PositiveIntegerField": (0, 2**31 - 1),  # integer CHECK >= 0
    "PositiveSmallIntegerField": (0, 2**15 - 1),  # smallint CHECK >= 0
    "BigIntegerField": (-(2**63), 2**63 - 1),  # bigint
}
# created_at is epoch seconds: from 1970 up to the end of year 9999, the last a datetime can hold.
_EPOCH_MAX = 253_402_300_800
_SPECIAL = {"id", "event_id", "created_at"}
_PLACES = {places: Decimal(1).scaleb(-places) for places in range(32)}  # quantize exponents by decimal places


class MalformedEvent(ValueError):
    """A usage event that cannot be a ledger row; the message names the field and why, never its value."""


def _text(name, value, limit):
    if not isinstance(value, str):
        raise MalformedEvent(f"{name}: expected text, got {type(value).__name__}")
    return clean_text(value, limit)


def _integer(name, value, bounds):
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedEvent(f"{name}: expected an integer, got {type(value).__name__}")
    if not bounds[0] <= value <= bounds[1]:
        raise MalformedEvent(f"{name}: out of the column's range {bounds[0]}..{bounds[1]}")
    return value


def _boolean(name, value):
    if not isinstance(value, bool):
        raise MalformedEvent(f"{name}: expected a boolean, got {type(value).__name__}")
    return value


def _float(name, value):
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise MalformedEvent(f"{name}: expected a finite number")
    return float(value)


def _decimal(name, value, digits, places):
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MalformedEvent(f"{name}: expected a decimal, got {type(value).__name__}")
    try:
        number = Decimal(str(value) if value != "" else "0")
    except InvalidOperation:
        raise MalformedEvent(f"{name}: not a decimal number") from None
    bound = Decimal(10) ** (digits - places)
    # Rounded to the column's places (as the database would) once it is known to be small enough to.
    if not number.is_finite() or abs(number) >= bound or abs(number := number.quantize(_PLACES[places])) >= bound:
        raise MalformedEvent(f"{name}: not a finite decimal within the column's {digits - places} integer digits")
    return number


def _json(name, value):
    # NUL or a lone surrogate in a string, NaN or infinity: PostgreSQL's jsonb (and SQLite's
    # JSON_VALID check) refuse them all. ASCII JSON spells them as \u escapes and bare words,
    # so one C-level encode tells the (rare) values to clean from the rest.
    text = json.dumps(value, default=repr)
    suspect = "\\u0000" in text or "\\ud" in text or "NaN" in text or "Infinity" in text
    return clean_json(value) if suspect else value


def _checker(field):
    kind = field.get_internal_type()
    if kind == "CharField":
        return partial(_text, limit=field.max_length)
    if kind in _INT_RANGES:
        return partial(_integer, bounds=_INT_RANGES[kind])
    if kind == "DecimalField":
        return partial(_decimal, digits=field.max_digits, places=field.decimal_places)
    return {"BooleanField": _boolean, "FloatField": _float, "JSONField": _json}[kind]


# (name, nullable, the field's default (a callable) or None when it is required, checker) per column.
_COLUMNS = [
    (f.name, f.null, f.get_default if f.has_default() or f.blank else None, _checker(f))
    for f in UsageRecord._meta.concrete_fields if f.name not in _SPECIAL
]


def event_uuid(event: dict) -> uuid.UUID:
    value = event.get("event_id")
    if not isinstance(value, str):
        raise MalformedEvent(f"event_id: expected text, got {type(value).__name__}")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise MalformedEvent("event_id: not a UUID") from None


def _created_at(event: dict) -> datetime:
    value = event.get("created_at")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < _EPOCH_MAX:
        raise MalformedEvent("created_at: expected epoch seconds between 1970 and 9999")
    return datetime.fromtimestamp(value, tz=timezone.utc)


def _missing(name, nullable, default):
    if nullable:
        return None
    if default is None:
        raise MalformedEvent(f"{name}: required")
    return default()


def record_from_event(event) -> UsageRecord:
    """The ledger row of a usage event; MalformedEvent when it cannot be one. Unknown keys are ignored."""
    if not isinstance(event, dict):
        raise MalformedEvent(f"event: expected an object, got {type(event).__name__}")
    data = {}
    for name, nullable, default, check in _COLUMNS:  # a loop, not a call per field: 500 events a batch
        value = event.get(name)
        data[name] = _missing(name, nullable, default) if value is None else check(name, value)
    return UsageRecord(event_id=event_uuid(event), created_at=_created_at(event), **data)

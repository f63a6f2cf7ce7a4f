"""Text every ledger column and the usage stream can hold, whatever a client or an upstream sent.

PostgreSQL text cannot hold NUL, UTF-8 (so orjson, the stream's encoder, and the database's
encoding) cannot hold lone surrogates, which Python's json accepts from an upstream's error
body, and a varchar refuses a value beyond its length. Any of the three made a whole batch's
insert (or the stream's encode) fail. No ORM here: the data plane imports it.
"""
from __future__ import annotations

import json
import math

import orjson

from billing.usage_entries import BATCH_FIELD, encode_entries

# Strings inside a JSON column (the attempt log's route, model and error names): none is longer
# than the longest text column they come from (the upstream model, 200).
JSON_TEXT_MAX = 200
# Strings of a whole event being cleaned for the stream: its longest column (the upstream model).
EVENT_TEXT_MAX = 200


def clean_text(value: str, limit: int) -> str:
    """`value` without NUL or lone surrogates, at most `limit` characters."""
    if len(value) <= limit and value.isprintable():
        return value  # the usual case: one C-level scan
    if not value.isascii():
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate becomes \\udxxx
    return value.replace("\x00", "")[:limit]


def clean_json(value, limit: int = JSON_TEXT_MAX):
    """A JSON-able value with every string (keys included) cleaned as clean_text does, and NaN or
    infinity as null (what orjson, the stream's encoder, writes; json, the spool's, keeps them)."""
    if isinstance(value, str):
        return clean_text(value, limit)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [clean_json(v, limit) for v in value]
    if isinstance(value, dict):
        return {clean_text(str(k), limit): clean_json(v, limit) for k, v in value.items()}
    return value


def encodable_entries(events: list[dict]) -> list[dict[bytes, bytes]]:
    """encode_entries(events), whatever they hold: an event orjson refuses (a lone surrogate, an
    integer beyond 64 bits) is cleaned, or else written by json, which the drain reads as a value
    the ledger dead-letters. Either way no event stays in a spool file, retried for ever, holding
    up the rest of it, and no encode error passes for an unreachable Redis."""
    try:
        return encode_entries(events)
    except TypeError:
        pass
    good, bad = [], []
    for event in events:
        event = clean_json(event, EVENT_TEXT_MAX)
        try:
            orjson.dumps(event)
        except TypeError:
            bad.append({BATCH_FIELD: json.dumps([event], default=repr).encode()})
            continue
        good.append(event)
    return encode_entries(good) + bad

"""The shape of the usage stream's entries, shared by its writers and readers (no ORM: the data plane imports it).

Writers put up to EVENTS_PER_ENTRY events in one entry (field `b`, a JSON array): one XADD per
batch instead of one per request is most of the stream's cost on both sides (the gateway's flush
and Redis itself). Entries with one event under field `e` (the first format) are still read.
Idempotency stays per event (`event_id`), acknowledgement per entry, after the ledger commit.
"""
from __future__ import annotations

import orjson

STREAM = "sy:usage"
FIELD = b"e"  # one event
BATCH_FIELD = b"b"  # a JSON array of events
EVENTS_PER_ENTRY = 50


def encode_entries(events: list[dict]) -> list[dict[bytes, bytes]]:
    """Stream entries (field -> value) carrying `events`, in order."""
    return [{BATCH_FIELD: orjson.dumps(events[i:i + EVENTS_PER_ENTRY])}
            for i in range(0, len(events), EVENTS_PER_ENTRY)]


def decode_entry(fields: dict) -> list[dict]:
    """The events of one entry; [] for an entry of neither shape. Raises ValueError on bad JSON."""
    if BATCH_FIELD in fields:
        events = orjson.loads(fields[BATCH_FIELD])
        return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []
    if FIELD in fields:
        event = orjson.loads(fields[FIELD])
        return [event] if isinstance(event, dict) else []
    return []

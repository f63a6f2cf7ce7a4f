"""The Redis stream of usage events, and draining it into the ledger.

Events are acknowledged only after the ledger transaction commits, so a crash
or a database outage leaves them pending for redelivery instead of losing them
(LiteLLM #33872 popped before committing).
"""
from __future__ import annotations

import logging
import os
import socket

import redis

from billing.dead_letters import dead_letters_save
from billing.ledger import ledger_write
from billing.usage_entries import BATCH_FIELD, EVENTS_PER_ENTRY, FIELD, STREAM, decode_entry
from billing.usage_text import encodable_entries

__all__ = ["FIELD", "STREAM", "drain", "ensure_group", "publish"]

log = logging.getLogger(__name__)
GROUP = "ledger"
# Entries per read: with up to EVENTS_PER_ENTRY events each, at most 500 events per ledger transaction.
ENTRIES_PER_READ = max(1, 500 // EVENTS_PER_ENTRY)
# A consumer that died holding events: reclaim them after this long (ms).
RECLAIM_IDLE_MS = 30_000


def _consumer_name():
    return f"{socket.gethostname()}-{os.getpid()}"


def ensure_group(client):
    try:
        client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _write_and_ack(client, entries):
    """Write the entries' events (a bad one is dead-lettered, never holds the rest up), then acknowledge."""
    ids = [entry_id for entry_id, _fields in entries]
    events = [event for _id, fields in entries for event in _events(_id, fields)]
    written = ledger_write(events)
    # Only now, after the commit: acknowledge and drop from the stream.
    pipe = client.pipeline(transaction=False)
    pipe.xack(STREAM, GROUP, *ids)
    pipe.xdel(STREAM, *ids)
    pipe.execute()
    return written


def _events(entry_id, fields):
    try:
        return decode_entry(fields)
    except ValueError as exc:
        # Unreadable now means unreadable for ever: keep it as a dead letter (it may hold calls to bill).
        raw = b"".join(fields.get(name, b"") for name in (BATCH_FIELD, FIELD)).decode("utf-8", "backslashreplace")
        dead_letters_save([(raw, f"usage stream entry {_text(entry_id)} is not valid JSON: {exc}")])
        return []


def _text(entry_id) -> str:
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def drain(client, max_batches=100):
    """Move up to max_batches reads (each at most 500 events) into the ledger; returns rows written."""
    ensure_group(client)
    consumer, written = _consumer_name(), 0
    _next, claimed, *_ = client.xautoclaim(STREAM, GROUP, consumer, RECLAIM_IDLE_MS, "0-0", count=ENTRIES_PER_READ)
    if claimed:
        written += _write_and_ack(client, claimed)
    for _ in range(max_batches):
        reply = client.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=ENTRIES_PER_READ)
        entries = reply[0][1] if reply else []
        if not entries:
            break
        written += _write_and_ack(client, entries)
    return written


def publish(client, events):
    """Synchronous XADD of a batch (used by spool replay)."""
    pipe = client.pipeline(transaction=False)
    for entry in encodable_entries(events):
        pipe.xadd(STREAM, entry)
    pipe.execute()

"""The Redis stream of usage events, and draining it into the ledger.

Events are acknowledged only after the ledger transaction commits, so a crash
or a database outage leaves them pending for redelivery instead of losing them
(LiteLLM #33872 popped before committing).
"""
from __future__ import annotations

import json
import logging
import os
import socket

import redis

from billing.ledger import ledger_write

log = logging.getLogger(__name__)
STREAM = "sy:usage"
GROUP = "ledger"
FIELD = b"e"
BATCH = 500  # events per ledger transaction
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
    ids = [entry_id for entry_id, _fields in entries]
    events = [json.loads(fields[FIELD]) for _id, fields in entries if FIELD in fields]
    written = ledger_write(events)
    # Only now, after the commit: acknowledge and drop from the stream.
    pipe = client.pipeline(transaction=False)
    pipe.xack(STREAM, GROUP, *ids)
    pipe.xdel(STREAM, *ids)
    pipe.execute()
    return written


def drain(client, max_batches=100):
    """Move up to max_batches × BATCH events into the ledger; returns rows written."""
    ensure_group(client)
    consumer, written = _consumer_name(), 0
    _next, claimed, *_ = client.xautoclaim(STREAM, GROUP, consumer, RECLAIM_IDLE_MS, "0-0", count=BATCH)
    if claimed:
        written += _write_and_ack(client, claimed)
    for _ in range(max_batches):
        reply = client.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=BATCH)
        entries = reply[0][1] if reply else []
        if not entries:
            break
        written += _write_and_ack(client, entries)
    return written


def publish(client, events):
    """Synchronous XADD of a batch (used by spool replay)."""
    pipe = client.pipeline(transaction=False)
    for event in events:
        pipe.xadd(STREAM, {FIELD: json.dumps(event, separators=(",", ":"))})
    pipe.execute()

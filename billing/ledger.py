"""Writing usage events into the ledger: batched, idempotent on event id, and no event blocks another.

A batch is one insert. An event that cannot be a row (billing/ledger_events.py) or that the
database refuses is dead-lettered with its error (billing/dead_letters.py) and the rest are
written, in one transaction: the caller then acknowledges the whole batch. Before, one refused
event (a 100-character request id) failed its batch of up to 500, every retry, for ever.
Failures of the database itself (down, unreachable, timed out: OperationalError and the like)
are no event's fault: they propagate, nothing is dead-lettered and the batch stays pending.
"""
from __future__ import annotations

from django.db import DataError, IntegrityError, transaction

from billing.dead_letters import dead_letters_save
from billing.ledger_events import MalformedEvent, record_from_event
from billing.models import UsageRecord

__all__ = ["ledger_write", "record_from_event"]

# What an insert raises for one event's values: the database's DataError (a text too long or
# holding NUL, a number out of range) and IntegrityError (NOT NULL, CHECK), and the driver's
# errors before sending them (ValueError: a lone surrogate; OverflowError: an integer SQLite
# cannot hold; TypeError: a value it cannot adapt).
_REFUSED = (DataError, IntegrityError, ValueError, OverflowError, TypeError)


def _parse(events) -> tuple[dict, list]:
    """({event id: (event, row)}, [(malformed event, error)])."""
    rows, malformed = {}, []
    for event in events:
        try:
            record = record_from_event(event)
        except MalformedEvent as exc:
            malformed.append((event, exc))
            continue
        rows.setdefault(str(record.event_id), (event, record))
    return rows, malformed


def _insert(items: list) -> tuple[int, list]:
    """Insert the rows of `items` [(event, row)]; (how many, [(refused event, error)]).

    Each try is a savepoint; a refused batch is halved until the refused rows stand alone, so
    one bad event among n costs about 2·log2(n) extra inserts and the good ones are all written.
    """
    if not items:
        return 0, []
    try:
        with transaction.atomic():
            UsageRecord.objects.bulk_create([row for _event, row in items], ignore_conflicts=True)
        return len(items), []
    except _REFUSED as exc:
        if len(items) == 1:
            return 0, [(items[0][0], exc)]
    half = len(items) // 2
    first, second = _insert(items[:half]), _insert(items[half:])
    return first[0] + second[0], first[1] + second[1]


def ledger_write(events: list[dict]) -> int:
    """Insert events not already in the ledger; returns how many were new.

    Safe to call again with the same events (replays, redeliveries): the unique event id makes
    a duplicate a no-op, so nothing is double-counted; a dead-lettered event is not written.
    """
    if not events:
        return 0
    rows, malformed = _parse(events)
    with transaction.atomic():
        existing = {
            str(u) for u in UsageRecord.objects.filter(event_id__in=list(rows)).values_list("event_id", flat=True)
        }
        written, refused = _insert([item for eid, item in rows.items() if eid not in existing])
        dead_letters_save(malformed + refused)
    return written

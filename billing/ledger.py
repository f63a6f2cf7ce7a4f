"""Writing usage events into the ledger: batched, idempotent on event id."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from django.db import transaction

from billing.models import UsageRecord

_FIELDS = {f.name for f in UsageRecord._meta.concrete_fields} - {"id"}


def record_from_event(event: dict) -> UsageRecord:
    data = {k: v for k, v in event.items() if k in _FIELDS}
    data["created_at"] = datetime.fromtimestamp(event["created_at"], tz=timezone.utc)
    data["cost_usd"] = Decimal(event.get("cost_usd") or "0")
    data["cost_saved_usd"] = Decimal(event.get("cost_saved_usd") or "0")
    return UsageRecord(**data)


def ledger_write(events: list[dict]) -> int:
    """Insert events not already in the ledger; returns how many were new.

    Safe to call again with the same events (replays, redeliveries): the
    unique event id makes a duplicate a no-op, so nothing is double-counted.
    """
    if not events:
        return 0
    unique = {str(e["event_id"]): e for e in events}
    with transaction.atomic():
        existing = set(
            str(u) for u in UsageRecord.objects.filter(event_id__in=list(unique)).values_list("event_id", flat=True)
        )
        fresh = [record_from_event(e) for eid, e in unique.items() if eid not in existing]
        UsageRecord.objects.bulk_create(fresh, ignore_conflicts=True)
    return len(fresh)

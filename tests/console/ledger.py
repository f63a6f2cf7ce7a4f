"""Ledger rows for the dashboard, log, cost and tail tests (written as the drain writes them)."""
import itertools
import uuid
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from billing.models import UsageRecord

_seq = itertools.count(1)


def make_usage(tenant, **fields):
    n = next(_seq)
    values = {
        "event_id": uuid.uuid4(), "request_id": f"req-{n}", "created_at": timezone.now() - timedelta(minutes=5),
        "tenant_id": tenant.pk, "route": "chat", "provider": "mock", "model": "mock-1", "ingress": "openai",
        "endpoint": "chat", "status": 200, "input_tokens": 10, "output_tokens": 5, "latency_ms": 120.0,
        "ttfb_ms": 40.0, "cost_usd": Decimal("0.001250000000"), "cache_status": "miss",
        "attempt_log": [{"route": "chat", "provider": "mock", "model": "mock-1", "status": 200, "ms": 100}],
    }
    values.update(fields)
    return UsageRecord.objects.create(**values)

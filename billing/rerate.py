"""Re-rating: recompute a period's ledger costs with the prices in force at each call, record the differences.

The ledger is append-only, so a changed cost becomes a RatingAdjustment (old,
new, delta) of a RerateRun; a call's effective cost is its ledger cost plus
its adjustments' deltas. A row whose effective cost already equals the
recomputed one gets nothing, so running again with unchanged prices adds no
adjustment. Prices come from where the data plane takes them: PriceOverride
windows at the call's time, else the provider's `options.prices` (undated: its
current value), else the genai-prices catalogue at the call's time.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from itertools import islice

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from billing.catalogue import unit_prices
from billing.models import PriceOverride, RatingAdjustment, RerateRun, UsageRecord
from billing.prices.book import PriceBook
from gateway.dataplane.pricing import base_price, cost_usd
from gateway.models import Provider

COST_QUANTUM = Decimal("1e-12")  # UsageRecord.cost_usd keeps 12 places; PostgreSQL rounds half away from zero
BATCH = 2000  # ledger rows per read and per adjustment insert
RERATE_LOCK_ID = 7_411_000_005  # one run at a time on PostgreSQL, so each sees the previous one's adjustments
FREE_CACHE_STATUSES = ("hit", "semantic")  # answered from the cache: no upstream cost, whatever the prices
UNPRICEABLE = object()  # the row's provider was deleted: its kind (and so its catalogue price) is unknown
ROW_FIELDS = (
    "event_id", "created_at", "tenant_id", "route_id", "provider_id", "model", "input_tokens", "output_tokens",
    "cached_tokens", "cache_write_tokens", "cost_usd", "cache_status",
)


@dataclass
class RerateResult:
    start: datetime
    end: datetime
    tenant_id: int | None
    dry_run: bool
    run_id: uuid.UUID | None = None  # None on a dry run: nothing was kept
    rows_scanned: int = 0
    rows_adjusted: int = 0
    rows_skipped: int = 0
    old_total: Decimal = field(default_factory=Decimal)
    new_total: Decimal = field(default_factory=Decimal)

    @property
    def delta(self) -> Decimal:
        return self.new_total - self.old_total


def rerate(start: datetime, end: datetime, *, tenant_id: int | None = None, dry_run: bool = False) -> RerateResult:
    """Re-rate ledger rows with start <= created_at < end (one tenant's, or all); one transaction."""
    result = RerateResult(start, end, tenant_id, dry_run)
    rows = UsageRecord.objects.filter(created_at__gte=start, created_at__lt=end)
    if tenant_id is not None:
        rows = rows.filter(tenant_id=tenant_id)
    with transaction.atomic():
        _lock()
        run = RerateRun.objects.create(period_start=start, period_end=end, tenant_id=tenant_id)
        pricer = _Pricer(set(rows.exclude(provider_id=None).values_list("provider_id", flat=True).distinct()))
        iterator = rows.only(*ROW_FIELDS).order_by("created_at", "id").iterator(chunk_size=BATCH)
        while batch := list(islice(iterator, BATCH)):
            _rerate_batch(batch, run, pricer, result)
        _finish(run, result)
        if dry_run:
            transaction.set_rollback(True)  # the real code path, then undone: a dry run reports what a run does
        else:
            result.run_id = run.pk
    return result


def _lock():
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RERATE_LOCK_ID])


def _rerate_batch(rows, run, pricer, result):
    prior = _prior_deltas([row.event_id for row in rows])
    adjustments = []
    for row in rows:
        result.rows_scanned += 1
        old = row.cost_usd + prior.get(row.event_id, 0)
        price = None if row.cache_status in FREE_CACHE_STATUSES else pricer.price(row)
        if row.cache_status in FREE_CACHE_STATUSES or price is UNPRICEABLE:
            result.rows_skipped += 1
            result.old_total += old
            result.new_total += old
            continue
        new = _cost(price, row)
        result.old_total += old
        result.new_total += new
        if new != old:
            adjustments.append(RatingAdjustment(
                run=run, event_id=row.event_id, tenant_id=row.tenant_id, usage_at=row.created_at,
                old_cost_usd=old, new_cost_usd=new, delta_usd=new - old, price_version=price.source if price else "",
            ))
    RatingAdjustment.objects.bulk_create(adjustments, batch_size=BATCH)
    result.rows_adjusted += len(adjustments)


def _prior_deltas(event_ids):
    """Each row's adjustments so far: what earlier runs already corrected."""
    totals = RatingAdjustment.objects.filter(event_id__in=event_ids).values("event_id").annotate(total=Sum("delta_usd"))
    return {t["event_id"]: t["total"] for t in totals}


def _cost(price, row) -> Decimal:
    tokens = (row.input_tokens, row.output_tokens, row.cached_tokens)
    exact = cost_usd(price, *tokens, cache_write_tokens=row.cache_write_tokens)
    return exact.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)


def _finish(run, result):
    run.finished_at = timezone.now()
    for name in ("rows_scanned", "rows_adjusted", "rows_skipped"):
        setattr(run, name, getattr(result, name))
    run.old_total_usd, run.new_total_usd, run.delta_usd = result.old_total, result.new_total, result.delta
    run.save()


class _Pricer:
    """The price in force for a ledger row at its time, from every override ever set."""

    def __init__(self, provider_ids):
        self.providers = {p.pk: p for p in Provider.objects.filter(pk__in=provider_ids)}
        self.book = PriceBook({}, PriceOverride.objects.filter(provider_id__in=provider_ids))
        self._base = {}
        self._dated = {}

    def price(self, row):
        if row.provider_id is None:
            return None  # never reached an upstream
        provider = self.providers.get(row.provider_id)
        if provider is None:
            return UNPRICEABLE
        at = row.created_at.timestamp()
        window = self.book.window(row.tenant_id, row.route_id, row.provider_id, row.model, at)
        if window is not None:
            return window.price
        return self._base_at(provider, row.model, row.created_at)

    def _base_at(self, provider, model, when):
        target = (provider.pk, model)
        if target not in self._dated:
            units = unit_prices(provider.kind, model)
            self._dated[target] = bool(units and units.dated)
        # Dated catalogue prices (changes, time-of-day discounts) per minute; the rest once.
        key = (*target, when.replace(second=0, microsecond=0) if self._dated[target] else None)
        if key not in self._base:
            self._base[key] = base_price(provider, model, when)
        return self._base[key]

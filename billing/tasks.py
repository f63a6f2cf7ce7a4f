"""Celery tasks of the money pipeline: the usage stream and spool into the ledger."""
from __future__ import annotations

import logging
from functools import lru_cache

from celery import shared_task
from django.conf import settings

from billing import spool
from billing.ledger import ledger_write

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)


@shared_task(name="billing.drain_usage", ignore_result=True)
def drain_usage():
    """Move the usage stream into the ledger (production), acknowledging only after commit."""
    if not settings.REDIS_URL:
        return 0
    from billing.usage_stream import drain

    return drain(_redis())


@shared_task(name="billing.replay_spools", ignore_result=True)
def replay_spools():
    """Replay spool files a server left behind (it died, or Redis was down when it stopped)."""
    directory = spool.spool_dir(settings.VAR_DIR)
    if settings.REDIS_URL:
        from billing.usage_stream import publish

        return spool.replay(directory, lambda events: publish(_redis(), events))
    return spool.replay(directory, ledger_write)


@shared_task(name="billing.reconcile_budgets", ignore_result=True)
def reconcile_budgets():
    """Bring the Redis budget counters to the ledger and release lapsed reservations."""
    if not settings.REDIS_URL:
        return 0  # embedded: each server reconciles its in-process counters at every snapshot build
    from billing.budgets import budgets_reconcile
    from gateway.dataplane.budgets.store import SyncRedisCounters

    return len(budgets_reconcile(SyncRedisCounters(_redis())))

"""Celery tasks of the analytics app: keep the rollups current."""
from __future__ import annotations

import logging

from celery import shared_task

from analytics import rollups

log = logging.getLogger(__name__)


@shared_task(name="analytics.rollup_recent", ignore_result=True)
def rollup_recent():
    """Rebuild the buckets still filling and their predecessors (see `rollups.rollup_recent`)."""
    written = rollups.rollup_recent()
    log.debug("rolled up recent buckets: %s", written)
    return written

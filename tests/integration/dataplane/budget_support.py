"""Helpers of the budget integration tests: priced mock routes, budgets, concurrent calls, counters."""
from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import httpx

from billing.budgets import budget_info, ledger_spend
from billing.models import Budget, UsageRecord
from billing.usage_stream import drain
from gateway.dataplane.budgets.periods import window
from gateway.dataplane.budgets.plan import counter
from gateway.dataplane.budgets.store import SyncRedisCounters
from gateway.models import Provider, Route
from gateway.services.routes import route_save
from tests.servers import wait_until

MODEL = "mock-1"
PROMPT = "go"  # the mock answers "mock reply to: go": 4 output tokens, 1 input token


def priced_mock_route(name, input_per_mtok="0", output_per_mtok="0", tenant=None, max_tokens_cap=None, **options):
    """A mock route whose provider prices its model (pricing.py `options.prices`); options: the mock's."""
    prices = {MODEL: {"input_per_mtok": input_per_mtok, "output_per_mtok": output_per_mtok}}
    provider = Provider.objects.create(name=f"{name}-mock", kind="mock", base_url="", tenant=tenant,
                                       options={"prices": prices, **options})
    return route_save(Route(name=name, tenant=tenant, max_tokens_cap=max_tokens_cap), targets=[(provider, MODEL, 1)])


def make_budget(tenant, amount, scope="tenant", **fields) -> Budget:
    budget = Budget(tenant=tenant, scope=scope, amount_usd=Decimal(amount), **fields)
    budget.full_clean()
    budget.save()
    return budget


def chat_body(model, max_tokens=4, text=PROMPT, **extra):
    return {"model": model, "max_tokens": max_tokens, "messages": [{"role": "user", "content": text}], **extra}


async def post_many(urls, secret, bodies, path="/v1/chat/completions", connections=200):
    """All bodies at once, spread over the servers; returns the httpx responses (bodies read).

    One connection per request: reusing a kept-alive connection races the server closing it
    (httpx raises ReadError, encode/httpx#3348), and these counts must be exact, so no retry."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=0)
    headers = {"Authorization": f"Bearer {secret}", "x-api-key": secret, "anthropic-version": "2023-06-01"}
    async with httpx.AsyncClient(timeout=60, limits=limits, headers=headers) as client:
        return await asyncio.gather(*(client.post(urls[i % len(urls)] + path, json=body)
                                      for i, body in enumerate(bodies)))


def call(url, secret, body, path="/v1/chat/completions"):
    return asyncio.run(post_many([url], secret, [body], path=path))[0]


def drain_until(redis_client, expected, timeout=30):
    def done():
        drain(redis_client)
        return UsageRecord.objects.count() >= expected
    return wait_until(done, timeout=timeout, interval=0.2)


def counters(redis_client) -> SyncRedisCounters:
    return SyncRedisCounters(redis_client)


def status(redis_client, budget: Budget):
    """(spent pico-dollars, reserved micro-dollars, open reservations) of the current period."""
    return counters(redis_client).status(counter(budget_info(budget), time.time()))


def ledger_pico(budget: Budget) -> int:
    info = budget_info(budget)
    now = time.time()
    before, recent = ledger_spend(info, window(info.period, info.time_zone, now, info.created).start, now + 1)
    return before + sum(recent.values())


def open_reservation_sets(redis_client) -> list:
    return [k for k in redis_client.scan_iter("sy:bud:*:res") if redis_client.zcard(k)]


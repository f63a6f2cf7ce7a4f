"""The live request tail: `/console/ws/tail/`, the current tenant's requests as they arrive.

Nothing is added to the data plane's hot path. With Redis the consumer reads
the usage stream (`sy:usage`, the one the usage step already writes) with a
blocking XREAD from the id last generated when it connected; it never joins
the ledger's consumer group, so the drain is unaffected. In embedded mode
(no Redis) it polls the ledger for rows newer than the last one sent, every
second. Only signed-in members of the tenant chosen in the console session
are accepted; developers see their own keys' requests only.

An idle tail is the normal state of a quiet tenant, so nothing here may time
out while waiting: the consumer opts out of the channel layer (it never uses
one; channels_redis's receive is a 5-s BZPOPMIN read with redis-py's default
5-s socket timeout, which raised TimeoutError and closed every tail idle for
5 s), its own XREAD blocks well below its client's read timeout, and a Redis
error reconnects with backoff from the last id sent instead of closing the
socket. uvicorn pings the socket (`--ws-ping-interval`, 20 s by default), so
proxies see traffic while nothing arrives.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import redis.asyncio as aioredis
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from billing.models import UsageRecord
from billing.usage_entries import STREAM, decode_entry
from gateway.console.tenancy import SESSION_KEY, tenants_for
from gateway.models import ApiKey, Role

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0  # embedded mode: how often the ledger is asked for new rows
BLOCK_MS = 1000  # one XREAD waits this long for new entries, then returns empty and is sent again
READ_TIMEOUT_S = 5  # the tail's Redis read timeout: well above BLOCK_MS, so an idle XREAD never hits it
RETRY_FIRST_S, RETRY_MAX_S = 0.5, 10.0  # reconnect backoff after a Redis error: doubling, capped
CLIENT_NAME = "sy-tail"  # CLIENT LIST shows which connections are tails
BATCH = 200  # entries per XREAD, rows per ledger poll: one burst of sends at most
FIELDS = ("request_id", "route", "provider", "model", "status", "error_code", "cache_status",
          "input_tokens", "output_tokens", "latency_ms", "cost_usd", "key_id")
CLOSE_UNAUTHENTICATED, CLOSE_NO_TENANT = 4401, 4403


def tail_access(user, session) -> tuple[int, list[int] | None] | None:
    """(tenant id, own key ids for developers or None) for the console's current tenant; None: refuse."""
    tenants = tenants_for(user)
    if not tenants:
        return None
    chosen = session.get(SESSION_KEY) if session is not None else None
    tenant, role = next(((t, r) for t, r in tenants if t.pk == chosen), tenants[0])
    if role == Role.DEVELOPER:
        return tenant.pk, list(ApiKey.objects.filter(tenant=tenant, owner=user).values_list("id", flat=True))
    return tenant.pk, None


def key_names(tenant_id) -> dict[int, str]:
    return dict(ApiKey.objects.filter(tenant_id=tenant_id).values_list("id", "name"))


def ledger_after(tenant_id, key_ids, last_id) -> list[dict]:
    rows = UsageRecord.objects.filter(tenant_id=tenant_id, id__gt=last_id)
    if key_ids is not None:
        rows = rows.filter(key_id__in=key_ids)
    return list(rows.order_by("id").values("id", "created_at", *FIELDS)[:BATCH])


def last_ledger_id() -> int:
    return UsageRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0


class TailConsumer(AsyncJsonWebsocketConsumer):
    channel_layer_alias = None  # no group messages: without a layer channels waits on the socket alone

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        access = await database_sync_to_async(tail_access)(user, self.scope.get("session"))
        if access is None:
            await self.close(code=CLOSE_NO_TENANT)
            return
        self.tenant_id, self.key_ids = access
        self.names = await database_sync_to_async(key_names)(self.tenant_id)
        # The position is taken before accepting: whatever arrives once the browser is connected is shown.
        if settings.REDIS_URL:
            self.redis = aioredis.from_url(settings.REDIS_URL, socket_timeout=READ_TIMEOUT_S,
                                           client_name=CLIENT_NAME)
            follow = self.follow_stream(await self._stream_position(self.redis))
        else:
            follow = self.follow_ledger(await database_sync_to_async(last_ledger_id)())
        await self.accept()
        self.task = asyncio.create_task(follow)

    async def disconnect(self, code):
        task = getattr(self, "task", None)
        if task is None and getattr(self, "redis", None) is not None:
            await self.redis.aclose()  # refused or closed before following
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def receive_json(self, content, **kwargs):
        """The tail only talks; anything the browser sends is ignored."""

    def visible(self, event: dict) -> bool:
        if event.get("tenant_id") != self.tenant_id:
            return False
        return self.key_ids is None or event.get("key_id") in self.key_ids

    async def send_row(self, row: dict, created_at: datetime):
        key_id = row.get("key_id")
        if key_id is not None and key_id not in self.names:
            self.names = await database_sync_to_async(key_names)(self.tenant_id)
        await self.send_json({
            **{name: row.get(name) for name in FIELDS},
            "id": row.get("id"),
            "cost_usd": str(row.get("cost_usd") or "0"),
            "created_at": created_at.astimezone(UTC).isoformat(),
            "key": self.names.get(key_id, f"#{key_id}" if key_id else ""),
        })

    async def follow_stream(self, last):
        """Entries after `last`, forever; a Redis error waits (doubling) and reads on from the last id sent."""
        client, delay = self.redis, RETRY_FIRST_S
        try:
            while True:
                try:
                    last = await self._read_after(client, last)
                    delay = RETRY_FIRST_S
                except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
                    log.warning("live tail: Redis error (%s), reading again in %.1f s", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX_S)
        finally:
            await client.aclose()

    async def _read_after(self, client, last):
        """One blocking XREAD; sends what it got and returns the id to read after next."""
        reply = await client.xread({STREAM: last}, count=BATCH, block=BLOCK_MS)
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                last = entry_id
                await self._send_events(fields)
        return last

    async def _stream_position(self, client):
        """The id last generated in the stream: XREAD from it sees exactly what arrives after connecting."""
        try:
            info = await client.xinfo_stream(STREAM)
            return info["last-generated-id"]
        except aioredis.ResponseError:  # no stream yet
            return "0-0"

    async def _send_events(self, fields):
        try:
            events = decode_entry(fields)
        except ValueError:
            return
        for event in events:
            if self.visible(event):
                await self.send_row(event, datetime.fromtimestamp(float(event.get("created_at") or 0), tz=UTC))

    async def follow_ledger(self, last):
        while True:
            rows = await database_sync_to_async(ledger_after)(self.tenant_id, self.key_ids, last)
            for row in rows:
                last = row["id"]
                await self.send_row(row, row["created_at"])
            if len(rows) < BATCH:
                await asyncio.sleep(POLL_SECONDS)

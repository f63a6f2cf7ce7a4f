"""The live tail over a real server and a real websocket client: an idle tail stays connected.

The tail's XREAD blocks while nothing arrives, which is the normal state of a quiet tenant; the
socket must outlive the Redis client's read timeout and still deliver the next event.
"""
import asyncio
import json
import time

import pytest
import redis
import websockets
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import Client

from billing.usage_entries import FIELD, STREAM
from gateway.console.consumers import CLIENT_NAME, READ_TIMEOUT_S
from tests.servers import GatewayServer, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
PATH = "/console/ws/tail/"
# Longer than the 5-s read timeout that closed idle tails (channels_redis's BZPOPMIN against
# redis-py's default socket timeout) and than the tail's own READ_TIMEOUT_S.
IDLE_S = READ_TIMEOUT_S + 1


def _cookie_for(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _event(tenant, request_id):
    return {"event_id": request_id, "request_id": request_id, "created_at": time.time(), "tenant_id": tenant.pk,
            "key_id": None, "route": "chat", "provider": "mock", "model": "mock-1", "status": 200,
            "error_code": "", "cache_status": "miss", "input_tokens": 3, "output_tokens": 2,
            "latency_ms": 12.5, "cost_usd": "0.000100000000"}


@pytest.fixture
def redis_client():
    if not settings.REDIS_URL:
        pytest.skip("Redis mode: the tail reads the usage stream")
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()  # a fresh usage stream and config version for the server
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def server(redis_client):
    with GatewayServer(SECURE_COOKIES="0") as server:  # plain http on 127.0.0.1: no Secure cookies
        yield server


def _connect(server, cookie):
    headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"}
    return websockets.connect(f"ws://127.0.0.1:{server.port}{PATH}", origin=server.url, additional_headers=headers)


async def _idle_then_receive(server, cookie, tenant, redis_client):
    async with _connect(server, cookie) as socket:
        with pytest.raises(TimeoutError):  # nothing to show while idle, and the socket stays open
            await asyncio.wait_for(_next_row(socket), timeout=IDLE_S)
        redis_client.xadd(STREAM, {FIELD: json.dumps(_event(tenant, "after-idle"))})
        return await asyncio.wait_for(_next_row(socket), timeout=5)


def _tail_connections(redis_client) -> list[int]:
    """Ids of the tails' Redis connections on this test's database (others share the server)."""
    db = redis_client.connection_pool.connection_kwargs.get("db", 0)
    return [c["id"] for c in redis_client.client_list() if c.get("name") == CLIENT_NAME and int(c["db"]) == db]


async def _killed_then_receive(server, cookie, tenant, redis_client):
    async with _connect(server, cookie) as socket:
        ids = await asyncio.to_thread(wait_until, lambda: _tail_connections(redis_client))
        assert ids, "the tail holds no named Redis connection"
        for client_id in ids:
            redis_client.client_kill_filter(_id=client_id)
        redis_client.xadd(STREAM, {FIELD: json.dumps(_event(tenant, "after-kill"))})
        return await asyncio.wait_for(_next_row(socket), timeout=10)


async def _next_row(socket):
    """The next request row; keep-alive messages (no request id) are skipped."""
    while True:
        message = json.loads(await socket.recv())
        if message.get("request_id"):
            return message


def test_it_keeps_an_idle_tail_connected_and_delivers_the_next_event(tenant_a, admin_a, redis_client, server):
    cookie = _cookie_for(admin_a)
    row = asyncio.run(_idle_then_receive(server, cookie, tenant_a, redis_client))
    assert row["request_id"] == "after-idle" and row["status"] == 200
    assert "Traceback" not in server.output(), server.output()[-2000:]


def test_it_reads_on_after_the_tails_redis_connection_is_killed(tenant_a, admin_a, redis_client, server):
    cookie = _cookie_for(admin_a)
    row = asyncio.run(_killed_then_receive(server, cookie, tenant_a, redis_client))
    assert row["request_id"] == "after-kill"
    assert "Traceback" not in server.output(), server.output()[-2000:]


async def test_it_keeps_an_idle_channel_layer_receive_waiting(redis_client):
    """The tail no longer uses the layer; a consumer that does must not die idle either."""
    layer = get_channel_layer()
    try:
        channel = await layer.new_channel()
        with pytest.raises(TimeoutError):  # wait_for's own; redis-py's TimeoutError is not a builtin one
            await asyncio.wait_for(layer.receive(channel), timeout=IDLE_S)
    finally:
        await layer.close_pools()

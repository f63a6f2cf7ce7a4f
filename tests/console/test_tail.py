"""The live tail websocket: signed-in members only, the current tenant's rows only, as they arrive."""
import json
import sys
import time
import types
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connections
from django.test import Client

from billing.usage_stream import FIELD, STREAM
from gateway.asgi import application
from tests.console.ledger import make_usage


def _websocket_communicator():
    """channels.testing.WebsocketCommunicator.

    The package's __init__ also imports its live-server test case, which needs
    daphne (not a dependency here): without daphne, load the submodule alone.
    """
    try:
        from channels.testing import WebsocketCommunicator
    except ModuleNotFoundError as exc:
        if exc.name != "daphne":
            raise
        import channels
        package = types.ModuleType("channels.testing")
        package.__path__ = [str(Path(channels.__file__).parent / "testing")]
        sys.modules["channels.testing"] = package
        from channels.testing.websocket import WebsocketCommunicator
    return WebsocketCommunicator


WebsocketCommunicator = _websocket_communicator()
pytestmark = pytest.mark.django_db(transaction=True)
PATH = "/console/ws/tail/"


def _cookie_for(user):
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def _connect(user=None):
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if user is not None:
        cookie = await database_sync_to_async(_cookie_for)(user)
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    communicator = WebsocketCommunicator(application, PATH, headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


async def _finish(communicator):
    await communicator.disconnect()
    # The consumer's ORM calls ran in asgiref's sync thread; its persistent connection would keep
    # the test database open at teardown.
    await database_sync_to_async(connections.close_all)()


def _event(tenant, **fields):
    return {"event_id": "e", "request_id": fields.pop("request_id", "r"), "created_at": time.time(),
            "tenant_id": tenant.pk, "key_id": None, "route": "chat", "provider": "mock", "model": "mock-1",
            "status": 200, "error_code": "", "cache_status": "miss", "input_tokens": 3, "output_tokens": 2,
            "latency_ms": 12.5, "cost_usd": "0.000100000000", **fields}


async def test_it_refuses_a_signed_out_socket():
    communicator, connected, code = await _connect()
    assert not connected and code == 4401
    await _finish(communicator)


async def test_it_refuses_a_foreign_origin(admin_a):
    cookie = await database_sync_to_async(_cookie_for)(admin_a)
    communicator = WebsocketCommunicator(application, PATH, headers=[
        (b"origin", b"http://evil.test"), (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())])
    connected, _code = await communicator.connect(timeout=5)
    assert not connected
    await _finish(communicator)


@pytest.mark.skipif(not settings.REDIS_URL, reason="Redis mode: the tail reads the usage stream")
async def test_it_streams_new_events_of_the_tenant_from_redis(tenant_a, tenant_b, admin_a):
    communicator, connected, _code = await _connect(admin_a)
    assert connected
    client, ids = redis.Redis.from_url(settings.REDIS_URL), []
    try:
        ids += [client.xadd(STREAM, {FIELD: json.dumps(_event(tenant_b, request_id="theirs"))}),
               client.xadd(STREAM, {FIELD: json.dumps(_event(tenant_a, request_id="mine"))})]
        row = await communicator.receive_json_from(timeout=5)
        assert row["request_id"] == "mine" and row["status"] == 200 and row["cost_usd"] == "0.000100000000"
        assert await communicator.receive_nothing(timeout=1.5)
    finally:
        if ids:
            client.xdel(STREAM, *ids)
        client.close()
        await _finish(communicator)


async def test_it_polls_the_ledger_in_embedded_mode(tenant_a, tenant_b, admin_a, settings):
    settings.REDIS_URL = None
    communicator, connected, _code = await _connect(admin_a)
    assert connected
    try:
        await database_sync_to_async(make_usage)(tenant_b, request_id="theirs")
        mine = await database_sync_to_async(make_usage)(tenant_a, request_id="mine", cost_usd=Decimal("0.5"))
        row = await communicator.receive_json_from(timeout=5)
        assert row["request_id"] == "mine" and row["id"] == mine.pk and row["cost_usd"] == "0.500000000000"
        assert await communicator.receive_nothing(timeout=1.5)
    finally:
        await _finish(communicator)

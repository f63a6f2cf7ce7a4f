"""The hot path's pipelined Redis client against a real Redis, and against servers that misbehave."""
import asyncio

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.dataplane import redis_wire
from gateway.dataplane.redis_wire import PreparedCall, Script, WireRedis, encode
from tests.servers import free_port

from .limits_support import redis_url

ECHO = Script("return {KEYS[1], ARGV[1]}")


@pytest.fixture
async def wire():
    client = WireRedis(redis_url())
    yield client
    await client.aclose()


@pytest.fixture
async def plain():
    client = aioredis.Redis.from_url(redis_url())
    yield client
    await client.aclose()


def test_it_encodes_commands_in_resp():
    assert encode((b"SET", "k", 12, 1.5)) == b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n$3\r\n1.5\r\n"
    with pytest.raises(TypeError):
        encode((b"SET", None))


async def test_it_gives_each_of_many_concurrent_callers_its_own_reply(wire, plain):
    keys = [f"wire-test:{i}" for i in range(500)]
    await asyncio.gather(*(wire.execute(b"SET", key, i, b"EX", 30) for i, key in enumerate(keys)))
    replies = await asyncio.gather(*(wire.execute(b"GET", key) for key in keys))
    assert replies == [str(i).encode() for i in range(500)]
    assert await plain.get(keys[7]) == b"7"  # in the database the URL names, not database 0


async def test_it_writes_a_loop_turn_s_commands_together(wire, monkeypatch):
    await wire.execute(b"PING")
    writes = []
    transport = wire._protocol.transport
    original = transport.write
    monkeypatch.setattr(transport, "write", lambda data: (writes.append(data), original(data)))
    assert await asyncio.gather(*(wire.execute(b"PING") for _ in range(50))) == [b"PONG"] * 50
    assert len(writes) == 1


async def test_it_raises_redis_errors_and_keeps_the_order(wire):
    results = await asyncio.gather(wire.execute(b"NOSUCHCOMMAND"), wire.execute(b"PING"), return_exceptions=True)
    assert isinstance(results[0], ResponseError) and results[1] == b"PONG"


async def test_it_loads_a_script_redis_does_not_know(wire, plain):
    await plain.script_flush()
    assert await wire.evalsha(ECHO, ["k"], [b"v"]) == [b"k", b"v"]
    assert await wire.evalsha(ECHO, ["k2"], [3]) == [b"k2", b"3"]  # by digest now


async def test_it_runs_a_script_whose_caller_was_cancelled(wire, plain):
    await plain.delete("wire-test:cancelled")
    await wire.execute(b"PING")  # connected, as after the acquire a settle follows
    await plain.script_flush()  # the reload after NOSCRIPT must also happen without the caller
    bump = Script("return redis.call('INCR', KEYS[1])")
    task = asyncio.ensure_future(wire.evalsha(bump, ["wire-test:cancelled"], []))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0.2)
    assert await plain.get("wire-test:cancelled") == b"1"


async def test_it_fails_fast_when_redis_is_unreachable():
    client = WireRedis(f"redis://127.0.0.1:{free_port()}/0")
    for _ in range(2):
        with pytest.raises(RedisConnectionError):
            await client.execute(b"PING")


class Server:
    """A TCP server on 127.0.0.1 that answers as told: never, or by closing the connection."""

    def __init__(self, mode):
        self.mode, self.connections = mode, 0

    async def __aenter__(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.url = f"redis://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/0"
        return self

    async def handle(self, reader, writer):
        self.connections += 1
        await reader.read(1024)
        if self.mode == "close" and self.connections == 1:
            writer.close()
            return
        if self.mode == "close":
            writer.write(b"+PONG\r\n")
            await writer.drain()
        await reader.read(1024)  # "silent": hold the connection, answer nothing

    async def __aexit__(self, *exc):
        self.server.close()


async def test_it_fails_the_waiting_callers_when_redis_stalls_then_reconnects(monkeypatch):
    monkeypatch.setattr(redis_wire, "WATCH_EVERY_S", 0.05)
    async with Server("silent") as server:
        client = WireRedis(server.url, timeout=0.3)
        started = asyncio.get_running_loop().time()
        results = await asyncio.gather(*(client.execute(b"PING") for _ in range(3)), return_exceptions=True)
        assert all(isinstance(r, RedisTimeoutError) for r in results)
        assert 0.3 <= asyncio.get_running_loop().time() - started < 1.0
        with pytest.raises(RedisTimeoutError):
            await client.execute(b"PING")
        assert server.connections == 2  # the stalled connection was dropped, a new one opened
        await client.aclose()


async def test_it_fails_the_waiting_callers_when_the_connection_drops_then_reconnects():
    async with Server("close") as server:
        client = WireRedis(server.url)
        with pytest.raises(RedisConnectionError):
            await client.execute(b"PING")
        assert await client.execute(b"PING") == b"PONG"
        await client.aclose()


async def test_it_hands_a_reply_nobody_awaits_to_its_callback_in_order(wire, plain):
    await plain.delete("wire-test:then")
    await plain.script_flush()  # the callback form reloads a script Redis lacks too
    bump = Script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    await wire.execute(b"PING")
    seen = []
    wire.evalsha_then(bump, ["wire-test:then"], [2], lambda reply, exc: seen.append(("script", reply, exc)))
    wire.send_then((b"NOSUCHCOMMAND",), lambda reply, exc: seen.append(("bad", reply, type(exc))))
    await wire.execute(b"PING")  # answered after both: by then Redis asked for the script's source
    assert await wire.execute(b"GET", "wire-test:then") == b"2"  # so the reload ran before this
    assert seen == [("bad", None, ResponseError), ("script", 2, None)]
    wire.evalsha_then(bump, ["wire-test:then"], [3], lambda reply, exc: seen.append(("again", reply, exc)))
    assert await wire.execute(b"GET", "wire-test:then") == b"5"  # known now: in order, by digest
    assert seen[-1] == ("again", 5, None)


async def test_it_completes_leaving_once_the_queued_commands_are_written(wire, monkeypatch):
    await wire.execute(b"PING")
    assert wire.leaving() is None  # nothing queued
    writes = []
    transport = wire._protocol.transport
    original = transport.write
    monkeypatch.setattr(transport, "write", lambda data: (writes.append(data), original(data)))
    replies = []
    wire.send_then((b"SET", "wire-test:leaving", 1, b"EX", 30), lambda reply, exc: replies.append(reply))
    wire.send_then((b"GET", "wire-test:leaving"), lambda reply, exc: replies.append(reply))
    leaving = wire.leaving()
    assert leaving is wire.leaving() and not leaving.done() and writes == []
    await leaving
    assert len(writes) == 1 and b"SET" in writes[0] and b"GET" in writes[0]  # one write for both
    assert replies == []  # written, not yet answered: nobody waited for Redis
    await wire.execute(b"PING")
    assert replies == [b"OK", b"1"]


async def test_it_tells_a_callback_when_the_connection_drops():
    async with Server("silent") as server:
        client = WireRedis(server.url, timeout=5)
        failures = []
        client.send_then((b"PING",), lambda reply, exc: failures.append(exc))  # connects first, then sends
        await asyncio.sleep(0.1)
        assert client.leaving() is None  # already written
        client._protocol.transport.abort()  # the connection drops with the PING unanswered
        await asyncio.sleep(0.05)
        assert len(failures) == 1 and isinstance(failures[0], RedisConnectionError)
        await client.aclose()


async def test_it_runs_a_prepared_call_as_the_same_command_and_reloads_its_script(wire, plain):
    call = PreparedCall(ECHO, ["k"], 1, (7, "tail"))
    spliced = call.sha_head + redis_wire._bulks(("v",)) + call.tail
    assert spliced == encode((b"EVALSHA", ECHO.sha, 1, "k", "v", 7, "tail"))
    await plain.script_flush()
    assert await wire.run_soon(call, ("v",)) == [b"k", b"v"]  # Redis lacked it: loaded, then run
    assert await wire.run_soon(call, (b"w",)) == [b"k", b"w"]

"""The hot path's Redis client: one multiplexed connection per process, commands pipelined automatically.

Rate limits and the exact cache cost up to four Redis round trips per request. Through
redis-py's asyncio pool each one takes a pooled connection under a lock, writes, and reads
its reply through a StreamReader under a timeout scope: ~0.1 ms of CPU, more than the
request's whole proxying work (measured: 38 % of the CPU of a policies run). Here a command
is encoded, queued, and written together with every other command issued in the same event
loop turn (one `write` for all of them); replies come back in order on the one connection
and are parsed by hiredis straight into the waiting futures. Ordering is Redis's own
guarantee on one connection, so no request ids are needed. A write nobody waits for (a
rate-limit settle, a cache entry) takes a callback instead of a future, run as its reply is
read; `leaving()` lets a caller hold the end of its answer until such writes are on the
socket without a write of its own (measured: with these, a policies run served 15 % more
requests per second than with a future and an immediate `write` per command).

A stalled server fails every waiting command after `timeout` seconds (checked by one timer,
not one per command) and the connection is dropped; the next command reconnects. Errors are
redis-py's exception classes, so callers keep one `except RedisError` for both clients.
The budget counters' reserve and settle scripts run here too (budgets/store.py). redis-py
stays for everything off the hot path (usage stream, breaker board).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from urllib.parse import unquote, urlparse

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("switchyard.redis")
WATCH_EVERY_S = 0.25  # how often a connection with commands in flight checks for a stalled server


# One command in RESP, an array of bulk strings, from a tuple of bytes, str, int or float
# (TypeError for anything else); in C: twice the speed of the same loop in Python.
encode = hiredis.pack_command


def _outcome_of(future: asyncio.Future):
    exc = future.exception()
    return (None, exc) if exc is not None else (future.result(), None)


def _settle(future: asyncio.Future, result, exc) -> None:
    if future.done():  # its caller was cancelled
        return
    if exc is not None:
        _fail(future, exc)
    else:
        future.set_result(result)


def _fail(future: asyncio.Future, exc: BaseException) -> None:
    """Whoever awaits it gets the error; a reply nobody reads (a prefetch for a refused request)
    fails without asyncio logging "exception was never retrieved"."""
    future.set_exception(exc)
    future.exception()


def _call(then, reply, exc) -> None:
    """A callback must not break the reading of the replies after its own."""
    try:
        then(reply, exc)
    except Exception:  # noqa: BLE001
        log.exception("Redis reply callback failed")


def _quiet(task: asyncio.Task) -> asyncio.Task:
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    return task


def _then_after(task: asyncio.Task, then: Callable) -> None:
    """Not connected yet: a task connects and queues; its outcome goes to then(reply, exc)."""
    def done(task: asyncio.Task) -> None:
        if task.cancelled():
            _call(then, None, RedisConnectionError("Redis command cancelled"))
        else:
            _call(then, *_outcome_of(task))
    task.add_done_callback(done)


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: WireRedis):
        self.owner = owner
        self.reader = hiredis.Reader(replyError=ResponseError)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.reader.feed(data)
        pending = self.owner._pending
        while (reply := self.reader.gets()) is not False:
            sink = pending.popleft()[0]
            if isinstance(reply, ResponseError):
                reply = NoScriptError(str(reply)) if str(reply).startswith("NOSCRIPT") else reply
                if callable(sink):
                    _call(sink, None, reply)
                elif not sink.done():
                    _fail(sink, reply)
            elif callable(sink):  # a write nobody awaits: its callback, right here
                _call(sink, reply, None)
            elif not sink.done():  # else its caller was cancelled: the reply is dropped, the order kept
                sink.set_result(reply)

    def connection_lost(self, exc):
        why = type(exc).__name__ if exc else "closed"
        self.owner._lost(self, RedisConnectionError(f"Redis connection lost ({why})"))


class WireRedis:
    """execute(*args) -> the reply (bytes, int, list, None); raises redis-py's exceptions."""

    def __init__(self, url: str, timeout: float = 2.0):
        parts = urlparse(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 6379
        self.db = int((parts.path or "/0").lstrip("/") or 0)
        self.password = unquote(parts.password) if parts.password else None
        self.username = unquote(parts.username) if parts.username else None
        self.tls = parts.scheme == "rediss"
        self.timeout = timeout
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future | None = None
        # What waits for each reply, in order: a future, or a callback(reply, exc) for a write
        # nobody awaits (no future, no extra loop turn to run its done-callbacks).
        self._pending: deque[tuple[asyncio.Future | Callable, float]] = deque()
        self._outbox: list[bytes] = []
        self._leaving: asyncio.Future | None = None  # completes when the queued commands are written
        self._watch: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def execute(self, *args):
        if self._protocol is None:
            await self._connect()
        return await self._queue(args)

    def send(self, *args) -> Awaitable:
        """Queue the command now and return its reply to await later (or never): several sent in a
        row leave together and are answered together. Not connected: a task connects first."""
        if self._protocol is None:
            return _quiet(asyncio.ensure_future(self.execute(*args)))
        return self._queue(args)

    def send_then(self, args, then: Callable) -> None:
        """Queue a command whose reply nobody awaits: then(reply, exc) runs when it arrives (or
        the connection fails), synchronously, so it must be quick and must not raise."""
        if self._protocol is None:
            _then_after(asyncio.ensure_future(self.execute(*args)), then)
            return
        self._queue(args, then)

    def leaving(self) -> Awaitable | None:
        """What completes once the commands queued so far are written to the socket (None: nothing
        is queued on a live connection). Writers that must reach Redis before the client hears
        they are done await it: everything queued in the same loop turn still leaves in one write."""
        if not self._outbox or self._protocol is None:
            return None
        if self._leaving is None:
            self._leaving = self._loop.create_future()
        return self._leaving

    def _queue(self, args, then: Callable | None = None) -> asyncio.Future | None:
        return self._queue_encoded(encode(args), then)

    def _queue_encoded(self, command: bytes, then: Callable | None = None) -> asyncio.Future | None:
        if self._protocol is None:  # lost between connecting and queueing
            raise RedisConnectionError("Redis connection lost")
        loop = self._loop
        future = loop.create_future() if then is None else None
        self._pending.append((future or then, loop.time()))
        if not self._outbox:
            loop.call_soon(self._flush)  # everything queued in this loop turn leaves in one write
        self._outbox.append(command)
        if self._watch is None:
            self._watch = loop.call_later(WATCH_EVERY_S, self._check_stall)
        return future

    async def evalsha(self, script: Script, keys, args):
        return await self.evalsha_soon(script, keys, args)

    def evalsha_then(self, script: Script, keys, args, then: Callable) -> None:
        """evalsha_soon for a script whose reply nobody awaits: then(reply, exc), as send_then."""
        if self._protocol is None:
            _then_after(asyncio.ensure_future(self._evalsha_connecting(script, keys, args)), then)
            return
        tail = (len(keys), *keys, *args)
        self._script_then(encode((b"EVALSHA", script.sha, *tail)),
                          lambda: encode((b"EVAL", script.source, *tail)), then)

    def _script_then(self, by_digest: bytes, with_source: Callable[[], bytes], then: Callable) -> None:
        """Queue a script by digest; after a NOSCRIPT (Redis restarted or flushed its scripts) queue
        it again with its source, chained to the reply rather than to a caller that may be gone."""
        def on_reply(reply, exc):
            if isinstance(exc, NoScriptError) and self._protocol is not None:
                self._queue_encoded(with_source(), then)
            else:
                then(reply, exc)

        self._queue_encoded(by_digest, on_reply)

    def evalsha_soon(self, script: Script, keys, args) -> Awaitable:
        """The script's reply, to await. With a connection up the script runs even if nobody awaits
        it or its caller is cancelled: it is queued right here, and the reload after a NOSCRIPT
        (Redis restarted or flushed its scripts) is chained to the reply, not to the caller."""
        if self._protocol is None:
            return _quiet(asyncio.ensure_future(self._evalsha_connecting(script, keys, args)))
        outcome = self._loop.create_future()
        self.evalsha_then(script, keys, args, partial(_settle, outcome))  # set as the reply is read
        return outcome

    def run_soon(self, call: PreparedCall, lead) -> Awaitable:
        """evalsha_soon for a prepared call: `lead` are its per-call leading arguments."""
        if self._protocol is None:
            return _quiet(asyncio.ensure_future(self._call_connecting(call, lead)))
        outcome = self._loop.create_future()
        self.run_then(call, lead, partial(_settle, outcome))
        return outcome

    def run_then(self, call: PreparedCall, lead, then: Callable) -> None:
        """evalsha_then for a prepared call: then(reply, exc) when its reply arrives."""
        if self._protocol is None:
            _then_after(asyncio.ensure_future(self._call_connecting(call, lead)), then)
            return
        middle = _bulks(lead)
        self._script_then(call.sha_head + middle + call.tail, lambda: call.eval_head + middle + call.tail, then)

    async def _call_connecting(self, call: PreparedCall, lead):
        await self._connect()
        return await self.run_soon(call, lead)

    async def _evalsha_connecting(self, script: Script, keys, args):
        await self._connect()
        return await self.evalsha_soon(script, keys, args)

    def _flush(self):
        data, self._outbox = b"".join(self._outbox), []
        if self._protocol is not None and data:
            self._protocol.transport.write(data)
        self._left()

    def _left(self):
        leaving, self._leaving = self._leaving, None
        if leaving is not None and not leaving.done():
            leaving.set_result(None)

    def _check_stall(self):
        self._watch = None
        if not self._pending:
            return
        if self._loop.time() - self._pending[0][1] > self.timeout and self._protocol is not None:
            protocol = self._protocol
            self._lost(protocol, RedisTimeoutError(f"Redis did not answer within {self.timeout} s"))
            protocol.transport.abort()
            return
        self._watch = self._loop.call_later(WATCH_EVERY_S, self._check_stall)

    def _lost(self, protocol: _Protocol, exc: Exception):
        if protocol is not self._protocol:
            return  # an earlier, already-failed connection
        self._protocol = None
        self._outbox = []
        pending, self._pending = self._pending, deque()
        self._left()  # nothing more will be written: nobody waits for it
        for sink, _at in pending:
            if callable(sink):
                _call(sink, None, exc)
            elif not sink.done():
                _fail(sink, exc)

    async def _connect(self):
        if self._connecting is None:
            self._loop = asyncio.get_running_loop()
            self._connecting = asyncio.ensure_future(self._open())
        connecting = self._connecting
        try:
            await asyncio.shield(connecting)
        finally:
            if connecting.done() and self._connecting is connecting:
                self._connecting = None

    async def _open(self):
        loop = self._loop
        try:
            async with asyncio.timeout(self.timeout):
                _transport, protocol = await loop.create_connection(
                    lambda: _Protocol(self), self.host, self.port, ssl=True if self.tls else None)
                self._protocol = protocol
                # Queued now, before any other task runs: nothing can reach the wrong database.
                setup = []
                if self.password is not None:
                    auth = (b"AUTH", self.username, self.password) if self.username else (b"AUTH", self.password)
                    setup.append(self._queue(auth))
                if self.db:
                    setup.append(self._queue((b"SELECT", self.db)))
                for reply in setup:
                    await reply
        except (OSError, TimeoutError, ResponseError, RedisConnectionError) as exc:
            what = "refused the connection set-up" if isinstance(exc, ResponseError) else "cannot be reached"
            error = RedisConnectionError(f"Redis at {self.host}:{self.port} {what} ({type(exc).__name__})")
            protocol = self._protocol
            if protocol is not None:
                self._lost(protocol, error)
                protocol.transport.abort()
            raise error from None

    async def aclose(self):
        if self._protocol is not None:
            protocol = self._protocol
            self._lost(protocol, RedisConnectionError("client closed"))
            protocol.transport.close()
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None


class Script:
    """A Lua script sent by digest (EVALSHA); its source goes only when Redis lacks it."""

    def __init__(self, source: str):
        self.source = source.encode()
        self.sha = hashlib.sha1(self.source).hexdigest().encode()  # noqa: S324 - Redis names scripts by SHA-1


def _bulks(args) -> bytes:
    """args as RESP bulk strings without the array's header: a piece to splice into a command."""
    packed = encode(tuple(args))
    return packed[packed.index(b"\r\n") + 2:]


class PreparedCall:
    """A script's call whose keys and trailing arguments are encoded once (the limiter's keys and
    limits are fixed per key and route); each call encodes only its `lead` leading arguments."""

    __slots__ = ("eval_head", "sha_head", "tail")

    def __init__(self, script: Script, keys, lead: int, tail):
        array = b"*%d\r\n" % (3 + len(keys) + lead + len(tail))
        self.sha_head = array + _bulks((b"EVALSHA", script.sha, len(keys), *keys))
        self.eval_head = array + _bulks((b"EVAL", script.source, len(keys), *keys))  # after a NOSCRIPT
        self.tail = _bulks(tail) if tail else b""

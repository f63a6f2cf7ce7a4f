"""FakeUpstream: an aiohttp server on 127.0.0.1 speaking one provider's wire format."""
from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

from aiohttp import web

from tests.fakes import writer
from tests.fakes.anthropic_wire import AnthropicWire
from tests.fakes.base import Call, Endpoint, RecordedRequest, Wire
from tests.fakes.gemini_wire import GeminiWire
from tests.fakes.openai_wire import OpenAIWire
from tests.fakes.scenarios import SCENARIO_HEADER, parse, split_model

WIRES: dict[str, type[Wire]] = {"openai": OpenAIWire, "anthropic": AnthropicWire, "gemini": GeminiWire}
DEFAULT_KEYS = {"openai": "sk-fake-openai", "anthropic": "sk-ant-fake", "gemini": "fake-gemini-key"}


@dataclass(frozen=True)
class Cancellation:
    """A request whose handler saw its client go away (or was stopped) before finishing."""

    request_index: int
    path: str
    reason: str  # client_disconnected | server_stopped
    at: float  # time.monotonic()
    wall: float  # time.time()
    chunks_sent: int
    bytes_sent: int


class FakeUpstream:
    """``async with FakeUpstream("openai", api_key="sk-test") as up: ... up.base_url ...``"""

    def __init__(self, kind: str, api_key: str | None = None, *, scenario: str | None = None,
                 models: list[str] | None = None, host: str = "127.0.0.1", port: int = 0):
        if kind not in WIRES:
            raise ValueError(f"unknown fake kind {kind!r}; one of {sorted(WIRES)}")
        self.kind = kind
        self.wire = WIRES[kind](models)
        self.api_key = api_key or DEFAULT_KEYS[kind]
        self.host, self.port = host, port
        self.requests: list[RecordedRequest] = []
        self.cancellations: list[Cancellation] = []
        self.in_flight = self.max_in_flight = 0
        self.open_connections = self.total_connections = 0
        self._default = scenario
        self._queue: deque[str] = deque()
        self._tasks: set[asyncio.Task] = set()
        self._runner: web.AppRunner | None = None
        self._stopping = False
        parse(scenario)  # fail at construction on a typo, not at the first request

    # ---- URLs -------------------------------------------------------------
    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What a Provider of this kind takes as base_url (OpenAI: .../v1, Gemini: .../v1beta)."""
        return self.root_url + self.wire.base_path

    # ---- scenarios --------------------------------------------------------
    def set_scenario(self, spec: str | None) -> None:
        """The scenario for every request that names none itself (None: back to "ok")."""
        parse(spec)
        self._default = spec

    def queue_scenarios(self, *specs: str) -> None:
        """Scenarios for the next len(specs) requests, one each, ahead of the default."""
        for spec in specs:
            parse(spec)
        self._queue.extend(specs)

    def reset(self) -> None:
        """Forget recorded traffic and scenarios (the server keeps running)."""
        self.requests.clear()
        self.cancellations.clear()
        self._queue.clear()
        self._default = None
        self.max_in_flight = self.in_flight

    @property
    def attempts(self) -> int:
        return len(self.requests)

    @property
    def last_request(self) -> RecordedRequest | None:
        return self.requests[-1] if self.requests else None

    async def wait_for(self, predicate: Callable[[FakeUpstream], object], timeout: float = 1.0) -> bool:
        """Poll predicate(self) until truthy or timeout; returns whether it became true."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    # ---- lifecycle --------------------------------------------------------
    async def start(self) -> FakeUpstream:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for method, path, endpoint in self.wire.routes():
            app.router.add_route(method, path, self._route(endpoint))
        # Last: anything else is still recorded, and answered in the provider's 404 envelope.
        app.router.add_route("*", "/{tail:.*}", self._route(self._unknown_path))
        # handler_cancellation: a client hanging up cancels the handler at once, which is
        # how a hung or paced stream notices the disconnect within milliseconds.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        self._track_connections(self._runner.server)
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]  # the real port when asked for 0
        return self

    async def stop(self) -> None:
        if self._runner is None:
            return
        self._stopping = True
        for task in list(self._tasks):  # hung handlers would otherwise hold shutdown
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    def _track_connections(self, server) -> None:
        made, lost = server.connection_made, server.connection_lost

        def connection_made(handler, transport):
            self.open_connections += 1
            self.total_connections += 1
            made(handler, transport)

        def connection_lost(handler, exc=None):
            self.open_connections -= 1
            lost(handler, exc)

        server.connection_made, server.connection_lost = connection_made, connection_lost

    # ---- request handling -------------------------------------------------
    def _route(self, endpoint: Endpoint):
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, endpoint)

        return handle

    async def _handle(self, request: web.Request, endpoint: Endpoint) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        rec = RecordedRequest(
            index=len(self.requests), method=request.method, path=request.path, query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()}, body=body, raw_body=raw,
            at=time.monotonic(), wall=time.time(),
        )
        self.requests.append(rec)
        task = asyncio.current_task()
        self._tasks.add(task)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            model, suffix_spec = split_model(self.wire.model_of(request, body))
            rec.scenario = request.headers.get(SCENARIO_HEADER) or suffix_spec or self._next_spec() or "ok"
            try:
                sc = parse(rec.scenario)
            except ValueError as exc:  # a typo in a per-request scenario: say so in the reply
                sc, reply = parse(None), self.wire.error(400, str(exc))
            else:
                reply = self.wire.authenticate(request, self.api_key)
                if reply is None and sc.status:
                    reply = self.wire.error(sc.status, f"fake upstream scenario {sc.spec}")
                if reply is None and raw and body is None:
                    reply = self.wire.error(400, "request body is not valid JSON")
                if reply is None:
                    reply = self._answer(endpoint, Call(request, body, rec.index, sc, model))
            if sc.retry_after is not None and reply.status >= 400:
                reply.headers["Retry-After"] = str(sc.retry_after)
            if self.wire.request_id_header:
                reply.headers[self.wire.request_id_header] = f"req_fake{rec.index}"
            resp = await writer.send(request, reply, sc, self.wire, rec)
            if rec.outcome == "client_disconnected":
                self._cancelled(rec)
            return resp
        except asyncio.CancelledError:
            rec.outcome = "server_stopped" if self._stopping else "client_disconnected"
            self._cancelled(rec)
            raise
        finally:
            rec.finished_at = time.monotonic()
            self.in_flight -= 1
            self._tasks.discard(task)

    def _answer(self, endpoint: Endpoint, call: Call):
        try:
            return endpoint(call)
        except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
            # A request shaped unlike the provider's schema: answer as the provider would (400),
            # naming what broke, instead of aiohttp's bare 500.
            return self.wire.error(400, f"fake upstream could not read the request: {exc!r}")

    def _unknown_path(self, call: Call):
        return self.wire.error(404, f"Unknown request URL: {call.request.method} {call.request.path}")

    def _next_spec(self) -> str | None:
        return self._queue.popleft() if self._queue else self._default

    def _cancelled(self, rec: RecordedRequest) -> None:
        self.cancellations.append(Cancellation(rec.index, rec.path, rec.outcome, time.monotonic(), time.time(),
                                               rec.chunks_sent, rec.bytes_sent))

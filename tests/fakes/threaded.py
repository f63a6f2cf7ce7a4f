"""Run a FakeUpstream on its own event loop in a daemon thread, for sync tests and
for gateways under test that live in another thread or process."""
from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Self

from tests.fakes.server import FakeUpstream


class ThreadedUpstream:
    """A started FakeUpstream plus its thread. Attributes not defined here (base_url,
    requests, cancellations, set_scenario, queue_scenarios, reset, attempts, ...) are
    the FakeUpstream's own; wait_for is synchronous here."""

    def __init__(self, upstream: FakeUpstream):
        self.upstream = upstream
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"fake-{upstream.kind}", daemon=True)
        self._thread.start()
        try:
            self._run(upstream.start())
        except BaseException:
            self._loop.call_soon_threadsafe(self._loop.stop)
            raise

    def _run(self, coro, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def __getattr__(self, name: str):
        return getattr(self.upstream, name)

    def wait_for(self, predicate: Callable[[FakeUpstream], object], timeout: float = 1.0) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate(self.upstream):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            self._run(self.upstream.stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_in_thread(kind: str, api_key: str | None = None, **kwargs) -> ThreadedUpstream:
    """Start a fake of ``kind`` ("openai" | "anthropic" | "gemini") in a daemon thread."""
    return ThreadedUpstream(FakeUpstream(kind, api_key, **kwargs))


def closed_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on, so connecting is refused (the connect_refused case).

    The OS just handed it out and took it back; nothing in this test run binds it again
    unless asked for that exact number.
    """
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def refused_url(path: str = "", host: str = "127.0.0.1") -> str:
    return f"http://{host}:{closed_port(host)}{path}"

"""How the server reads requests: uvicorn's httptools protocol with read deadlines.

uvicorn times out only idle kept-alive connections. A client that opens a connection and
sends nothing, or half a request line, or headers a byte at a time (slowloris), or headers
and then part of a body, held its connection and its buffers for as long as it liked. Here
every connection has one read timer:

- headers: HTTP_HEADER_TIMEOUT seconds from the connection's opening (or the first byte of
  a following request) to the end of the headers, however the bytes trickle in; a partial
  request then gets `408 Request Timeout`, a silent one is just closed;
- body: HTTP_BODY_TIMEOUT seconds without a byte while a request body is incomplete (nginx's
  `client_body_timeout`); the app sees `http.disconnect`, as when the client leaves.

The guard sits below the ASGI app, so the data plane and Django are covered alike, and it
costs one timer per connection and per request body that does not arrive in one read.
`UVICORN_FLAGS` select it; `gateway.run` and the test servers both pass them.
"""
from __future__ import annotations

from asyncio import TimerHandle

from django.conf import settings
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["GuardedHttpToolsProtocol", "UVICORN_FLAGS"]

UVICORN_FLAGS = (
    "--http", "gateway.http_protocol:GuardedHttpToolsProtocol",
    # The client address is the TCP peer's: X-Forwarded-For is honoured only by Django's explicitly
    # configured TRUSTED_PROXIES, never because a peer is on loopback (uvicorn's default).
    "--no-proxy-headers",
)  # fmt: skip

_TIMEOUT_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 16\r\nconnection: close\r\n\r\nRequest timeout."
)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """One instance per connection (uvicorn's protocol contract)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.timeout_keep_alive = settings.HTTP_KEEPALIVE_TIMEOUT
        self._read_timer: TimerHandle | None = None
        self._in_body = False  # between a request's headers and the end of its body
        self._partial = False  # bytes of a request's head arrived since its last complete part

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm(settings.HTTP_HEADER_TIMEOUT, self._headers_timed_out)

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._read_timer is None and not self._in_body:
            self._arm(settings.HTTP_HEADER_TIMEOUT, self._headers_timed_out)  # the next request's head
        self._partial = True
        super().data_received(data)
        if self._in_body and not self.transport.is_closing():
            self._arm(settings.HTTP_BODY_TIMEOUT, self._body_timed_out)  # each read restarts the wait

    def on_headers_complete(self) -> None:
        self._disarm()
        self._partial = False
        super().on_headers_complete()
        # A WebSocket upgrade makes no request cycle, and its protocol takes the connection over.
        self._in_body = self.cycle is not None and self.cycle.scope is self.scope

    def on_message_complete(self) -> None:
        self._in_body = self._partial = False
        self._disarm()
        super().on_message_complete()

    def _arm(self, seconds: float, callback) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _headers_timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # Still answering the previous request: the client may send the next one meanwhile.
            self._arm(settings.HTTP_HEADER_TIMEOUT, self._headers_timed_out)
            return
        if self._partial:
            self.transport.write(_TIMEOUT_408)
        self.transport.close()

    def _body_timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:
            # Our side stopped reading (the app has not taken the buffered body yet): not the client's stall.
            self._arm(settings.HTTP_BODY_TIMEOUT, self._body_timed_out)
            return
        # What connection_lost does: the app's receive() answers http.disconnect, its sends are dropped.
        self.cycle.disconnected = True
        self.cycle.message_event.set()
        self.transport.close()

"""The one upstream HTTP client of a data-plane process.

A single aiohttp session per process (measured 25x cheaper per request than
httpx, DESIGN.md); connect, first-byte and idle timeouts; redirects never
followed; the SSRF guard runs at connect time (netguard.py).
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp

from gateway.dataplane.canonical import Timeouts, UpstreamRequest
from gateway.dataplane.errors import ProviderError
from gateway.dataplane.netguard import BlockedAddress, GuardedResolver, check_literal_host

READ_CHUNK = 65536  # bytes per read from the upstream socket
MAX_CHECKED = 4096  # bounds the per-process memo of checked URLs and timeout objects
# New upstream connections being set up at once, per process. A burst of thousands of requests
# (10,000 streams opening together) would otherwise fire thousands of SYNs at one upstream,
# overflow its listen backlog, and time out on SYN retransmits: self-inflicted connect failures
# that then open the target's breaker. Connections from the pool are not affected.
MAX_CONNECTING = 256
# Names the settings, not the address: the client may be a tenant's app, the fix is the operator's.
BLOCKED_MESSAGE = (
    "upstream address is not allowed: it is private or reserved (the gateway's SSRF guard); "
    "allow it with SSRF_ALLOW_CIDRS or SSRF_ALLOW_PRIVATE=1"
)


class PacedConnector(aiohttp.TCPConnector):
    """A TCPConnector that sets up at most MAX_CONNECTING new connections at a time."""

    def __init__(self, *args, max_connecting: int = MAX_CONNECTING, **kwargs):
        super().__init__(*args, **kwargs)
        self._connecting = asyncio.Semaphore(max_connecting)

    async def _create_connection(self, req, traces, timeout):
        async with self._connecting:
            return await super()._create_connection(req, traces, timeout)


class UpstreamClient:
    def __init__(self, allow_private: bool, allow_cidrs=()):
        self.allow_private = allow_private
        self.allow_cidrs = allow_cidrs
        self._session: aiohttp.ClientSession | None = None
        self._checked: set[str] = set()  # upstream URLs whose host passed the SSRF check
        self._timeouts: dict[Timeouts, aiohttp.ClientTimeout] = {}

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = PacedConnector(
                limit=0,  # concurrency is bounded by policies, not by a hidden pool queue
                ttl_dns_cache=60,
                resolver=GuardedResolver(self.allow_private, self.allow_cidrs),
                enable_cleanup_closed=True,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=True, skip_auto_headers=("User-Agent",),
                # An upstream's Set-Cookie must never ride along on another tenant's request
                # (and a cookie jar costs a lookup per request).
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def close(self):
        if self._session is not None:
            await self._session.close()

    def _check_host(self, url: str) -> None:
        """SSRF check of an IP-literal host; a URL that passed is remembered (they are few:
        one per provider base URL), a refused one is checked again each time."""
        if url in self._checked:
            return
        check_literal_host(urlsplit(url).hostname or "", self.allow_private, self.allow_cidrs)
        if len(self._checked) >= MAX_CHECKED:
            self._checked.clear()
        self._checked.add(url)

    def _timeout(self, timeouts: Timeouts) -> aiohttp.ClientTimeout:
        """aiohttp's own timers, no extra timeout scope per request: `sock_connect` bounds each
        connection attempt (not the wait for a connect slot, see PacedConnector); `sock_read`
        restarts with every byte received, so until the response head arrives it is the
        first-byte timeout (switched to idle afterwards)."""
        timeout = self._timeouts.get(timeouts)
        if timeout is None:
            if len(self._timeouts) >= MAX_CHECKED:
                self._timeouts.clear()
            timeout = self._timeouts[timeouts] = aiohttp.ClientTimeout(
                total=None, sock_connect=timeouts.connect, sock_read=timeouts.first_byte)
        return timeout

    async def open(self, req: UpstreamRequest, timeouts: Timeouts) -> aiohttp.ClientResponse:
        """Send the request; returns once the status line and headers arrived."""
        try:
            self._check_host(req.url)
            resp = await self.session().request(
                req.method, req.url, data=req.body, headers=req.headers, allow_redirects=False,
                timeout=self._timeout(timeouts),
            )
        except BlockedAddress:
            raise ProviderError(502, BLOCKED_MESSAGE, permanent=True, code="upstream_blocked")
        except TimeoutError:
            raise ProviderError.connection("upstream did not answer in time", timeout=True) from None
        except aiohttp.ClientConnectorError:
            raise ProviderError.connection("could not connect to the upstream") from None
        except (aiohttp.ClientError, OSError):
            raise ProviderError.connection("upstream connection failed") from None
        _to_idle_timeout(resp, timeouts.idle)
        return resp


def _to_idle_timeout(resp: aiohttp.ClientResponse, idle: float) -> None:
    """From the response head on, `sock_read` is the idle gap between bytes. The timer already
    running (started by the head, with the first-byte value) is restarted with the new value
    (tests/fault/test_streams.py's stalled-stream test fails if it were not)."""
    connection = resp.connection
    protocol = connection.protocol if connection is not None else None
    if protocol is None:
        return  # the whole answer is in already
    protocol.read_timeout = idle
    protocol.start_timeout()


async def read_body(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body. `content.read(n)` returns what has arrived so far, so read to the end:
    only then does a connection cut short of Content-Length raise (as a retryable error)."""
    chunks, size = [], 0
    try:
        async for data in resp.content.iter_any():
            size += len(data)
            if size > limit:
                raise ProviderError(502, "upstream answer is too large", code="upstream_too_large")
            chunks.append(data)
    except TimeoutError:
        raise ProviderError.connection("upstream stalled while sending its answer", timeout=True) from None
    except (aiohttp.ClientError, OSError):
        raise ProviderError.connection("upstream connection broke mid-answer") from None
    finally:
        resp.release()
    return b"".join(chunks)


async def iter_body(resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """Chunks as they arrive; the session's sock_read bounds the idle gap."""
    finished = False
    try:
        async for data in resp.content.iter_any():
            yield data
        finished = True
    except TimeoutError:
        raise ProviderError.connection("upstream stream went idle", timeout=True) from None
    except (aiohttp.ClientError, OSError):
        raise ProviderError.connection("upstream connection broke mid-stream") from None
    finally:
        # A finished stream returns its connection to the pool; an abandoned one
        # (client gone, error) closes the socket so the upstream stops generating.
        resp.release() if finished else resp.close()

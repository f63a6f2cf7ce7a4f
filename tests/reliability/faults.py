"""The fault matrix (RELIABILITY.md B5): one case per fault mode, and a port that never completes a connect."""
from __future__ import annotations

import socket
from dataclasses import dataclass

# Every fault route uses these; the bound a caller waits for its error is TOTAL_S (+ margin).
TIMEOUTS = {"connect": 0.3, "first_byte": 0.3, "idle": 0.3, "total": 1.0}  # seconds
MAX_RETRIES = 1  # so "attempts <= 1 + max_retries" is a tight check
RETRY = {"max_retries": MAX_RETRIES, "backoff_ms": 10, "max_backoff_ms": 50}
# Client-side slack over the route's total timeout: the B5 figure (100 ms) plus 150 ms for a 2-core
# machine shared by several test runs; the measured overrun is reported either way.
MARGIN_S = 0.25
RETRY_AFTER_S = 1  # the 429 case's Retry-After


@dataclass(frozen=True)
class Case:
    name: str
    target: str  # "fake" | "refused" | "blackhole"
    scenario: str = ""  # the fake's scenario, as a model suffix
    stream: bool = False
    statuses: tuple = (502, 504)  # what the caller may get
    stream_ok: tuple = ("error",)  # how a 200 stream may end (wire.stream_outcome)
    relayed: tuple = ()  # ... and also, where the route passes the upstream's events through as sent


CASES = (
    Case("connect refused", "refused", statuses=(502,)),
    Case("connect timeout", "blackhole", statuses=(502, 504)),
    Case("no first byte", "fake", "no_first_byte", statuses=(504,)),
    Case("hang (no status line)", "fake", "hang", statuses=(504,)),
    Case("HTTP 500", "fake", "status:500", statuses=(502,)),
    Case("HTTP 502", "fake", "status:502", statuses=(502,)),
    Case("HTTP 503", "fake", "status:503", statuses=(502,)),
    Case("429 + Retry-After", "fake", f"rate_limited:{RETRY_AFTER_S}", statuses=(429,)),
    Case("reset mid-body", "fake", "reset_mid_body"),  # 504 when the retry meets the total timeout
    Case("reset mid-stream", "fake", "reset_mid_body", stream=True, statuses=(200, 502)),
    # A pass-through route forwards each event as the upstream sent it (steps/relay.py), bad JSON included.
    Case("SSE bad JSON", "fake", "malformed_json", stream=True, statuses=(200, 502), relayed=("unparsable",)),
    # The upstream closed cleanly after its last chunk, without the end marker: relayed as sent, or completed.
    Case("SSE no end marker", "fake", "no_done", stream=True, statuses=(200, 502), stream_ok=("complete", "error"),
         relayed=("unterminated",)),
    Case("SSE CRLF", "fake", "crlf", stream=True, statuses=(200,), stream_ok=("complete",)),
    Case("SSE split events", "fake", "split_events:16", stream=True, statuses=(200,), stream_ok=("complete",)),
    Case("SSE oversize event", "fake", "oversize_event", stream=True, statuses=(200, 502),
         stream_ok=("complete", "error")),
    Case("slow drip 1 B/s", "fake", "slow_drip:1000", statuses=(504,)),
    Case("slow drip 1 B/s stream", "fake", "slow_drip:1000", stream=True, statuses=(200, 504)),
)


class Blackhole:
    """A listening port whose accept queue is full, so a new connect gets no SYN-ACK (connect timeout)."""

    FILLERS = 3  # listen(0) queues one connection on Linux; the rest wait in SYN-SENT

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.fillers = []
        for _ in range(self.FILLERS):
            sock = socket.socket()
            sock.setblocking(False)
            try:
                sock.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.fillers.append(sock)

    def close(self):
        for sock in [*self.fillers, self.listener]:
            sock.close()

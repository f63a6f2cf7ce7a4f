"""The outcome of one limits check, and how the client hears of it (headers, 429 envelope)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.dataplane.errors import GatewayError
from gateway.dataplane.limits.rules import Rule

METRICS = ("", "requests", "tokens", "parallel")  # the backends' metric codes 1..3
UNLIMITED = -1  # a backend's "no such limit" in the header figures
SCOPE_HEADER = "x-switchyard-limit-scope"
# Where each metric's figures start in a raw verdict, and its OpenAI-style header names.
HEADER_NAMES = tuple((at, *(f"x-ratelimit-{part}-{metric}".encode() for part in ("limit", "remaining", "reset")))
                     for at, metric in ((5, "requests"), (8, "tokens")))


def unavailable() -> GatewayError:
    return GatewayError(503, "rate_limit_unavailable", "Rate limits cannot be checked right now; retry shortly.",
                        retry_after=1)


class TargetRateLimited(GatewayError):
    """A provider target is at its own quota: another target of the route may still take the request."""

    try_another_target = True


@dataclass(slots=True)
class Lease:
    """What an admitted request holds until it settles: its token estimate and its slots."""

    member: str  # unique per acquisition; names its entries in every counter
    rules: tuple[Rule, ...]  # those with tpm or max_parallel
    tokens: int  # tokens held (the estimate)
    at: float  # when it was taken, ms on the backend's clock
    handle: Any = None  # backend-private (the in-process entries)
    settled: bool = False


@dataclass(slots=True)
class Verdict:
    """Raw figures from a backend: [admitted, refused rule (1-based), metric, wait ms, now ms,
    then the tightest requests limit/left/reset ms and tokens limit/left/reset ms (-1: none)]."""

    rules: list[Rule]
    raw: list = field(default_factory=list)
    lease: Lease | None = None
    tokens: int = 0

    @property
    def admitted(self) -> bool:
        return not self.raw or bool(self.raw[0])

    @property
    def refused(self) -> Rule | None:
        return None if self.admitted else self.rules[int(self.raw[1]) - 1]

    @property
    def retry_after(self) -> float:
        return max(float(self.raw[3]), 1.0) / 1000  # never 0: Retry-After rounds up to at least 1 s

    def headers(self) -> list[tuple[bytes, bytes]]:
        if not self.raw:
            return []  # admitted unchecked (fail open): nothing true to report
        out, raw = [], self.raw
        for at, limit_name, left_name, reset_name in HEADER_NAMES:
            limit = int(raw[at])
            if limit != UNLIMITED:
                out += ((limit_name, b"%d" % limit), (left_name, b"%d" % max(int(raw[at + 1]), 0)),
                        (reset_name, format_reset(raw[at + 2]).encode()))
        return out

    def error(self, cls=GatewayError) -> GatewayError:
        rule, metric = self.refused, METRICS[int(self.raw[2])]
        return cls(429, "rate_limited", rule.message(metric, self.tokens), retry_after=self.retry_after,
                   headers={SCOPE_HEADER: rule.scope})


def _seconds(ms: int) -> str:
    """Whole milliseconds as seconds: 1500 -> "1.5", 2000 -> "2" (integer arithmetic: exact)."""
    whole, frac = divmod(ms, 1000)
    return f"{whole}.{frac:03d}".rstrip("0") if frac else str(whole)


def format_reset(ms: float) -> str:
    """OpenAI's style (Go durations): "20ms", "1s", "1.5s", "6m0s", "1h2m3s"."""
    ms = max(round(ms), 0)
    if ms < 1000:
        return f"{ms}ms" if ms else "0s"
    if ms < 60_000:
        return _seconds(ms) + "s"
    minutes, rest = divmod(ms, 60_000)
    hours, minutes = divmod(minutes, 60)
    text = f"{minutes}m{_seconds(rest)}s"
    return f"{hours}h{text}" if hours else text

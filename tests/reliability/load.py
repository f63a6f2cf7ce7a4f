"""Open-loop traffic: requests leave at a fixed rate whatever the answers, as clients do in an outage."""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass

import httpx

from tests.reliability import wire

MIXES = {
    "outage": ("chat", "stream", "embeddings", "anthropic"),
    "soak": ("chat", "stream", "embeddings", "anthropic", "refused"),
}
REQUEST_TIMEOUT_S = 20  # a request still unanswered by then counts as a client-side timeout
MAX_CONNECTIONS = 200  # more than rate x latency at every scale here
REFUSED_KEY = "sy-" + "0" * 40  # well-formed, unknown: refused by auth (401) without a ledger row
# A refused request carries a 256 KiB prompt, so a leak of refused requests (issue 14: each kept its
# body alive) shows in the soak's RSS at ci scale: with the leak back, +30 MB in 30 s (measured).
REFUSED_PADDING = "x " * (128 * 1024)


@dataclass(frozen=True)
class Outcome:
    kind: str
    status: int | str  # HTTP status, or the client-side failure ("connect", "timeout", ...)
    request_id: str | None
    at: float  # seconds after the start


def _request(kind: str, secret: str) -> tuple[str, dict, dict]:
    if kind == "embeddings":
        body = {"model": "embed", "input": "steady as she goes"}
        return "/v1/embeddings", body, {"authorization": f"Bearer {secret}"}
    if kind == "anthropic":
        return wire.chat_request("anthropic", "claude", secret)
    if kind == "refused":
        return wire.chat_request("openai", "gpt", REFUSED_KEY, text=REFUSED_PADDING)
    return wire.chat_request("openai", "gpt", secret, stream=kind == "stream")


async def _one(client, url, secret, kind, started) -> Outcome:
    path, body, headers = _request(kind, secret)
    at = time.monotonic() - started
    try:
        response = await client.post(url + path, json=body, headers=headers)
    except httpx.TimeoutException:
        return Outcome(kind, "timeout", None, at)
    except httpx.HTTPError as exc:
        return Outcome(kind, type(exc).__name__, None, at)
    status = response.status_code
    if status == 200 and kind == "stream" and wire.stream_outcome("openai", response.text)[0] != "complete":
        status = "200+error event"
    return Outcome(kind, status, response.headers.get("x-request-id"), at)


async def open_loop(url: str, secret: str, rate: float, duration: float, mix: str = "outage") -> list[Outcome]:
    kinds, started, tasks = MIXES[mix], time.monotonic(), []
    limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS)
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S, limits=limits) as client:
        for i in range(int(rate * duration)):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(_one(client, url, secret, kinds[i % len(kinds)], started)))
        return list(await asyncio.gather(*tasks))


def tally(outcomes: list[Outcome]) -> tuple[int, Counter]:
    """(served, errors by status): served is a complete 200 answer."""
    statuses = Counter(o.status for o in outcomes)
    served = statuses.pop(200, 0)
    return served, statuses

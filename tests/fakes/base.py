"""Types shared by the wire modules and the server: what a handler returns."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.scenarios import Scenario


@dataclass(frozen=True)
class Event:
    """One server-sent event."""

    data: Any  # a JSON-able object, or a literal string such as "[DONE]"
    event: str | None = None  # the `event:` line (Anthropic); None writes only `data:`
    terminal: bool = False  # marks end-of-stream events that `no_done` drops
    content: bool = False  # the first content event is where malformed_json / oversize_event strike


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON body of a non-streaming reply
    events: list[Event] | None = None  # set for an SSE reply
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RecordedRequest:
    """One request as the fake received it, plus how answering it went."""

    index: int
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON, or None when the body was empty or not JSON
    raw_body: bytes
    at: float  # time.monotonic() on arrival (system-wide on Linux, so comparable across processes)
    wall: float  # time.time() on arrival
    scenario: str = "ok"  # the spec that applied
    bytes_sent: int = 0  # response body bytes written
    chunks_sent: int = 0  # SSE events (or the one JSON body) fully written
    outcome: str = "pending"  # pending | completed | reset | client_disconnected | cancelled | server_stopped
    finished_at: float | None = None  # time.monotonic() when the handler ended


@dataclass
class Call:
    """What an endpoint needs to know about the request it answers."""

    request: web.Request
    body: Any
    index: int  # 0-based position in the server's request log; ids derive from it
    scenario: Scenario
    model: str | None  # requested model, scenario suffix stripped


Endpoint = Callable[[Call], Reply]


class Wire:
    """One provider's protocol: routes, auth, and error shapes."""

    kind = ""
    base_path = ""  # appended to the root URL to form the Provider base_url
    crlf = False  # whether this provider's SSE uses CRLF line endings
    default_models: tuple[str, ...] = ()
    request_id_header: str | None = None  # header carrying a per-request id, as the provider sends

    def __init__(self, models: list[str] | None = None):
        self.model_ids = tuple(models or self.default_models)

    def routes(self) -> list[tuple[str, str, Endpoint]]:
        raise NotImplementedError

    def authenticate(self, request: web.Request, api_key: str) -> Reply | None:
        raise NotImplementedError

    def error(self, status: int, message: str) -> Reply:
        raise NotImplementedError

    def stream_error(self) -> Event:
        """The event a provider sends when it fails mid-stream (fail_after_chunks)."""
        raise NotImplementedError

    def model_of(self, request: web.Request, body: Any) -> str | None:
        return body.get("model") if isinstance(body, dict) else None


def message_for(status: int) -> str:
    return {
        400: "Bad request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not found",
        408: "Request timeout",
        413: "Request too large",
        429: "Rate limit exceeded",
        500: "Internal server error",
        502: "Bad gateway",
        503: "Service unavailable",
        504: "Gateway timeout",
        529: "Overloaded",
    }.get(status, f"HTTP {status}")

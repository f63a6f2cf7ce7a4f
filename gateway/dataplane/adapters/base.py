"""The provider-adapter contract and what every adapter shares.

An adapter translates canonical (OpenAI-format) requests to one wire protocol and
the protocol's responses and streams back to canonical dicts. Adapters are
stateless singletons (see `ADAPTERS`); per-stream state lives in the object
`stream_parser()` returns. They never log bodies.
"""
from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from .. import fastjson
from ..canonical import Target, UpstreamRequest, Usage, usage_from_dict
from ..errors import ProviderError, scrub
from ..sse import SSEError, SSEEvent, SSEParser
from .body import patch_body

__all__ = [
    "MALFORMED",
    "Adapter",
    "SSEStreamParser",
    "StreamParser",
    "UsageTap",
    "classify",
    "error_details",
    "header_value",
    "join_url",
    "malformed",
    "parse_retry_after",
]

# The exceptions a translator can hit on a well-formed JSON value of the wrong shape.
MALFORMED = (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError, OverflowError)


def json_or_none(body: bytes):
    """A response body parsed, or None when it is not JSON (also what orjson refuses but Python
    reads: NaN in logprobs, say)."""
    try:
        return fastjson.loads(body)
    except MALFORMED:
        return None


# Permanent: the same request to the same target cannot succeed (413: the body stays too large).
_PERMANENT = frozenset({400, 401, 403, 404, 413, 422})
# Retryable: timeouts, conflicts, rate limits and server-side failures may clear up.
_RETRYABLE = frozenset({408, 409, 425, 429})
# Provider messages can embed whole prompts; keep what reaches clients and logs short.
_MAX_MESSAGE = 500


class StreamParser(Protocol):
    def feed(self, data: bytes) -> list[dict]: ...
    def close(self) -> list[dict]: ...


def malformed(what: str = "upstream response") -> ProviderError:
    return ProviderError(502, f"malformed {what}", retryable=False, code="bad_upstream_response")


class SSEStreamParser:
    """Base for stream parsers: SSE framing plus a guard that turns any shape
    surprise in an upstream event into a `ProviderError`, never a crash."""

    def __init__(self) -> None:
        self._sse = SSEParser()

    def feed(self, data: bytes) -> list[dict]:
        try:
            events = self._sse.feed(data)
        except SSEError as e:
            raise ProviderError(502, str(e), code="bad_upstream_stream") from None
        return self._handle(events)

    def close(self) -> list[dict]:
        out = self._handle(self._sse.close())
        try:
            self.on_close(out)
        except MALFORMED:
            raise malformed("upstream stream") from None
        return out

    def _handle(self, events: list[SSEEvent]) -> list[dict]:
        out: list[dict] = []
        for ev in events:
            try:
                self.on_event(ev, out)
            except MALFORMED:
                raise malformed("upstream stream event") from None
        return out

    def on_event(self, ev: SSEEvent, out: list[dict]) -> None:
        raise NotImplementedError

    def on_close(self, out: list[dict]) -> None:
        """End of stream: emit whatever is still owed (e.g. the usage chunk)."""


class UsageTap:
    """Watches a passed-through stream for usage without translating it.

    Failures here never break the stream: the bytes still go to the client and
    the proxy falls back to an estimate when `usage` stays None.
    """

    def __init__(self) -> None:
        self._sse = SSEParser()
        self.usage: Usage | None = None

    def feed(self, data: bytes) -> None:
        try:
            events = self._sse.feed(data)
        except SSEError:
            return
        self._handle(events)

    def close(self) -> Usage | None:
        self._handle(self._sse.close())
        return self.usage

    def _handle(self, events: list[SSEEvent]) -> None:
        for ev in events:
            self.on_event(ev)

    def on_event(self, ev: SSEEvent) -> None:
        """Observe one already-parsed event (for relays that run their own SSE parser)."""
        try:
            self._read(ev)
        except MALFORMED:
            pass  # a broken event still goes to the client; usage falls back to an estimate

    def _read(self, ev: SSEEvent) -> None:
        raise NotImplementedError


class Adapter:
    kind = ""
    wire = "openai"  # the wire format spoken upstream; pass-through when the ingress speaks it too
    local = False  # True: no HTTP, the proxy awaits complete()/stream() instead
    default_base_url = ""

    def build_request(
        self,
        canonical: dict,
        target: Target,
        *,
        stream: bool = False,
        endpoint: str = "chat",
        client_headers: Mapping[str, str] | None = None,
    ) -> UpstreamRequest:
        """Pure and idempotent: the same call gives the same request on every retry."""
        raise NotImplementedError

    def passthrough_request(
        self,
        raw_body: bytes,
        target: Target,
        *,
        stream: bool = False,
        endpoint: str = "chat",
        client_headers: Mapping[str, str] | None = None,
    ) -> UpstreamRequest:
        """Ingress format == wire format: forward the body untouched except `model`."""
        replace = {"model": target.model} if target.model else None
        body = patch_body(raw_body, replace, self.passthrough_additions(stream, endpoint))
        url = self.url(target, endpoint, stream)
        return UpstreamRequest("POST", url, self.headers(target, client_headers), body, stream)

    def passthrough_additions(self, stream: bool, endpoint: str) -> dict | None:
        """Top-level fields a passed-through body gets when it lacks them."""
        return None

    def url(self, target: Target, endpoint: str, stream: bool) -> str:
        raise NotImplementedError

    def headers(self, target: Target, client_headers: Mapping[str, str] | None = None) -> dict[str, str]:
        raise NotImplementedError

    def parse_response(self, status: int, body: bytes, *, endpoint: str = "chat") -> dict:
        """Canonical response; a non-2xx status raises the classified ProviderError."""
        raise NotImplementedError

    def stream_parser(self) -> StreamParser:
        raise NotImplementedError

    def usage(self, final: dict) -> Usage | None:
        """Usage of a canonical response, usage chunk or embeddings response."""
        return usage_from_dict(final.get("usage")) if isinstance(final, dict) else None

    def usage_tap(self) -> UsageTap:
        raise NotImplementedError

    def passthrough_usage(self, body: bytes) -> Usage | None:
        """Usage from a passed-through (untranslated) non-streaming response."""
        return self.passthrough_usage_of(json_or_none(body))

    def passthrough_usage_of(self, obj) -> Usage | None:
        """passthrough_usage of the response once parsed (None: it was not JSON), for a caller
        that needs the parsed answer too (the cache)."""
        try:
            return usage_from_dict(obj.get("usage"))
        except MALFORMED:
            return None

    def classify_error(
        self, status: int, body: bytes, headers: Any = None, *, secrets: Iterable[str | None] = ()
    ) -> ProviderError:
        message, code, _ = error_details(body)
        return classify(status, scrub(message, secrets) or f"upstream returned HTTP {status}", code,
                        parse_retry_after(headers))


def classify(status: int, message: str, code: str | None, retry_after: float | None) -> ProviderError:
    retryable = status in _RETRYABLE or status >= 500
    if code == "insufficient_quota":
        retryable = False  # OpenAI's 429 for an exhausted balance: waiting does not refill it
    permanent = status in _PERMANENT
    return ProviderError(status, message, retryable=retryable, permanent=permanent, retry_after=retry_after,
                         code=code or f"upstream_{status}")


def error_details(body: bytes) -> tuple[str, str | None, dict | None]:
    """(message, code, error object) from any provider's error body shape."""
    try:
        obj = json.loads(body) if body else None
    except MALFORMED:
        obj = None
    if isinstance(obj, list) and obj:
        obj = obj[0]  # Gemini wraps errors of its JSON-array stream in a list
    err = obj.get("error", obj) if isinstance(obj, dict) else None
    message = code = None
    if isinstance(err, str):
        message = err
    elif isinstance(err, dict):
        raw = err.get("message") or err.get("detail") or err.get("msg")
        message = raw if isinstance(raw, str) else (json.dumps(raw) if raw else None)
        code = next((c for c in (err.get("code"), err.get("type"), err.get("status")) if isinstance(c, str)), None)
    else:
        err = None
    if message is None:
        text = body[:_MAX_MESSAGE].decode("utf-8", "replace").strip()
        message = "" if text.startswith("<") else text  # an HTML error page says nothing useful
    return message[:_MAX_MESSAGE], code, err


def header_value(headers: Any, name: str) -> str | None:
    """Case-insensitive header lookup over a dict, a multidict or raw ASGI pairs."""
    if not headers:
        return None
    if hasattr(headers, "get"):
        value = headers.get(name)
        if value is not None:
            return value.decode("latin-1") if isinstance(value, bytes) else str(value)
        headers = headers.items()
    for key, value in headers:
        key = key.decode("latin-1") if isinstance(key, bytes) else key
        if key.lower() == name:
            return value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return None


def _seconds(value: str | None, scale: float = 1.0) -> float | None:
    try:
        seconds = float(value) / scale
    except (TypeError, ValueError):
        return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait: `retry-after-ms` (OpenAI, Azure) wins over `retry-after`
    (seconds or an HTTP date)."""
    ms = _seconds(header_value(headers, "retry-after-ms"), 1000.0)
    if ms is not None:
        return ms
    raw = header_value(headers, "retry-after")
    seconds = _seconds(raw)
    if seconds is not None or not raw:
        return seconds
    try:
        return max(parsedate_to_datetime(raw).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def join_url(base: str, version: str, path: str) -> str:
    """`base` may or may not already end in the API version segment."""
    base = base.rstrip("/")
    if not base.endswith("/" + version):
        base += "/" + version
    return base + path

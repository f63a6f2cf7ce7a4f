"""Typed errors of the data plane and their wire envelopes.

`GatewayError` is what the gateway answers a client with; `ProviderError` is what
an upstream did to us. Envelopes use the status codes and `type` strings that the
official OpenAI and Anthropic SDKs map to their exception classes, so a client sees
`RateLimitError`, `AuthenticationError`, ... as if it talked to the provider.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable

__all__ = [
    "GatewayError",
    "ProviderError",
    "anthropic_error_body",
    "error_type",
    "openai_error_body",
    "render_error",
    "scrub",
    "sse_error_event",
]

# Status -> error `type`. The strings are Anthropic's documented ones; OpenAI's SDK
# maps by status alone, so one table serves both envelopes.
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "invalid_request_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_type(status: int) -> str:
    if status in _TYPES:
        return _TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


class GatewayError(Exception):
    """An answer to the client: status, machine code, human message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        type: str | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.type = type or error_type(status)
        self.retry_after = retry_after
        self.headers = headers or {}
        self.param = param

    def __repr__(self) -> str:
        return f"GatewayError({self.status}, {self.code!r}, {self.message!r})"


class ProviderError(Exception):
    """An upstream failure, classified for the retry/fallback step.

    retryable: the same request to the same target may succeed later.
    permanent: retrying this request on this target cannot succeed.
    Neither (e.g. 402): do not retry here; another target may still work.
    """

    def __init__(
        self,
        status: int,
        message: str,
        retryable: bool = False,
        permanent: bool = False,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retryable = retryable
        self.permanent = permanent
        self.retry_after = retry_after
        self.code = code

    def __repr__(self) -> str:
        return f"ProviderError({self.status}, {self.message!r}, retryable={self.retryable})"

    @classmethod
    def connection(cls, message: str = "upstream connection failed", timeout: bool = False) -> ProviderError:
        """No HTTP status: refused/reset connections and timeouts. Always retryable."""
        if timeout:
            return cls(504, message, retryable=True, code="upstream_timeout")
        return cls(502, message, retryable=True, code="upstream_connection_error")

    def to_gateway_error(self) -> GatewayError:
        """What the client sees once retries and fallbacks are exhausted."""
        status = self.status
        if status in (400, 404, 413, 422):
            # The request itself is at fault (e.g. context too long): the client can fix it.
            out = status
        elif status == 429:
            out = 429  # the client should back off; the upstream's delay is the best hint we have
        elif status in (408, 504):
            out = 504
        else:
            # 401/403 mean the gateway's provider credential is wrong, not the client's key.
            out = 502
        return GatewayError(out, self.code or "upstream_error", self.message, retry_after=self.retry_after)


def openai_error_body(err: GatewayError) -> dict:
    return {"error": {"message": err.message, "type": err.type, "param": err.param, "code": err.code}}


def anthropic_error_body(err: GatewayError) -> dict:
    return {"type": "error", "error": {"type": err.type, "message": err.message}}


def _retry_after_header(seconds: float) -> bytes:
    # Retry-After takes whole seconds; round up so a client never comes back early.
    whole = int(seconds) if seconds == int(seconds) else int(seconds) + 1
    return str(max(whole, 0)).encode()


def render_error(err: GatewayError, fmt: str = "openai") -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, raw ASGI headers, body) for a non-streaming error response."""
    body = anthropic_error_body(err) if fmt == "anthropic" else openai_error_body(err)
    headers = [(b"content-type", b"application/json")]
    if err.retry_after is not None:
        headers.append((b"retry-after", _retry_after_header(err.retry_after)))
    for name, value in err.headers.items():
        headers.append((name.lower().encode("latin-1"), str(value).encode("latin-1")))
    return err.status, headers, json.dumps(body, separators=(",", ":")).encode()


def sse_error_event(err: GatewayError, fmt: str = "openai") -> bytes:
    """An error after the first byte, when the status line is already sent.

    OpenAI's SDK raises on a `data:` object carrying `error`; Anthropic's on an
    `event: error`.
    """
    if fmt == "anthropic":
        payload = json.dumps(anthropic_error_body(err), separators=(",", ":"))
        return b"event: error\ndata: " + payload.encode() + b"\n\n"
    return b"data: " + json.dumps(openai_error_body(err), separators=(",", ":")).encode() + b"\n\n"


# Secrets that provider error bodies are known to echo back: query-string keys
# (Google's `?key=`), OpenAI/Anthropic/OpenRouter `sk-...`, Groq `gsk_...`,
# Google `AIza...`, and bearer tokens.
_SCRUB = re.compile(
    r"(?P<q>\b(?i:key|api[_-]?key|access_token|token|sig|signature)=)[^&\s\"'<>]+"
    r"|\bsk-[A-Za-z0-9_\-*.]{6,}"
    r"|\bgsk_[A-Za-z0-9]{8,}"
    r"|\bAIza[0-9A-Za-z_\-]{10,}"
    r"|(?P<b>\b[Bb]earer\s+)[A-Za-z0-9._\-~+/]+=*"
)
_REDACTED = "[REDACTED]"


def _scrub_match(m: re.Match) -> str:
    return (m.group("q") or m.group("b") or "") + _REDACTED


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove credentials from text that may reach a client or a log."""
    for secret in secrets:
        # Short values would redact ordinary words; real keys are long.
        if secret and len(secret) >= 8 and secret in text:
            text = text.replace(secret, _REDACTED)
    return _SCRUB.sub(_scrub_match, text)

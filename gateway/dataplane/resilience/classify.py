"""What an upstream failure means for the attempt loop.

`retry_kind`: which `retry_on` class a retryable error is in (None: not retryable).
`unhealthy`: does it count against the target's breaker? Connection failures,
timeouts and 5xx do; a 4xx (429 included) proves the target is alive (Envoy's
consecutive_5xx / gateway-failure rules).
`fallback_reason`: a request the target refused for a reason another route may
not share: a context window too small, a content policy.
"""
from __future__ import annotations

import re

from gateway.dataplane.errors import ProviderError

CONTEXT_CODES = frozenset({"context_length_exceeded"})  # OpenAI's code; others say it in words
# OpenAI/vLLM/Mistral "maximum context length", Anthropic "prompt is too long",
# Gemini "exceeds the maximum number of tokens", and the common "context window".
_CONTEXT = re.compile(
    r"context[ _]length|context[ _]window|maximum context|prompt is too long|exceeds the maximum number of tokens",
    re.IGNORECASE,
)
POLICY_CODES = frozenset({"content_filter", "content_policy_violation"})  # OpenAI and Azure OpenAI
_POLICY = re.compile(r"content management policy|content[ _]policy", re.IGNORECASE)


def retry_kind(err: ProviderError) -> str | None:
    if not err.retryable:
        return None
    if err.status == 429:
        return "rate_limit"
    if err.code == "upstream_timeout" or err.status == 408:
        return "timeout"
    if err.code == "upstream_connection_error":
        return "connection"
    return "server_error"


def unhealthy(err: ProviderError) -> bool:
    return err.status >= 500 or (err.retryable and err.status != 429)


def fallback_reason(err: ProviderError) -> str | None:
    if err.retryable or err.status >= 500:
        return None
    code = (err.code or "").lower()
    if code in CONTEXT_CODES or _CONTEXT.search(err.message):
        return "context_window"
    if code in POLICY_CODES or _POLICY.search(err.message):
        return "content_policy"
    return None

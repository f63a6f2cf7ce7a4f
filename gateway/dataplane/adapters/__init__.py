"""Provider adapters, registered by provider kind in a read-only registry.

Adapters are stateless, so one instance per kind serves every request. The
call step uses them like this:

* `adapter.local` (the mock): `await adapter.complete(canonical, target)` or
  `async for chunk in adapter.stream(canonical, target)`; no HTTP.
* ingress format == `adapter.wire`: `passthrough_request(raw_body, target, ...)`,
  forward the response bytes as they come, and read usage with
  `passthrough_usage(body)` (`passthrough_usage_of(parsed)` when the caller parsed it anyway) or a
  `usage_tap()` fed the same stream bytes.
* otherwise: `build_request(canonical, target, stream=..., endpoint=...)`, then
  `parse_response(status, body)` or a `stream_parser()` fed the upstream bytes,
  which yields canonical chunks ending with one usage chunk; `usage(last)`.
  Drop that chunk with `canonical.strip_usage` unless
  `canonical.client_wants_usage(request)`.
* a non-2xx upstream: `classify_error(status, body, headers, secrets=(api_key,))`.

Stream parsers raise only `ProviderError`; ingress converters only `GatewayError`.
"""
from __future__ import annotations

from types import MappingProxyType

from ..errors import GatewayError
from .anthropic import AnthropicAdapter
from .base import Adapter
from .gemini import GeminiAdapter
from .mock import MockAdapter
from .openai import PRESETS, AzureOpenAIAdapter, OpenAIAdapter

__all__ = ["ADAPTERS", "Adapter", "get_adapter"]


def _build() -> dict[str, Adapter]:
    registry: dict[str, Adapter] = {
        kind: OpenAIAdapter(kind, base_url, stream_options) for kind, (base_url, stream_options) in PRESETS.items()
    }
    registry["azure_openai"] = AzureOpenAIAdapter()
    registry["anthropic"] = AnthropicAdapter()
    registry["gemini"] = GeminiAdapter()
    registry["mock"] = MockAdapter()
    return registry


ADAPTERS = MappingProxyType(_build())


def get_adapter(kind: str) -> Adapter:
    try:
        return ADAPTERS[kind]
    except KeyError:
        # A snapshot naming an unknown kind is a configuration fault, not the client's.
        raise GatewayError(500, "unknown_provider", f"no adapter for provider kind {kind!r}") from None

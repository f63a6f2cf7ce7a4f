"""OpenAI wire protocol: OpenAI and the many providers that copy it.

The canonical format *is* this wire format, so requests are the client's dict
with `model` set and, for streams, `stream_options.include_usage` forced on (so
usage can always be recorded). Presets differ only in default base URL, auth
header and a few quirks.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import quote

from ..canonical import Target, UpstreamRequest, Usage, dumps, usage_chunk, usage_from_dict
from ..errors import ProviderError
from ..sse import SSEEvent
from .base import MALFORMED, Adapter, SSEStreamParser, UsageTap, error_details, malformed

__all__ = ["PRESETS", "AzureOpenAIAdapter", "OpenAIAdapter", "OpenAIStreamParser"]

_PATHS = {"chat": "/chat/completions", "embeddings": "/embeddings"}
_INCLUDE_USAGE = {"include_usage": True}


class OpenAIAdapter(Adapter):
    wire = "openai"
    auth_header = "authorization"
    # Mistral rejects unknown fields (`stream_options` among them) and sends usage anyway.
    send_stream_options = True

    def __init__(self, kind: str = "openai", default_base_url: str = "https://api.openai.com/v1",
                 send_stream_options: bool = True) -> None:
        self.kind = kind
        self.default_base_url = default_base_url
        self.send_stream_options = send_stream_options

    def url(self, target: Target, endpoint: str, stream: bool) -> str:
        base = (target.base_url or self.default_base_url).rstrip("/")
        return base + _PATHS[endpoint]

    def headers(self, target: Target, client_headers: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"content-type": "application/json", **target.headers}
        if target.api_key:
            headers[self.auth_header] = self.auth_value(target.api_key)
        return headers

    def auth_value(self, api_key: str) -> str:
        return "Bearer " + api_key

    def build_request(self, canonical: dict, target: Target, *, stream: bool = False, endpoint: str = "chat",
                      client_headers: Mapping[str, str] | None = None) -> UpstreamRequest:
        # A shallow copy: the client's dict stays as it was, so retries rebuild the same body.
        body = {**canonical}
        if target.model:
            body["model"] = target.model
        if endpoint == "chat":
            if stream:
                body["stream"] = True
                if self.send_stream_options:
                    opts = canonical.get("stream_options")
                    body["stream_options"] = {**opts, **_INCLUDE_USAGE} if isinstance(opts, dict) else _INCLUDE_USAGE
            else:
                body.pop("stream", None)
                body.pop("stream_options", None)  # OpenAI rejects stream_options without stream
        url = self.url(target, endpoint, stream)
        return UpstreamRequest("POST", url, self.headers(target, client_headers), dumps(body), stream)

    def passthrough_additions(self, stream: bool, endpoint: str) -> dict | None:
        if stream and endpoint == "chat" and self.send_stream_options:
            # Only when absent: a client's own stream_options is left exactly as sent.
            return {"stream_options": _INCLUDE_USAGE}
        return None

    def parse_response(self, status: int, body: bytes, *, endpoint: str = "chat") -> dict:
        if status >= 400:
            raise self.classify_error(status, body)
        try:
            obj = json.loads(body)
        except MALFORMED:
            raise malformed() from None
        if not isinstance(obj, dict):
            raise malformed()
        _groq_usage(obj)
        return obj

    def stream_parser(self) -> OpenAIStreamParser:
        return OpenAIStreamParser()

    def usage_tap(self) -> UsageTap:
        return OpenAIUsageTap()


class AzureOpenAIAdapter(OpenAIAdapter):
    """`{base}/openai/deployments/{deployment}/...?api-version=` with an `api-key` header."""

    auth_header = "api-key"
    # The GA version that accepts stream_options.include_usage.
    default_api_version = "2024-10-21"

    def __init__(self) -> None:
        super().__init__("azure_openai", "")

    def auth_value(self, api_key: str) -> str:
        return api_key

    def url(self, target: Target, endpoint: str, stream: bool) -> str:
        deployments = target.options.get("deployments") or {}
        deployment = deployments.get(target.model, target.model)
        version = target.options.get("api_version") or self.default_api_version
        base = target.base_url.rstrip("/")
        return f"{base}/openai/deployments/{quote(deployment, safe='')}{_PATHS[endpoint]}?api-version={quote(version)}"


def _groq_usage(obj: dict) -> None:
    # Groq's streams carry usage under `x_groq` on the last chunk instead of `usage`.
    extra = obj.get("x_groq")
    if obj.get("usage") is None and isinstance(extra, dict) and isinstance(extra.get("usage"), dict):
        obj["usage"] = extra["usage"]


class OpenAIStreamParser(SSEStreamParser):
    """Chunks pass through as parsed; usage is normalized to one trailing usage chunk.

    Some providers put usage on the last content chunk (Together, Groq) and OpenAI
    sends `"usage": null` on every chunk once include_usage is on. Normalizing lets
    the proxy drop exactly one chunk for clients that did not ask for usage.
    """

    def __init__(self) -> None:
        super().__init__()
        self._done = False
        self._usage: dict | None = None  # the latest seen: some servers send running totals on every chunk
        self._ids: tuple = ("", "", 0)

    def on_event(self, ev: SSEEvent, out: list[dict]) -> None:
        data = ev.data
        if self._done or not data:
            return
        if data == "[DONE]":
            self._done = True
            self._flush_usage(out)
            return
        obj = json.loads(data)
        if not isinstance(obj, dict):
            raise malformed("upstream stream event")
        if "error" in obj and "choices" not in obj:
            raise self._error(data)
        _groq_usage(obj)
        usage = obj.pop("usage", None)
        if isinstance(usage, dict):
            self._usage = usage
            self._ids = (obj.get("id", ""), obj.get("model", ""), obj.get("created", 0))
        if obj.get("choices") or usage is None:
            out.append(obj)

    def on_close(self, out: list[dict]) -> None:
        self._flush_usage(out)

    def _flush_usage(self, out: list[dict]) -> None:
        if self._usage is None:
            return
        last = usage_chunk(*self._ids, usage_from_dict(self._usage) or Usage())
        last["usage"] = self._usage  # keep provider extras (e.g. OpenRouter's cost) as sent
        self._usage = None
        out.append(last)

    def _error(self, data: str) -> ProviderError:
        message, code, err = error_details(data.encode())
        status = err.get("code") if isinstance(err, dict) else None
        # Mid-stream errors carry no HTTP status; a numeric `code` (OpenRouter) is one.
        status = status if isinstance(status, int) and 400 <= status <= 599 else 502
        return ProviderError(status, message or "upstream stream error", retryable=status >= 500 or status == 429,
                             code=code or "upstream_stream_error")


class OpenAIUsageTap(UsageTap):
    def _read(self, ev: SSEEvent) -> None:
        data = ev.data
        # Substring test first: only the last chunk is worth a JSON parse.
        if '"prompt_tokens"' in data:
            obj = json.loads(data)
            _groq_usage(obj)
            self.usage = usage_from_dict(obj.get("usage")) or self.usage


# kind -> (default base URL, sends stream_options). Local servers default to their usual ports.
PRESETS = {
    "openai": ("https://api.openai.com/v1", True),
    "mistral": ("https://api.mistral.ai/v1", False),
    "groq": ("https://api.groq.com/openai/v1", True),
    "deepseek": ("https://api.deepseek.com/v1", True),
    "together": ("https://api.together.xyz/v1", True),
    "openrouter": ("https://openrouter.ai/api/v1", True),
    "vllm": ("http://localhost:8000/v1", True),
    "ollama": ("http://localhost:11434/v1", True),
    "openai_compatible": ("", True),
}

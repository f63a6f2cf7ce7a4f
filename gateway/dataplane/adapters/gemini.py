"""Google Gemini API adapter (generateContent, streamGenerateContent, batchEmbedContents).

The API key goes in the `x-goog-api-key` header, never in a `?key=` query: URLs
end up in access logs, proxies' logs and error messages.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from ..canonical import Target, UpstreamRequest, dumps
from ..errors import GatewayError, ProviderError, scrub
from .base import MALFORMED, Adapter, classify, error_details, join_url, malformed, parse_retry_after
from .gemini_request import model_path, to_gemini, to_gemini_embeddings
from .gemini_response import GeminiStreamParser, from_gemini, from_gemini_embeddings

__all__ = ["GeminiAdapter"]

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")  # google.protobuf.Duration in JSON, e.g. "38s"


class GeminiAdapter(Adapter):
    kind = "gemini"
    wire = "gemini"
    default_base_url = "https://generativelanguage.googleapis.com"

    def url(self, target: Target, endpoint: str, stream: bool) -> str:
        method = "batchEmbedContents" if endpoint == "embeddings" else (
            "streamGenerateContent?alt=sse" if stream else "generateContent")
        path = quote(model_path(target.model), safe="/")
        return join_url(target.base_url or self.default_base_url, "v1beta", f"/{path}:{method}")

    def headers(self, target: Target, client_headers: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"content-type": "application/json", **target.headers}
        if target.api_key:
            headers["x-goog-api-key"] = target.api_key
        return headers

    def build_request(self, canonical: dict, target: Target, *, stream: bool = False, endpoint: str = "chat",
                      client_headers: Mapping[str, str] | None = None) -> UpstreamRequest:
        if not target.model:
            # Gemini names the model in the URL path, so it cannot be left to the body.
            target = replace(target, model=canonical.get("model") or "")
        if endpoint == "embeddings":
            body = to_gemini_embeddings(canonical, target.model)
        else:
            body = to_gemini(canonical)
        url = self.url(target, endpoint, stream)
        return UpstreamRequest("POST", url, self.headers(target, client_headers), dumps(body), stream)

    def passthrough_request(self, raw_body: bytes, target: Target, **kwargs: Any) -> UpstreamRequest:
        raise GatewayError(400, "unsupported_endpoint", "there is no Gemini-format ingress to pass through")

    def parse_response(self, status: int, body: bytes, *, endpoint: str = "chat") -> dict:
        if status >= 400:
            raise self.classify_error(status, body)
        try:
            obj = json.loads(body)
            return from_gemini_embeddings(obj) if endpoint == "embeddings" else from_gemini(obj)
        except MALFORMED:
            raise malformed() from None

    def stream_parser(self) -> GeminiStreamParser:
        return GeminiStreamParser()

    def passthrough_usage_of(self, obj) -> None:
        return None

    def classify_error(self, status: int, body: bytes, headers: Any = None, *, secrets=()) -> ProviderError:
        message, code, err = error_details(body)
        retry_after = parse_retry_after(headers)
        if retry_after is None and isinstance(err, dict):
            retry_after = _retry_delay(err.get("details"))
        return classify(status, scrub(message, secrets) or f"upstream returned HTTP {status}", code, retry_after)


def _retry_delay(details: object) -> float | None:
    """Gemini's 429s say when to come back in a google.rpc.RetryInfo detail."""
    for detail in details if isinstance(details, list) else ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None

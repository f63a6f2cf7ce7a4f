"""Anthropic Messages API adapter (`POST /v1/messages`, `x-api-key`)."""
from __future__ import annotations

import json
from collections.abc import Mapping

from ..canonical import Target, UpstreamRequest, Usage, dumps
from ..errors import GatewayError
from .anthropic_request import to_anthropic
from .anthropic_response import AnthropicStreamParser, AnthropicUsageTap, anthropic_usage, from_anthropic
from .base import MALFORMED, Adapter, header_value, join_url, malformed

__all__ = ["AnthropicAdapter"]

# The version every current Messages feature is documented against; a target may pin another.
DEFAULT_VERSION = "2023-06-01"


class AnthropicAdapter(Adapter):
    kind = "anthropic"
    wire = "anthropic"
    default_base_url = "https://api.anthropic.com"

    def url(self, target: Target, endpoint: str, stream: bool) -> str:
        if endpoint != "chat":
            raise GatewayError(400, "unsupported_endpoint", "Anthropic has no embeddings API", param="model")
        return join_url(target.base_url or self.default_base_url, "v1", "/messages")

    def headers(self, target: Target, client_headers: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "anthropic-version": target.options.get("anthropic_version") or DEFAULT_VERSION,
            **target.headers,
        }
        if target.api_key:
            headers["x-api-key"] = target.api_key
        betas = [b for b in (target.options.get("anthropic_beta"), header_value(client_headers, "anthropic-beta")) if b]
        if betas:
            headers["anthropic-beta"] = ",".join(betas)
        return headers

    def build_request(self, canonical: dict, target: Target, *, stream: bool = False, endpoint: str = "chat",
                      client_headers: Mapping[str, str] | None = None) -> UpstreamRequest:
        url = self.url(target, endpoint, stream)
        body = to_anthropic(canonical, target.model, stream)
        return UpstreamRequest("POST", url, self.headers(target, client_headers), dumps(body), stream)

    def parse_response(self, status: int, body: bytes, *, endpoint: str = "chat") -> dict:
        if status >= 400:
            raise self.classify_error(status, body)
        try:
            return from_anthropic(json.loads(body))
        except MALFORMED:
            raise malformed() from None

    def stream_parser(self) -> AnthropicStreamParser:
        return AnthropicStreamParser()

    def usage_tap(self) -> AnthropicUsageTap:
        return AnthropicUsageTap()

    def passthrough_usage_of(self, obj) -> Usage | None:
        try:
            return anthropic_usage(obj.get("usage"))
        except MALFORMED:
            return None
